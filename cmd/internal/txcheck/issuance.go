package txcheck

import (
	"context"
	"database/sql"
	"encoding/json"
	"fmt"
	"time"

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
	// Unsettled: reservations made before the judgement's settlement
	// time with neither a certificate nor a settlement (a crash the
	// PKI's upkeep should have settled by then). Contradicted:
	// certificates whose serial is marked abandoned or has an abandoned
	// event (the log would deny a certificate that exists). Mismarked:
	// an abandoned event whose serial is not marked abandoned, or a
	// serial marked abandoned with no abandoned or error event after its
	// intent.
	Unsettled, Contradicted, Mismarked int
	// Certificates counts the certificates; Orphans the intents with
	// neither a certificate nor an outcome (ok, error, abandoned): what
	// a crash between the reservation's commit and the signature leaves
	// until the upkeep settles it; Abandoned the intents settled so.
	Certificates, Orphans, Abandoned int
}

// Violations is the number of violations counted.
func (c Issuance) Violations() int {
	return c.Unreserved + c.Unaudited + c.Doubles + c.Split + c.Unsettled + c.Contradicted + c.Mismarked
}

// String is the violations, then "|", then what was seen.
func (c Issuance) String() string {
	return fmt.Sprintf("%d %d %d %d %d %d %d | %d %d %d", c.Unreserved, c.Unaudited, c.Doubles, c.Split,
		c.Unsettled, c.Contradicted, c.Mismarked, c.Certificates, c.Orphans, c.Abandoned)
}

// IssuanceColumns names String's columns.
const IssuanceColumns = "unreserved unaudited doubles split unsettled contradicted mismarked | certificates orphans abandoned"

// JudgeIssuance judges every certificate and cert.issue event in db
// against the serials reserved. A reservation made before settled that
// is still open (no certificate, not settled) is a violation; the zero
// time requires no settlement.
func JudgeIssuance(ctx context.Context, db *sql.DB, settled time.Time) (Issuance, error) {
	var c Issuance
	key := func(issuer string, serial []byte) string { return issuer + "/" + display.FormatSerial(serial) }
	type reservation struct {
		status string
		at     time.Time
	}
	reserved := map[string]reservation{}
	if err := each(ctx, db, `SELECT issuer, serial, status, reserved_at FROM serials`, func(rows *sql.Rows) error {
		var issuer, status string
		var serial []byte
		var at any
		if err := rows.Scan(&issuer, &serial, &status, &at); err != nil {
			return err
		}
		r := reservation{status: status}
		switch v := at.(type) {
		case int64: // SQLite: microseconds
			r.at = time.UnixMicro(v)
		case time.Time:
			r.at = v
		default:
			return fmt.Errorf("txcheck: a reservation's time is %T", at)
		}
		reserved[key(issuer, serial)] = r
		return nil
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
	// whether an ok, an error or an abandoned came after it.
	type events struct{ intent, ok, errored, abandoned bool }
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
			e.errored = e.errored || e.intent
		case "abandoned":
			e.abandoned = true
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
		r, ok := reserved[k]
		if !ok {
			c.Unreserved++
		}
		e := byKey[k]
		if e == nil || !e.ok {
			c.Unaudited++
		}
		if r.status == "abandoned" || (e != nil && e.abandoned) {
			c.Contradicted++
		}
	}
	for k, r := range reserved {
		e := byKey[k]
		switch {
		case r.status == "reserved" && certs[k] == 0 && r.at.Before(settled):
			c.Unsettled++
		case r.status == "abandoned" && (e == nil || !e.intent || (!e.abandoned && !e.errored)):
			c.Mismarked++
		}
	}
	for k, e := range byKey {
		if e.abandoned && reserved[k].status != "abandoned" {
			c.Mismarked++
		}
		if !e.intent {
			continue
		}
		if _, ok := reserved[k]; !ok {
			c.Split++
		}
		switch {
		case certs[k] > 0 || e.ok || e.errored:
		case e.abandoned:
			c.Abandoned++
		default:
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
