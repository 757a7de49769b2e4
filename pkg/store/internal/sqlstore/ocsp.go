package sqlstore

import (
	"context"
	"database/sql"
	"fmt"
	"strings"
	"time"

	"github.com/kyso-pki/kyso/pkg/store"
	"github.com/kyso-pki/kyso/pkg/store/internal/check"
)

// MaxOCSPBatch bounds the answers one PutOCSPAnswers stores and the rows
// one OCSPUnanswered or OCSPStale returns.
const MaxOCSPBatch = 2000

// ocspDueColumns are what a pass needs to sign a certificate's answer:
// its status, the revocation's reason and time, its status version.
const ocspDueColumns = `c.serial, c.status, r.reason, r.revoked_at, c.ocsp_version`

// QueryOCSPUnanswered walks the certificates in insertion order
// (certificates' UNIQUE id, SQLite's rowid) from a cursor, each of the
// issuer's probed for an answer by ocsp_answers' key and joined to its
// revocation by key. The issuer is compared as an expression (joined to an empty string) so
// that SQLite, planning without statistics, does not take the issuer's
// index and sort all its certificates: nearly every certificate is the
// issuing CA's anyway.
const QueryOCSPUnanswered = `SELECT c.id, ` + ocspDueColumns + ` FROM certificates c
	LEFT JOIN revocations r ON r.issuer = c.issuer AND r.serial = c.serial
	WHERE c.id > $2 AND c.issuer || '' = $1 AND c.not_after > $3
	AND NOT EXISTS (SELECT 1 FROM ocsp_answers a WHERE a.issuer = c.issuer AND a.serial = c.serial)
	ORDER BY c.id LIMIT $4`

// QueryOCSPStale reads the due answers on ocsp_answers_due (issuer,
// refresh_at, serial) from a cursor, each joined to its certificate and
// revocation by key.
const QueryOCSPStale = `SELECT a.refresh_at, ` + ocspDueColumns + ` FROM ocsp_answers a
	JOIN certificates c ON c.issuer = a.issuer AND c.serial = a.serial
	LEFT JOIN revocations r ON r.issuer = a.issuer AND r.serial = a.serial
	WHERE a.issuer = $1 AND a.refresh_at <= $2 AND (a.refresh_at, a.serial) > ($3, $4) AND c.not_after > $5
	ORDER BY a.refresh_at, a.serial LIMIT $6`

// QueryOCSPAnswer reads a stored answer by ocsp_answers' key, with its
// certificate and revocation by theirs: only an answer signed for the
// certificate's current status version is returned.
const QueryOCSPAnswer = `SELECT a.der, a.status, r.reason, r.revoked_at, a.version, a.responder,
	a.this_update, a.next_update, a.refresh_at FROM ocsp_answers a
	JOIN certificates c ON c.issuer = a.issuer AND c.serial = a.serial AND c.ocsp_version = a.version
	LEFT JOIN revocations r ON r.issuer = a.issuer AND r.serial = a.serial
	WHERE a.issuer = $1 AND a.serial = $2`

// OCSPUnanswered implements store.OCSPAnswers.
func (s *Store) OCSPUnanswered(ctx context.Context, issuer string, now time.Time, after int64, limit int) ([]*store.OCSPDue, error) {
	if err := checkOCSPRead(issuer, limit); err != nil {
		return nil, s.invalid("listing certificates without an OCSP answer", err)
	}
	rows, err := s.r.Query(ctx, QueryOCSPUnanswered, issuer, after, s.time(now), limit)
	out, err := collect(rows, err, func(row Row) (*store.OCSPDue, error) {
		d := &store.OCSPDue{}
		var reason sql.NullInt64
		err := row.Scan(&d.ID, &d.Serial, &d.Status, &reason, Time{&d.RevokedAt}, &d.Version)
		d.Reason = int(reason.Int64)
		return d, err
	})
	if err != nil {
		return nil, s.fail(fmt.Sprintf("listing %q's certificates without an OCSP answer", issuer), err)
	}
	return out, nil
}

// OCSPStale implements store.OCSPAnswers.
func (s *Store) OCSPStale(ctx context.Context, issuer string, now, due, afterAt time.Time, afterSerial []byte, limit int) ([]*store.OCSPDue, error) {
	if err := checkOCSPRead(issuer, limit); err != nil {
		return nil, s.invalid("listing due OCSP answers", err)
	}
	if afterSerial == nil {
		afterSerial = []byte{}
	}
	rows, err := s.r.Query(ctx, QueryOCSPStale, issuer, s.time(due), s.time(afterAt), afterSerial, s.time(now), limit)
	out, err := collect(rows, err, func(row Row) (*store.OCSPDue, error) {
		d := &store.OCSPDue{}
		var reason sql.NullInt64
		err := row.Scan(Time{&d.RefreshAt}, &d.Serial, &d.Status, &reason, Time{&d.RevokedAt}, &d.Version)
		d.Reason = int(reason.Int64)
		return d, err
	})
	if err != nil {
		return nil, s.fail(fmt.Sprintf("listing %q's due OCSP answers", issuer), err)
	}
	return out, nil
}

// checkOCSPRead checks a pass's read.
func checkOCSPRead(issuer string, limit int) error {
	if err := check.String("issuer", issuer, check.MaxName, true); err != nil {
		return err
	}
	if limit < 1 || limit > MaxOCSPBatch {
		return check.Invalid("a batch of 1 to %d rows is required", MaxOCSPBatch)
	}
	return nil
}

// maxOCSPAnswer bounds a stored answer's DER: a response for one
// certificate, without the responder's certificate, is a few hundred
// octets even with an RSA-4096 signature.
const maxOCSPAnswer = 4096

// PutOCSPAnswers implements store.OCSPAnswers: in one transaction it
// locks the answers' certificates (FOR UPDATE where writers run side by
// side: a Revoke waits, or is waited for) and reads their status
// versions, then upserts in one statement those still current, never
// over an answer signed for a newer version.
func (s *Store) PutOCSPAnswers(ctx context.Context, issuer string, answers []*store.OCSPAnswer) (int, error) {
	if err := checkOCSPAnswers(issuer, answers); err != nil {
		return 0, s.invalid("storing OCSP answers", err)
	}
	if len(answers) == 0 {
		return 0, nil
	}
	var stored int
	err := s.write(ctx, fmt.Sprintf("storing %d OCSP answers of %q", len(answers), issuer), false, func(tx Conn) error {
		stored = 0
		args := make([]any, 0, len(answers)+1)
		args = append(args, issuer)
		var q strings.Builder
		q.WriteString(`SELECT serial, ocsp_version FROM certificates WHERE issuer = $1 AND serial IN (`)
		for i, a := range answers {
			if i > 0 {
				q.WriteString(", ")
			}
			fmt.Fprintf(&q, "$%d", i+2)
			args = append(args, a.Serial)
		}
		q.WriteString(")" + s.lock(""))
		rows, err := tx.Query(ctx, q.String(), args...)
		if err != nil {
			return err
		}
		current := make(map[string]int64, len(answers))
		for rows.Next() {
			var serial []byte
			var v int64
			if err := rows.Scan(&serial, &v); err != nil {
				rows.Close()
				return err
			}
			current[string(serial)] = v
		}
		rows.Close()
		if err := rows.Err(); err != nil {
			return err
		}
		q.Reset()
		q.WriteString(`INSERT INTO ocsp_answers (issuer, serial, der, status, version, responder, this_update, next_update, refresh_at) VALUES `)
		args = args[:0]
		for _, a := range answers {
			if v, ok := current[string(a.Serial)]; !ok || v != a.Version {
				continue // changed since it was signed: the pass finds it again
			}
			if stored > 0 {
				q.WriteString(", ")
			}
			n := len(args)
			fmt.Fprintf(&q, "($%d, $%d, $%d, $%d, $%d, $%d, $%d, $%d, $%d)", n+1, n+2, n+3, n+4, n+5, n+6, n+7, n+8, n+9)
			args = append(args, issuer, a.Serial, a.DER, a.Status, a.Version, a.Responder,
				s.time(a.ThisUpdate), s.time(a.NextUpdate), s.time(a.RefreshAt))
			stored++
		}
		if stored == 0 {
			return nil
		}
		q.WriteString(` ON CONFLICT (issuer, serial) DO UPDATE SET der = excluded.der, status = excluded.status,
			version = excluded.version, responder = excluded.responder, this_update = excluded.this_update,
			next_update = excluded.next_update, refresh_at = excluded.refresh_at
			WHERE ocsp_answers.version <= excluded.version`)
		_, err = tx.Exec(ctx, q.String(), args...)
		return err
	})
	return stored, err
}

// checkOCSPAnswers checks a batch of answers.
func checkOCSPAnswers(issuer string, answers []*store.OCSPAnswer) error {
	if err := check.String("issuer", issuer, check.MaxName, true); err != nil {
		return err
	}
	if len(answers) > MaxOCSPBatch {
		return check.Invalid("at most %d answers at once", MaxOCSPBatch)
	}
	seen := make(map[string]bool, len(answers))
	for _, a := range answers {
		if err := check.Serial(a.Serial); err != nil {
			return err
		}
		if seen[string(a.Serial)] {
			return check.Invalid("serial %x twice in one batch", a.Serial)
		}
		seen[string(a.Serial)] = true
		switch {
		case a.Issuer != "" && a.Issuer != issuer:
			return check.Invalid("an answer of another issuer in the batch")
		case len(a.DER) == 0 || len(a.DER) > maxOCSPAnswer:
			return check.Invalid("an answer of 1 to %d octets is required", maxOCSPAnswer)
		case a.Status != store.StatusGood && a.Status != store.StatusRevoked && a.Status != store.StatusHold:
			return check.Invalid("status %q is not good, revoked or hold", a.Status)
		case len(a.Responder) != 32:
			return check.Invalid("the responder is named by its certificate's SHA-256")
		case a.ThisUpdate.IsZero() || !a.NextUpdate.After(a.ThisUpdate) || a.RefreshAt.Before(a.ThisUpdate) || a.RefreshAt.After(a.NextUpdate):
			return check.Invalid("thisUpdate ≤ refresh < nextUpdate is required")
		}
	}
	return nil
}

// GetOCSPAnswer implements store.OCSPAnswers.
func (s *Store) GetOCSPAnswer(ctx context.Context, issuer string, serial []byte) (*store.OCSPAnswer, error) {
	if err := checkCert(issuer, serial); err != nil {
		return nil, s.invalid("reading an OCSP answer", err)
	}
	a := &store.OCSPAnswer{Issuer: issuer, Serial: serial}
	var reason sql.NullInt64
	err := s.r.QueryRow(ctx, QueryOCSPAnswer, issuer, serial).Scan(&a.DER, &a.Status, &reason, Time{&a.RevokedAt},
		&a.Version, &a.Responder, Time{&a.ThisUpdate}, Time{&a.NextUpdate}, Time{&a.RefreshAt})
	if err != nil {
		return nil, s.fail(fmt.Sprintf("reading the OCSP answer of %x from %q", serial, issuer), s.notFound(err))
	}
	a.Reason = int(reason.Int64)
	return a, nil
}

// RetireOCSPResponder implements store.OCSPAnswers. It reads the issuer's
// answers whole (once a responder certificate is replaced, yearly or
// at a key's compromise).
func (s *Store) RetireOCSPResponder(ctx context.Context, issuer string, responder []byte) (int64, error) {
	if err := check.String("issuer", issuer, check.MaxName, true); err != nil || len(responder) != 32 {
		return 0, s.invalid("retiring an OCSP responder's answers", check.Invalid("an issuer and a responder certificate's SHA-256 are required"))
	}
	var n int64
	err := s.write(ctx, fmt.Sprintf("retiring %q's OCSP answers of other responders", issuer), true, func(tx Conn) error {
		var err error
		n, err = tx.Exec(ctx, `UPDATE ocsp_answers SET refresh_at = $3 WHERE issuer = $1 AND responder <> $2 AND refresh_at > $3`,
			issuer, responder, s.time(ocspStale))
		return err
	})
	return n, err
}

// ocspStale is the refresh_at of an answer made stale: due at once, first
// in the pass's order.
var ocspStale = time.Unix(0, 0).UTC()

// sqlSetStatus changes a certificate's status. The trigger
// certificates_ocsp_stale (migration 0028) raises its status version
// (ocsp_version) and makes its pre-signed answer due at once, in this
// transaction: an answer for the version before is neither served nor
// stored any more.
const sqlSetStatus = `UPDATE certificates SET status = $1 WHERE issuer = $2 AND serial = $3`
