package txcheck

import (
	"context"
	"database/sql"
	"encoding/json"
	"fmt"

	"github.com/kyso-pki/kyso/pkg/display"
)

// Issuance is what the judgement of issued certificates found:
// violations first, then what happened.
type Issuance struct {
	// Unreserved: certificates whose serial has no reservation.
	// Unaudited: certificates without a cert.issue intent naming their
	// issuer and serial before their ok event, or without the ok.
	// Doubles: a serial certified twice under one issuer. Split: intents
	// whose serial is not reserved (the serial and the intent are one
	// commit, STYLE.md rule 13 as kyso keeps it).
	Unreserved, Unaudited, Doubles, Split int
	// Certificates counts the certificates; Orphans the intents with
	// neither a certificate nor an outcome (ok or error): what a crash
	// between the reservation's commit and the signature leaves, its
	// serial reserved and never issued.
	Certificates, Orphans int
}

// Violations is the number of violations counted.
func (c Issuance) Violations() int { return c.Unreserved + c.Unaudited + c.Doubles + c.Split }

// String is the violations, then "|", then what was seen.
func (c Issuance) String() string {
	return fmt.Sprintf("%d %d %d %d | %d %d", c.Unreserved, c.Unaudited, c.Doubles, c.Split, c.Certificates, c.Orphans)
}

// JudgeIssuance judges every certificate and cert.issue event in db
// against the serials reserved.
func JudgeIssuance(ctx context.Context, db *sql.DB) (Issuance, error) {
	var c Issuance
	key := func(issuer string, serial []byte) string { return issuer + "/" + display.FormatSerial(serial) }
	reserved := map[string]bool{}
	if err := each(ctx, db, `SELECT issuer, serial FROM serials`, func(rows *sql.Rows) error {
		var issuer string
		var serial []byte
		err := rows.Scan(&issuer, &serial)
		reserved[key(issuer, serial)] = true
		return err
	}); err != nil {
		return c, err
	}
	certs := map[string]int{}
	if err := each(ctx, db, `SELECT issuer, serial FROM certificates`, func(rows *sql.Rows) error {
		var issuer string
		var serial []byte
		err := rows.Scan(&issuer, &serial)
		certs[key(issuer, serial)]++
		return err
	}); err != nil {
		return c, err
	}
	// Each serial's events in the log's order: its first intent, and
	// whether an ok or an error came after it.
	type events struct{ intent, ok, errored bool }
	byKey := map[string]*events{}
	if err := each(ctx, db, `SELECT outcome, details FROM audit_events WHERE action = 'cert.issue' ORDER BY id`, func(rows *sql.Rows) error {
		var outcome string
		var details []byte
		if err := rows.Scan(&outcome, &details); err != nil {
			return err
		}
		var d struct{ Issuer, Serial string }
		if err := json.Unmarshal(details, &d); err != nil {
			return fmt.Errorf("txcheck: a cert.issue event's details: %w", err)
		}
		serial, err := display.ParseSerial(d.Serial)
		if err != nil {
			return fmt.Errorf("txcheck: a cert.issue event's serial %q: %w", d.Serial, err)
		}
		k := key(d.Issuer, serial)
		e := byKey[k]
		if e == nil {
			e = &events{}
			byKey[k] = e
		}
		switch outcome {
		case "intent":
			e.intent = true
		case "ok":
			e.ok = e.ok || e.intent
		case "error":
			e.errored = true
		}
		return nil
	}); err != nil {
		return c, err
	}
	for k, n := range certs {
		c.Certificates += n
		if n > 1 {
			c.Doubles += n - 1
		}
		if !reserved[k] {
			c.Unreserved++
		}
		if e := byKey[k]; e == nil || !e.ok {
			c.Unaudited++
		}
	}
	for k, e := range byKey {
		if !e.intent {
			continue
		}
		if !reserved[k] {
			c.Split++
		}
		if certs[k] == 0 && !e.ok && !e.errored {
			c.Orphans++
		}
	}
	return c, nil
}

// each runs q and calls fn on each row.
func each(ctx context.Context, db *sql.DB, q string, fn func(*sql.Rows) error) error {
	rows, err := db.QueryContext(ctx, q)
	if err != nil {
		return fmt.Errorf("txcheck: %s: %w", q, err)
	}
	defer rows.Close()
	for rows.Next() {
		if err := fn(rows); err != nil {
			return err
		}
	}
	return rows.Err()
}
