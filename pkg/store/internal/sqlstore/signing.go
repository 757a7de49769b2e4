package sqlstore

import (
	"context"
	"fmt"
	"sort"
	"strings"
	"time"

	"github.com/kyso-pki/kyso/pkg/store"
	"github.com/kyso-pki/kyso/pkg/store/internal/check"
)

// The conditional writes below (compare and set: SetClientSecretHash,
// UseTOTPStep, TransitionTransaction, UseActivation, FinishWebhook) are one
// statement each. Concurrent callers queue on the row (PostgreSQL) or the
// file (SQLite) and each re-checks the condition against what the one
// before left, so one wins. Only when nothing changed does a read, after
// the write, tell why; what it reads only moves one way (a step up, uses
// down, a status on, a row never deleted), so it cannot mislead.

// PutClient records c; ErrExists when its ID is taken.
func (s *Store) PutClient(ctx context.Context, c *store.Client) error {
	if err := check.Client(c); err != nil {
		return s.invalid("storing client", err)
	}
	return s.write(ctx, fmt.Sprintf("storing client %q", c.ID), true, func(tx Conn) error {
		n, err := tx.Exec(ctx, `INSERT INTO clients (id, name, secret_hash, webhook_url, webhook_secret,
			disabled, created_at, cert_sha256, role, redirect_uris, category, staff_id) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12) ON CONFLICT DO NOTHING`,
			c.ID, c.Name, c.SecretHash, c.WebhookURL, nullBytes(c.WebhookSecret), c.Disabled, s.time(s.clock(c.CreatedAt)),
			nullBytes(c.CertSHA256), role(c.Role), strings.Join(c.RedirectURIs, "\n"), category(c.Category), c.StaffID)
		return inserted(n, err, store.ErrExists)
	})
}

// role stores an empty role as the relying party's.
func role(r string) string {
	if r == "" {
		return store.RoleRelyingParty
	}
	return r
}

// category stores an empty category as commercial: free signing must be
// asked for.
func category(c string) string {
	if c == "" {
		return store.CategoryCommercial
	}
	return c
}

// GetClient returns the client with this ID, or ErrNotFound.
func (s *Store) GetClient(ctx context.Context, id string) (*store.Client, error) {
	return s.getClient(ctx, "id", id)
}

// GetClientByCert returns the client bound to this certificate
// fingerprint, through the unique index on cert_sha256.
func (s *Store) GetClientByCert(ctx context.Context, certSHA256 []byte) (*store.Client, error) {
	if len(certSHA256) != 32 {
		return nil, fmt.Errorf("%s: reading client by certificate: %w: a SHA-256 has 32 bytes", s.d.Name, store.ErrInvalid)
	}
	return s.getClient(ctx, "cert_sha256", certSHA256)
}

func (s *Store) getClient(ctx context.Context, col string, v any) (*store.Client, error) {
	c := &store.Client{}
	var uris string
	err := s.r.QueryRow(ctx, `SELECT id, name, secret_hash, webhook_url, webhook_secret, disabled, created_at, cert_sha256, role,
		redirect_uris, category, staff_id FROM clients WHERE `+col+` = $1`, v).Scan(&c.ID, &c.Name, &c.SecretHash, &c.WebhookURL, &c.WebhookSecret, &c.Disabled,
		Time{&c.CreatedAt}, &c.CertSHA256, &c.Role, &uris, &c.Category, &c.StaffID)
	if err != nil {
		return nil, s.fail("reading client by "+col, s.notFound(err))
	}
	if uris != "" {
		c.RedirectURIs = strings.Split(uris, "\n")
	}
	return c, nil
}

// SetClientSecretHash replaces the client's secret hash by newHash if it
// is still oldHash, in one conditional UPDATE.
func (s *Store) SetClientSecretHash(ctx context.Context, id, oldHash, newHash string) error {
	if err := check.ID("client ID", id); err != nil {
		return s.invalid("setting client secret hash", err)
	}
	if err := check.String("client secret hash", newHash, check.MaxPHC, true); err != nil {
		return s.invalid("setting client secret hash", err)
	}
	return s.writeIf(ctx, fmt.Sprintf("setting the secret hash of client %q", id), "clients", id, store.ErrConflict,
		`UPDATE clients SET secret_hash = $1 WHERE id = $2 AND secret_hash = $3`, newHash, id, oldHash)
}

// SetClientCategory moves the client to category, in one conditional
// UPDATE.
func (s *Store) SetClientCategory(ctx context.Context, id, cat string) error {
	if err := check.ID("client ID", id); err != nil {
		return s.invalid("setting client category", err)
	}
	if cat != store.CategoryPublicService && cat != store.CategoryCommercial {
		return s.invalid("setting client category", fmt.Errorf("category %q is not %s or %s", cat, store.CategoryPublicService, store.CategoryCommercial))
	}
	return s.writeIf(ctx, fmt.Sprintf("setting the category of client %q", id), "clients", id, store.ErrConflict,
		`UPDATE clients SET category = $1 WHERE id = $2 AND category <> $1`, cat, id)
}

// writeIf runs a conditional UPDATE of the row of table with this id
// (compare and set); when it changes nothing, it gives ErrNotFound if there
// is no such row and refused if there is.
func (s *Store) writeIf(ctx context.Context, what, table string, id any, refused error, q string, args ...any) error {
	var n int64
	err := s.write(ctx, what, true, func(c Conn) (err error) {
		n, err = c.Exec(ctx, q, args...)
		return err
	})
	if err != nil || n > 0 {
		return err
	}
	var exists bool
	err = s.r.QueryRow(ctx, `SELECT EXISTS (SELECT 1 FROM `+table+` WHERE id = $1)`, id).Scan(&exists)
	switch {
	case err != nil:
	case exists:
		err = refused
	default:
		err = store.ErrNotFound
	}
	return s.fail(what, err)
}

// errOwnerTaken: an owner has the ID or the national ID already.
var errOwnerTaken = fmt.Errorf("owner ID or national ID taken: %w", store.ErrExists)

const ownerColumns = `id, national_id, name, province, phone, email, pin_hash, pin_failures, locked_until,
	totp_secret, totp_last_step, created_at`

func scanOwner(row Row) (*store.Owner, error) {
	o := &store.Owner{}
	return o, row.Scan(&o.ID, &o.NationalID, &o.Name, &o.Province, &o.Phone, &o.Email, &o.PINHash, &o.PINFailures,
		Time{&o.LockedUntil}, &o.TOTPSecret, &o.TOTPLastStep, Time{&o.CreatedAt})
}

// PutOwner records o; ErrExists when its ID or national ID is taken.
func (s *Store) PutOwner(ctx context.Context, o *store.Owner) error {
	if err := check.Owner(o); err != nil {
		return s.invalid("storing owner", err)
	}
	return s.write(ctx, fmt.Sprintf("storing owner %q", o.ID), true, func(c Conn) error { return s.insertOwner(ctx, c, o) })
}

func (s *Store) insertOwner(ctx context.Context, c Conn, o *store.Owner) error {
	n, err := c.Exec(ctx, `INSERT INTO owners (`+ownerColumns+`)
		VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12) ON CONFLICT DO NOTHING`,
		o.ID, o.NationalID, o.Name, o.Province, o.Phone, o.Email, o.PINHash, o.PINFailures, s.nullTime(o.LockedUntil),
		nullBytes(o.TOTPSecret), o.TOTPLastStep, s.time(s.clock(o.CreatedAt)))
	return inserted(n, err, errOwnerTaken)
}

// PutEnrolment records a new owner with its first credential and the
// audit events of the enrolment in one write: an enrolment is recorded
// whole or not at all. ErrExists as PutOwner and PutCredential say.
func (s *Store) PutEnrolment(ctx context.Context, o *store.Owner, cred *store.Credential, rec *store.EnrolmentRecord, audit ...*store.AuditEvent) error {
	if err := s.checkEnrolment(o, cred, rec); err != nil {
		return err
	}
	return s.writeAudited(ctx, fmt.Sprintf("storing the enrolment of owner %q", o.ID), audit, func(c Conn) error {
		if err := s.insertOwner(ctx, c, o); err != nil {
			return err
		}
		return s.insertEnrolled(ctx, c, cred, rec)
	})
}

// PutReEnrolment records the enrolment of an owner enrolled before: o's
// details and factors replace the stored ones (name, province, phone,
// email, PIN hash and TOTP secret; failures, lock and the last TOTP step
// start again), the owner's sessions end (their access tokens are
// deleted, and those of portals acting for them by their consent), and
// the credential, its record and the audit events are
// added — in one write. ErrNotFound when no owner has o's ID and
// national ID.
func (s *Store) PutReEnrolment(ctx context.Context, o *store.Owner, cred *store.Credential, rec *store.EnrolmentRecord, audit ...*store.AuditEvent) error {
	if err := s.checkEnrolment(o, cred, rec); err != nil {
		return err
	}
	return s.writeAudited(ctx, fmt.Sprintf("storing the re-enrolment of owner %q", o.ID), audit, func(c Conn) error {
		n, err := c.Exec(ctx, `UPDATE owners SET name = $3, province = $4, phone = $5, email = $6, pin_hash = $7,
			pin_failures = 0, locked_until = NULL, totp_secret = $8, totp_last_step = 0 WHERE id = $1 AND national_id = $2`,
			o.ID, o.NationalID, o.Name, o.Province, o.Phone, o.Email, o.PINHash, nullBytes(o.TOTPSecret))
		if err != nil {
			return err
		}
		if n == 0 {
			return fmt.Errorf("no owner %q with national ID %q: %w", o.ID, o.NationalID, store.ErrNotFound)
		}
		if _, err := c.Exec(ctx, `DELETE FROM tokens WHERE (kind = 'owner' AND subject = $1) OR owner_id = $1`, o.ID); err != nil {
			return err
		}
		return s.insertEnrolled(ctx, c, cred, rec)
	})
}

// checkEnrolment checks what PutEnrolment and PutReEnrolment record.
func (s *Store) checkEnrolment(o *store.Owner, cred *store.Credential, rec *store.EnrolmentRecord) error {
	if err := check.Owner(o); err != nil {
		return s.invalid("storing owner", err)
	}
	if err := check.Credential(cred); err != nil {
		return s.invalid("storing credential", err)
	}
	if err := check.EnrolmentRecord(rec); err != nil {
		return s.invalid("storing enrolment record", err)
	}
	if rec.CredentialID != cred.ID {
		return s.invalid("storing enrolment record", check.Invalid("the record names credential %q, not %q", rec.CredentialID, cred.ID))
	}
	if cred.OwnerID != o.ID {
		return s.invalid("storing credential", check.Invalid("the credential names owner %q, not %q", cred.OwnerID, o.ID))
	}
	return nil
}

// insertEnrolled inserts an enrolment's credential and its record, with
// the state of the certificate the credential names (lockCertificate).
func (s *Store) insertEnrolled(ctx context.Context, c Conn, cred *store.Credential, rec *store.EnrolmentRecord) error {
	if err := s.insertCredential(ctx, c, cred); err != nil {
		return err
	}
	if err := s.lockCertificate(ctx, c, cred.CertIssuer, cred.CertSerial); err != nil {
		return err
	}
	status, notAfter := certState("$11", "$12")
	_, err := c.Exec(ctx, `INSERT INTO enrolment_records (credential_id, channel, staff_id, province, ward, evidence_kind,
		evidence_ref, consent_at, created_at, registration_id, cert_issuer, cert_serial, cert_status, cert_not_after)
		VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, `+status+`, `+notAfter+`)`, rec.CredentialID, rec.Channel,
		rec.StaffID, rec.Province, rec.Ward, rec.EvidenceKind, rec.EvidenceRef, s.time(rec.ConsentAt), s.time(s.clock(rec.CreatedAt)),
		rec.RegistrationID, cred.CertIssuer, cred.CertSerial)
	return err
}

// certState is the status and notAfter of the certificate the
// placeholders issuer and serial name, as an enrolment record keeps them
// (migration 0027): NULL, NULL when no such certificate is stored.
func certState(issuer, serial string) (status, notAfter string) {
	where := ` FROM certificates WHERE issuer = ` + issuer + ` AND serial = ` + serial + `)`
	return `(SELECT status` + where, `(SELECT not_after` + where
}

// lockCertificate locks the certificate's row (where rows are locked)
// before its state is copied into an enrolment record: a revocation or
// hold locks the row first too, so it either comes before the copy,
// which reads its status, or after it, when its UPDATE of the records
// finds the record. Without a certificate there is nothing to lock.
func (s *Store) lockCertificate(ctx context.Context, c Conn, issuer string, serial []byte) error {
	if !s.d.RowLocks || len(serial) == 0 {
		return nil
	}
	var status string
	err := c.QueryRow(ctx, `SELECT status FROM certificates WHERE issuer = $1 AND serial = $2`+s.lock(""), issuer, serial).Scan(&status)
	if s.noRows(err) {
		return nil
	}
	return err
}

// setRecordState gives the enrolment record of the credential naming the
// certificate (issuer, serial) its new status, in the transaction that
// changes the certificate's (Revoke, ReleaseHold), on
// enrolment_records_certificate. The condition is the record's own
// columns, so a record a renewal moved to another certificate meanwhile
// is left alone.
func (s *Store) setRecordState(ctx context.Context, c Conn, issuer string, serial []byte, status string) error {
	_, err := c.Exec(ctx, sqlRecordState, status, serial, issuer)
	return err
}

// sqlRecordState is setRecordState's statement (HotQueries).
const sqlRecordState = `UPDATE enrolment_records SET cert_status = $1 WHERE cert_serial = $2 AND cert_issuer = $3`

// moveRecord gives the enrolment record of credentialID the certificate
// the credential names after its renewal, and that certificate's state,
// in the renewal's transaction.
func (s *Store) moveRecord(ctx context.Context, c Conn, credentialID, issuer string, serial []byte) error {
	if err := s.lockCertificate(ctx, c, issuer, serial); err != nil {
		return err
	}
	status, notAfter := certState("$2", "$3")
	_, err := c.Exec(ctx, `UPDATE enrolment_records SET cert_issuer = $2, cert_serial = $3, cert_status = `+status+`,
		cert_not_after = `+notAfter+` WHERE credential_id = $1`, credentialID, issuer, serial)
	return err
}

// enrolmentRecordColumns are what scanEnrolmentRecord reads.
const enrolmentRecordColumns = `credential_id, channel, staff_id, province, ward, evidence_kind, evidence_ref, consent_at, created_at, registration_id`

func scanEnrolmentRecord(row Row) (*store.EnrolmentRecord, error) {
	r := &store.EnrolmentRecord{}
	return r, row.Scan(&r.CredentialID, &r.Channel, &r.StaffID, &r.Province, &r.Ward, &r.EvidenceKind, &r.EvidenceRef,
		Time{&r.ConsentAt}, Time{&r.CreatedAt}, &r.RegistrationID)
}

// GetEnrolmentRecord returns how the credential was enrolled, or
// ErrNotFound.
func (s *Store) GetEnrolmentRecord(ctx context.Context, credentialID string) (*store.EnrolmentRecord, error) {
	r, err := scanEnrolmentRecord(s.r.QueryRow(ctx, `SELECT `+enrolmentRecordColumns+` FROM enrolment_records WHERE credential_id = $1`, credentialID))
	if err != nil {
		return nil, s.fail(fmt.Sprintf("reading the enrolment record of credential %q", credentialID), s.notFound(err))
	}
	return r, nil
}

// enrolmentsWhere is the condition on enrolment_records e of f's period
// and area, with its arguments from $1: only the filters set, so that
// both databases search enrolment_records_area for an area and
// enrolment_records_created (migration 0024) for a period alone.
func (s *Store) enrolmentsWhere(f *store.EnrolmentFilter) (string, []any) {
	where, args := `e.created_at >= $1 AND e.created_at < $2`, []any{s.time(f.From), s.time(f.To)}
	if f.Province != "" {
		args = append(args, f.Province)
		where += fmt.Sprintf(` AND e.province = $%d`, len(args))
	}
	if f.Ward != "" {
		args = append(args, f.Ward)
		where += fmt.Sprintf(` AND e.ward = $%d`, len(args))
	}
	return where, args
}

// countQuery is CountEnrolments' statement (HotQueries: the campaign's
// reports): the period's enrolments, each with its certificate's state at
// at as its record keeps it (migration 0027), grouped by area and
// channel: one pass over a covering index, no join. A record whose
// credential names no stored certificate (cert_status NULL) is not
// counted.
func (s *Store) countQuery(f *store.EnrolmentFilter, at time.Time) (string, []any) {
	where, args := s.enrolmentsWhere(f)
	args = append(args, s.time(at))
	n := len(args)
	return fmt.Sprintf(`SELECT e.province, e.ward, e.channel, count(*),
		CAST(sum(CASE WHEN e.cert_status = 'good' AND e.cert_not_after > $%d THEN 1 ELSE 0 END) AS bigint),
		CAST(sum(CASE WHEN e.cert_status = 'good' AND e.cert_not_after <= $%d THEN 1 ELSE 0 END) AS bigint),
		CAST(sum(CASE WHEN e.cert_status = 'revoked' THEN 1 ELSE 0 END) AS bigint),
		CAST(sum(CASE WHEN e.cert_status = 'hold' THEN 1 ELSE 0 END) AS bigint)
		FROM enrolment_records e
		WHERE %s AND e.cert_status IS NOT NULL
		GROUP BY e.province, e.ward, e.channel ORDER BY e.province, e.ward, e.channel`, n, n, where), args
}

// CountEnrolments counts enrolments by province, ward and channel, with
// their certificates' state (countQuery).
func (s *Store) CountEnrolments(ctx context.Context, f *store.EnrolmentFilter) ([]*store.EnrolmentCount, error) {
	if f == nil || f.From.IsZero() || f.To.IsZero() || !f.From.Before(f.To) {
		return nil, s.invalid("counting enrolments", check.Invalid("the period needs a start before its end"))
	}
	if err := check.String("province", f.Province, 128, false); err != nil {
		return nil, s.invalid("counting enrolments", err)
	}
	if err := check.String("ward", f.Ward, 128, false); err != nil {
		return nil, s.invalid("counting enrolments", err)
	}
	at := f.At
	if at.IsZero() {
		at = s.clock(time.Time{})
	}
	q, args := s.countQuery(f, at)
	rows, err := s.r.Query(ctx, q, args...)
	out, err := collect(rows, err, func(row Row) (*store.EnrolmentCount, error) {
		c := &store.EnrolmentCount{}
		return c, row.Scan(&c.Province, &c.Ward, &c.Channel, &c.Enrolments, &c.Active, &c.Expired, &c.Revoked, &c.Suspended)
	})
	if err != nil {
		return nil, s.fail("counting enrolments", err)
	}
	return out, nil
}

// CountEnrolmentSeries counts enrolments by channel in each period
// bounds cuts f's into, in one grouped pass over enrolment_records (the
// records alone: no certificate's state is read).
func (s *Store) CountEnrolmentSeries(ctx context.Context, f *store.EnrolmentFilter, bounds []time.Time) ([]*store.SeriesCount, error) {
	if f == nil || f.From.IsZero() || f.To.IsZero() || !f.From.Before(f.To) {
		return nil, s.invalid("counting enrolments", check.Invalid("the period needs a start before its end"))
	}
	for _, v := range []struct{ name, s string }{{"province", f.Province}, {"ward", f.Ward}} {
		if err := check.String(v.name, v.s, 128, false); err != nil {
			return nil, s.invalid("counting enrolments", err)
		}
	}
	if len(bounds) > store.MaxSeriesBounds {
		return nil, s.invalid("counting enrolments", check.Invalid("%d cuts of a series, more than %d", len(bounds), store.MaxSeriesBounds))
	}
	prev := f.From
	for _, b := range bounds {
		if !b.After(prev) || !b.Before(f.To) {
			return nil, s.invalid("counting enrolments", check.Invalid("a series' cuts must rise inside its period"))
		}
		prev = b
	}
	q, args := s.seriesQuery(f, bounds)
	rows, err := s.r.Query(ctx, q, args...)
	out, err := collect(rows, err, func(row Row) (*store.SeriesCount, error) {
		c := &store.SeriesCount{}
		return c, row.Scan(&c.Period, &c.Channel, &c.Enrolments)
	})
	if err != nil {
		return nil, s.fail("counting enrolments by period", err)
	}
	return out, nil
}

// seriesQuery is CountEnrolmentSeries' statement and arguments: the
// records joined to the list of the series' periods (bounds cut [From,
// To) into them), each period an index range of its own. A CASE over the
// bounds per record, grouped, was what the planner cannot count the
// groups of: at a million records it sorted them all.
func (s *Store) seriesQuery(f *store.EnrolmentFilter, bounds []time.Time) (string, []any) {
	where, args := s.enrolmentsWhere(f)
	var periods strings.Builder
	lo := "$1"
	for i := range len(bounds) + 1 {
		hi := "$2"
		if i < len(bounds) {
			args = append(args, s.time(bounds[i]))
			hi = fmt.Sprintf("$%d", len(args))
		}
		if i > 0 {
			periods.WriteString(" UNION ALL ")
		}
		fmt.Fprintf(&periods, "SELECT %d AS p, CAST(%s AS %s) AS lo, CAST(%s AS %s) AS hi", i, lo, s.d.TimeType, hi, s.d.TimeType)
		lo = hi
	}
	return `SELECT b.p, e.channel, count(*) FROM (` + periods.String() + `) AS b
		JOIN enrolment_records e ON e.created_at >= b.lo AND e.created_at < b.hi
		WHERE ` + where + ` GROUP BY b.p, e.channel ORDER BY b.p, e.channel`, args
}

// GetOwner returns the owner with this ID, or ErrNotFound.
func (s *Store) GetOwner(ctx context.Context, id string) (*store.Owner, error) {
	o, err := scanOwner(s.r.QueryRow(ctx, `SELECT `+ownerColumns+` FROM owners WHERE id = $1`, id))
	if err != nil {
		return nil, s.fail(fmt.Sprintf("reading owner %q", id), s.notFound(err))
	}
	return o, nil
}

// sqlOwnerByNationalID is GetOwnerByNationalID's statement, on the
// UNIQUE national_id.
const sqlOwnerByNationalID = `SELECT ` + ownerColumns + ` FROM owners WHERE national_id = $1`

// GetOwnerByNationalID returns the owner with this national ID, or
// ErrNotFound.
func (s *Store) GetOwnerByNationalID(ctx context.Context, nationalID string) (*store.Owner, error) {
	o, err := scanOwner(s.r.QueryRow(ctx, sqlOwnerByNationalID, nationalID))
	if err != nil {
		return nil, s.fail(fmt.Sprintf("reading owner with national ID %q", nationalID), s.notFound(err))
	}
	return o, nil
}

// ReserveAttempt reserves an attempt at the owner's factors in one UPDATE
// whose WHERE refuses it while a lock is in force: the UPDATE computes the
// count and the lock from the row as the last writer left it, so
// concurrent reservations from any replica are all counted and at most
// limit granted. A refused reservation then reads the lock; should the
// lock have gone meanwhile (expired, or lifted by a success), it tries
// again.
func (s *Store) ReserveAttempt(ctx context.Context, ownerID string, limit int, lockFor time.Duration, now time.Time) (*store.Attempt, error) {
	if err := check.Attempt(ownerID, limit, lockFor); err != nil {
		return nil, s.invalid("reserving a factor attempt", err)
	}
	what := fmt.Sprintf("reserving a factor attempt of owner %q", ownerID)
	until := s.time(s.clock(now).Add(lockFor))
	now = s.orNow(now)
	return s.reserveCounted(ctx, what, now, func(c Conn) Row {
		return c.QueryRow(ctx, `UPDATE owners SET
			pin_failures = CASE WHEN locked_until <= $1 THEN 1 ELSE pin_failures + 1 END,
			locked_until = CASE WHEN (CASE WHEN locked_until <= $1 THEN 1 ELSE pin_failures + 1 END) >= $2
				THEN CAST($3 AS `+s.d.TimeType+`) ELSE NULL END
			WHERE id = $4 AND (locked_until IS NULL OR locked_until <= $1)
			RETURNING pin_failures, locked_until`, s.time(now), limit, until, ownerID)
	}, func() Row {
		return s.r.QueryRow(ctx, `SELECT pin_failures, locked_until FROM owners WHERE id = $1`, ownerID)
	})
}

// reserveCounted runs reserve, a counting statement returning the count
// and the lock when it grants an attempt and no row when a lock refuses
// it; then read gives the count and the lock that refused it. A lock that
// ended between the two is tried again, at most twice.
func (s *Store) reserveCounted(ctx context.Context, what string, now time.Time, reserve func(Conn) Row, read func() Row) (*store.Attempt, error) {
	for try := 0; ; try++ {
		a := &store.Attempt{}
		err := s.write(ctx, what, true, func(c Conn) error {
			err := reserve(c).Scan(&a.Count, Time{&a.LockedUntil})
			a.Granted = err == nil
			if s.noRows(err) {
				return nil
			}
			return err
		})
		if err != nil {
			return nil, err
		}
		if !a.Granted {
			if err := read().Scan(&a.Count, Time{&a.LockedUntil}); err != nil {
				return nil, s.fail(what, s.notFound(err))
			}
		}
		if a.Granted || a.LockedUntil.After(now) || try == 2 {
			return a, nil
		}
	}
}

// ReserveMiss counts a login naming no owner under key, as
// ReserveAttempt counts an owner's: one upsert that, while the key's lock
// is in force, changes nothing (Granted false, with the lock).
func (s *Store) ReserveMiss(ctx context.Context, key []byte, limit int, lockFor time.Duration, now time.Time) (*store.Attempt, error) {
	if err := check.Miss(key, limit, lockFor); err != nil {
		return nil, s.invalid("counting a login miss", err)
	}
	const what = "counting a login miss"
	now = s.orNow(now)
	until := s.time(s.clock(now).Add(lockFor))
	first := any(nil)
	if limit <= 1 {
		first = until
	}
	return s.reserveCounted(ctx, what, now, func(c Conn) Row {
		return c.QueryRow(ctx, `INSERT INTO login_misses (key, failures, locked_until, last_at) VALUES ($1, 1, $2, $3)
			ON CONFLICT (key) DO UPDATE SET
				failures = CASE WHEN login_misses.locked_until <= $3 THEN 1 ELSE login_misses.failures + 1 END,
				locked_until = CASE WHEN (CASE WHEN login_misses.locked_until <= $3 THEN 1 ELSE login_misses.failures + 1 END) >= $4
					THEN CAST($5 AS `+s.d.TimeType+`) ELSE NULL END,
				last_at = $3
			WHERE login_misses.locked_until IS NULL OR login_misses.locked_until <= $3
			RETURNING failures, locked_until`, key, first, s.time(now), limit, until)
	}, func() Row {
		return s.r.QueryRow(ctx, `SELECT failures, locked_until FROM login_misses WHERE key = $1`, key)
	})
}

// sqlPruneMisses is PruneMisses' statement, on login_misses_last.
const sqlPruneMisses = `DELETE FROM login_misses WHERE last_at < $1 AND (locked_until IS NULL OR locked_until <= $2)`

// PruneMisses deletes the login misses last counted before before whose
// lock, if any, has ended by now, through login_misses_last.
func (s *Store) PruneMisses(ctx context.Context, before, now time.Time) (int64, error) {
	var n int64
	err := s.write(ctx, "pruning login misses", true, func(c Conn) error {
		var err error
		n, err = c.Exec(ctx, sqlPruneMisses, s.time(s.clock(before)), s.time(s.clock(now)))
		return err
	})
	return n, err
}

// ReleaseAttempts sets the owner's attempt count to zero and lifts the
// lock: every factor of an attempt passed.
func (s *Store) ReleaseAttempts(ctx context.Context, ownerID string) error {
	if err := check.ID("owner ID", ownerID); err != nil {
		return s.invalid("releasing factor attempts", err)
	}
	return s.write(ctx, fmt.Sprintf("releasing the factor attempts of owner %q", ownerID), true, func(c Conn) error {
		n, err := c.Exec(ctx, `UPDATE owners SET pin_failures = 0, locked_until = NULL WHERE id = $1`, ownerID)
		return inserted(n, err, store.ErrNotFound)
	})
}

// SetPIN replaces the owner's PIN hash and clears failures and lock.
func (s *Store) SetPIN(ctx context.Context, ownerID, pinHash string) error {
	if err := check.ID("owner ID", ownerID); err != nil {
		return s.invalid("setting PIN", err)
	}
	if err := check.String("PIN hash", pinHash, check.MaxPHC, true); err != nil {
		return s.invalid("setting PIN", err)
	}
	return s.write(ctx, fmt.Sprintf("setting PIN of owner %q", ownerID), true, func(c Conn) error {
		n, err := c.Exec(ctx, `UPDATE owners SET pin_hash = $1, pin_failures = 0, locked_until = NULL
			WHERE id = $2`, pinHash, ownerID)
		return inserted(n, err, store.ErrNotFound)
	})
}

// UseTOTPStep records step as the owner's last TOTP step, in one
// conditional UPDATE: of several callers with the same step, one changes
// the row and the others find the condition false (ErrReplay).
func (s *Store) UseTOTPStep(ctx context.Context, ownerID string, step int64) error {
	if err := check.ID("owner ID", ownerID); err != nil {
		return s.invalid("using TOTP step", err)
	}
	if step < 0 {
		return s.invalid("using TOTP step", check.Invalid("step %d is negative", step))
	}
	return s.writeIf(ctx, fmt.Sprintf("using TOTP step %d of owner %q", step, ownerID), "owners", ownerID, store.ErrReplay,
		`UPDATE owners SET totp_last_step = $1 WHERE id = $2 AND totp_last_step < $1`, step, ownerID)
}

const credentialColumns = `id, owner_id, key_uri, wrapped_key, algorithm, cert_issuer, cert_serial, status, created_at`

func scanCredential(row Row) (*store.Credential, error) {
	c := &store.Credential{}
	return c, row.Scan(&c.ID, &c.OwnerID, &c.KeyURI, &c.WrappedKey, &c.Algorithm, &c.CertIssuer, &c.CertSerial,
		&c.Status, Time{&c.CreatedAt})
}

// PutCredential records c; ErrExists when its ID is taken, ErrNotFound when
// its owner does not exist.
func (s *Store) PutCredential(ctx context.Context, c *store.Credential) error {
	if err := check.Credential(c); err != nil {
		return s.invalid("storing credential", err)
	}
	return s.write(ctx, fmt.Sprintf("storing credential %q", c.ID), true, func(tx Conn) error { return s.insertCredential(ctx, tx, c) })
}

func (s *Store) insertCredential(ctx context.Context, tx Conn, c *store.Credential) error {
	status := c.Status
	if status == "" {
		status = "active"
	}
	n, err := tx.Exec(ctx, `INSERT INTO credentials (`+credentialColumns+`)
		VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9) ON CONFLICT DO NOTHING`,
		c.ID, c.OwnerID, c.KeyURI, nullBytes(c.WrappedKey), c.Algorithm, c.CertIssuer, nullBytes(c.CertSerial),
		status, s.time(s.clock(c.CreatedAt)))
	return inserted(n, s.missingParent(err, fmt.Sprintf("owner %q", c.OwnerID)), store.ErrExists)
}

// GetCredential returns the credential with this ID, or ErrNotFound.
func (s *Store) GetCredential(ctx context.Context, id string) (*store.Credential, error) {
	c, err := scanCredential(s.r.QueryRow(ctx, `SELECT `+credentialColumns+` FROM credentials WHERE id = $1`, id))
	if err != nil {
		return nil, s.fail(fmt.Sprintf("reading credential %q", id), s.notFound(err))
	}
	return c, nil
}

// sqlListCredentials is ListCredentials' statement, on the index of
// UNIQUE (owner_id, id).
func (s *Store) sqlListCredentials() string {
	return `SELECT ` + credentialColumns + ` FROM credentials WHERE owner_id = $1 ORDER BY created_at, ` + s.d.Seq
}

// ListCredentials returns the owner's credentials, oldest first.
func (s *Store) ListCredentials(ctx context.Context, ownerID string) ([]*store.Credential, error) {
	rows, err := s.r.Query(ctx, s.sqlListCredentials(), ownerID)
	out, err := collect(rows, err, scanCredential)
	if err != nil {
		return nil, s.fail(fmt.Sprintf("listing credentials of owner %q", ownerID), err)
	}
	return out, nil
}

const txColumns = `id, client_id, client_ref, credential_id, owner_id, description, documents, status, result, error,
	created_at, updated_at, expires_at, lease_owner, lease_until`

func scanTx(row Row) (*store.Transaction, error) {
	t := &store.Transaction{}
	return t, row.Scan(&t.ID, &t.ClientID, &t.ClientRef, &t.CredentialID, &t.OwnerID, &t.Description, &t.Documents,
		&t.Status, &t.Result, &t.Error, Time{&t.CreatedAt}, Time{&t.UpdatedAt}, Time{&t.ExpiresAt}, &t.LeaseOwner, Time{&t.LeaseUntil})
}

// CreateTransaction records t, or returns the transaction the client
// already has under t.ClientRef and false. The insert is INSERT ... ON
// CONFLICT (client_id, client_ref) DO NOTHING: the unique constraint, not a
// read before the write, decides which submission wins (it waits for a
// concurrent insert of the same reference to commit, and the SELECT after
// it, a new statement, sees the row that won). ErrExists when t.ID is
// taken by another transaction; ErrNotFound when the client, or the
// credential with that owner, does not exist.
func (s *Store) CreateTransaction(ctx context.Context, t *store.Transaction) (*store.Transaction, bool, error) {
	if err := check.Transaction(t); err != nil {
		return nil, false, s.invalid("creating transaction", err)
	}
	nt := *t
	if nt.Status == "" {
		nt.Status = store.TxPending
	}
	nt.CreatedAt = s.orNow(t.CreatedAt)
	nt.UpdatedAt = nt.CreatedAt
	if !t.UpdatedAt.IsZero() {
		nt.UpdatedAt = check.Time(t.UpdatedAt)
	}
	nt.ExpiresAt = check.Time(t.ExpiresAt)
	var existing *store.Transaction
	err := s.write(ctx, fmt.Sprintf("creating transaction %q for client %q", t.ClientRef, t.ClientID), false, func(tx Conn) error {
		existing = nil
		n, err := tx.Exec(ctx, `INSERT INTO transactions (`+txColumns+`)
			VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15) ON CONFLICT (client_id, client_ref) DO NOTHING`,
			nt.ID, nt.ClientID, nt.ClientRef, nt.CredentialID, nt.OwnerID, nt.Description, nt.Documents, nt.Status,
			nullBytes(nt.Result), nt.Error, s.time(nt.CreatedAt), s.time(nt.UpdatedAt), s.time(nt.ExpiresAt),
			nt.LeaseOwner, s.nullTime(nt.LeaseUntil))
		if err != nil {
			return s.missingParent(err, fmt.Sprintf("client %q, or credential %q of owner %q", t.ClientID, t.CredentialID, t.OwnerID))
		}
		if n > 0 {
			return nil
		}
		existing, err = scanTx(tx.QueryRow(ctx, `SELECT `+txColumns+` FROM transactions
			WHERE client_id = $1 AND client_ref = $2`, t.ClientID, t.ClientRef))
		return err
	})
	switch {
	case err != nil:
		return nil, false, err
	case existing != nil:
		return existing, false, nil
	}
	nt.Documents = append([]byte(nil), t.Documents...)
	nt.Result = append([]byte(nil), t.Result...)
	return &nt, true, nil
}

// GetTransaction returns the transaction with this ID, or ErrNotFound.
func (s *Store) GetTransaction(ctx context.Context, id string) (*store.Transaction, error) {
	t, err := scanTx(s.r.QueryRow(ctx, `SELECT `+txColumns+` FROM transactions WHERE id = $1`, id))
	if err != nil {
		return nil, s.fail(fmt.Sprintf("reading transaction %q", id), s.notFound(err))
	}
	return t, nil
}

// GetTransactionByRef returns the client's transaction with reference
// clientRef, through the unique (client_id, client_ref) index.
func (s *Store) GetTransactionByRef(ctx context.Context, clientID, clientRef string) (*store.Transaction, error) {
	t, err := scanTx(s.r.QueryRow(ctx, `SELECT `+txColumns+` FROM transactions WHERE client_id = $1 AND client_ref = $2`, clientID, clientRef))
	if err != nil {
		return nil, s.fail(fmt.Sprintf("reading transaction %q of client %q", clientRef, clientID), s.notFound(err))
	}
	return t, nil
}

// sqlOverdue is ListOverdue's statement, on the partial index
// transactions_overdue.
const sqlOverdue = `SELECT ` + txColumns + ` FROM transactions WHERE status = 'pending' AND expires_at <= $1
	ORDER BY expires_at, id LIMIT $2`

// ListOverdue returns pending transactions past their expiry, the longest
// overdue first, through the (status, expires_at) index.
func (s *Store) ListOverdue(ctx context.Context, now time.Time, limit int) ([]*store.Transaction, error) {
	if limit < 1 || limit > 1000 {
		return nil, fmt.Errorf("%s: listing overdue transactions: %w: limit %d is not 1 to 1000", s.d.Name, store.ErrInvalid, limit)
	}
	rows, err := s.r.Query(ctx, sqlOverdue, s.time(now), limit)
	out, err := collect(rows, err, scanTx)
	if err != nil {
		return nil, s.fail("listing overdue transactions", err)
	}
	return out, nil
}

// ListTransactions returns the transactions matching f, newest first, at
// most f.Limit (0: 100; at most 1000). An index on (owner_id or client_id,
// status, created_at, and the insertion order) serves each filter in
// order.
func (s *Store) ListTransactions(ctx context.Context, f *store.TransactionFilter) ([]*store.Transaction, error) {
	limit, err := check.TxFilter(f)
	if err != nil {
		return nil, s.invalid("listing transactions", err)
	}
	q, args := s.txListQuery(f, limit)
	rows, err := s.r.Query(ctx, q, args...)
	out, err := collect(rows, err, scanTx)
	if err != nil {
		return nil, s.fail("listing transactions", err)
	}
	return out, nil
}

// txListQuery is ListTransactions' statement for f and limit, and its
// arguments.
func (s *Store) txListQuery(f *store.TransactionFilter, limit int) (string, []any) {
	if f == nil {
		f = &store.TransactionFilter{}
	}
	q, args := where(`SELECT `+txColumns+` FROM transactions`,
		"client_id", f.ClientID, "owner_id", f.OwnerID, "status", string(f.Status))
	args = append(args, limit)
	q += fmt.Sprintf(` ORDER BY created_at DESC, %s DESC LIMIT $%d`, s.d.Seq, len(args))
	return q, args
}

// UpdateTransaction is TransitionTransaction with no webhook and no audit
// events.
func (s *Store) UpdateTransaction(ctx context.Context, t *store.Transaction, from store.TransactionStatus) error {
	return s.TransitionTransaction(ctx, t, from, nil)
}

// TransitionTransaction moves the transaction from status from to t.Status
// in one conditional UPDATE (compare and set): of several callers moving
// it from the same status, one changes the row and the others get
// ErrConflict. In the same write, and only when the UPDATE changed the
// row, it inserts the webhook and the audit events, so a crash keeps all
// or none. ErrNotFound when there is no such transaction.
func (s *Store) TransitionTransaction(ctx context.Context, t *store.Transaction, from store.TransactionStatus, w *store.Webhook, audit ...*store.AuditEvent) error {
	return s.transition(ctx, t, from, w, nil, audit)
}

// ApproveTransaction is TransitionTransaction that inserts the approval's
// receipt in the same write, only when the UPDATE changed the row.
func (s *Store) ApproveTransaction(ctx context.Context, t *store.Transaction, from store.TransactionStatus, r *store.Receipt, audit ...*store.AuditEvent) error {
	if err := check.Receipt(r); err != nil {
		return s.invalid("approving transaction", err)
	}
	if r.TransactionID != t.ID {
		return s.invalid("approving transaction", check.Invalid("the receipt names transaction %q, not %q", r.TransactionID, t.ID))
	}
	return s.transition(ctx, t, from, nil, r, audit)
}

// transition is TransitionTransaction with an optional receipt.
func (s *Store) transition(ctx context.Context, t *store.Transaction, from store.TransactionStatus, w *store.Webhook, r *store.Receipt, audit []*store.AuditEvent) error {
	if err := check.TxUpdate(t, from); err != nil {
		return s.invalid("updating transaction", err)
	}
	if w != nil {
		if err := check.Webhook(w); err != nil {
			return s.invalid("updating transaction", err)
		}
	}
	details, err := s.auditDetails(audit)
	if err != nil {
		return err
	}
	what := fmt.Sprintf("updating transaction %q from %s to %s", t.ID, from, t.Status)
	rows := make([]store.AuditEvent, len(audit))
	var n, webhookID int64
	alone := w == nil && r == nil && len(audit) == 0
	err = s.write(ctx, what, alone, func(c Conn) (err error) {
		n, err = c.Exec(ctx, `UPDATE transactions SET status = $1, result = $2, error = $3, updated_at = $4,
			lease_owner = $5, lease_until = $6 WHERE id = $7 AND status = $8`, t.Status, nullBytes(t.Result), t.Error,
			s.time(s.clock(t.UpdatedAt)), t.LeaseOwner, s.nullTime(t.LeaseUntil), t.ID, from)
		if err != nil || n == 0 {
			return err
		}
		if w != nil {
			if webhookID, err = s.insertWebhook(ctx, c, w); err != nil {
				return err
			}
		}
		if r != nil {
			if err := s.insertReceipt(ctx, c, r); err != nil {
				return err
			}
		}
		if len(audit) == 0 {
			return nil
		}
		return s.appendAudit(ctx, c, audit, details, rows)
	})
	if err != nil {
		return err
	}
	if n > 0 {
		if w != nil {
			w.ID = webhookID
		}
		setChained(audit, rows)
		return nil
	}
	var status string
	err = s.r.QueryRow(ctx, `SELECT status FROM transactions WHERE id = $1`, t.ID).Scan(&status)
	if err == nil {
		err = fmt.Errorf("status is %s: %w", status, store.ErrConflict)
	}
	return s.fail(what, s.notFound(err))
}

// ClaimApproved leases approved transactions whose lease has ended, found
// through transactions_leased, in one statement: where writers run side by
// side (PostgreSQL), FOR UPDATE SKIP LOCKED passes over rows another
// claimer holds, and a row leased since this statement's snapshot is
// re-checked when locked and left out; where one writer holds the file
// (SQLite), another claimer sees the rows only once their lease is
// recorded.
func (s *Store) ClaimApproved(ctx context.Context, now time.Time, owner string, lease time.Duration, limit int) ([]*store.Transaction, error) {
	if err := check.Claim(lease, limit); err != nil {
		return nil, s.invalid("claiming approved transactions", err)
	}
	if err := check.ID("lease owner", owner); err != nil {
		return nil, s.invalid("claiming approved transactions", err)
	}
	now = s.clock(now)
	var out []*store.Transaction
	err := s.write(ctx, "claiming approved transactions", true, func(c Conn) error {
		rows, err := c.Query(ctx, s.sqlClaimApproved(), owner, s.time(now.Add(lease)), s.time(now), limit)
		out, err = collect(rows, err, scanTx)
		return err
	})
	if err != nil {
		return nil, err
	}
	sort.Slice(out, func(i, j int) bool { return out[i].ID < out[j].ID })
	return out, nil
}

// sqlClaimApproved is ClaimApproved's statement, on the partial index
// transactions_leased (approved rows by lease end).
func (s *Store) sqlClaimApproved() string {
	return `UPDATE transactions SET lease_owner = $1, lease_until = $2 WHERE id IN (
		SELECT id FROM transactions WHERE status = 'approved' AND (lease_until IS NULL OR lease_until <= $3)
		ORDER BY lease_until, id LIMIT $4` + s.skipLocked() + `)
		RETURNING ` + txColumns
}

// PutActivation records activation data; ErrExists when its SAD hash is
// recorded already, ErrNotFound when its credential or transaction does
// not exist.
func (s *Store) PutActivation(ctx context.Context, a *store.Activation) error {
	if err := check.Activation(a); err != nil {
		return s.invalid("storing activation", err)
	}
	hashes := a.Hashes
	if hashes == nil {
		hashes = [][]byte{}
	}
	list, err := s.d.Hashes(hashes)
	if err != nil {
		return s.invalid("storing activation", err)
	}
	return s.write(ctx, fmt.Sprintf("storing activation %x", a.SADHash), true, func(c Conn) error {
		n, err := c.Exec(ctx, `INSERT INTO activations (sad_hash, id, client_id, credential_id, transaction_id,
			hash_algorithm, hashes, remaining, expires_at, created_at, receipt_id) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11)
			ON CONFLICT DO NOTHING`,
			a.SADHash, a.ID, a.ClientID, a.CredentialID, nullString(a.TransactionID), a.HashAlgorithm, list, a.Remaining,
			s.time(a.ExpiresAt), s.time(s.clock(a.CreatedAt)), a.ReceiptID)
		err = s.missingParent(err, fmt.Sprintf("credential %q or transaction %q", a.CredentialID, a.TransactionID))
		return inserted(n, err, store.ErrExists)
	})
}

// GetActivation returns the activation data with this SAD hash, expired or
// not, or ErrNotFound.
func (s *Store) GetActivation(ctx context.Context, sadHash []byte) (*store.Activation, error) {
	if err := check.SADHash(sadHash); err != nil {
		return nil, s.invalid("reading activation", err)
	}
	a := &store.Activation{}
	err := s.r.QueryRow(ctx, `SELECT sad_hash, id, client_id, credential_id, transaction_id, hash_algorithm, hashes, remaining,
		expires_at, created_at, receipt_id FROM activations WHERE sad_hash = $1`, sadHash).Scan(&a.SADHash, &a.ID, &a.ClientID, &a.CredentialID,
		NullString{&a.TransactionID}, &a.HashAlgorithm, s.d.ScanHashes(&a.Hashes), &a.Remaining, Time{&a.ExpiresAt}, Time{&a.CreatedAt}, &a.ReceiptID)
	if err != nil {
		return nil, s.fail(fmt.Sprintf("reading activation %x", sadHash), s.notFound(err))
	}
	if len(a.Hashes) == 0 {
		a.Hashes = nil
	}
	return a, nil
}

// UseActivation takes n uses in one conditional UPDATE (remaining >= n and
// not expired at now), so concurrent callers never take more uses than
// were approved, and appends the audit events in the same write when it
// took them (with no events the UPDATE stands alone). The write may share
// its commit with other requests' (SharedWriter); a second use of the
// same activation in that transaction sees the first's UPDATE, so a SAD
// replayed within one commit is spent once. When nothing
// changes, a read after the write tells ErrReplay (uses exhausted) from
// ErrNotFound (absent or expired): uses only go down and the expiry never
// changes, so the read cannot mislead, and it holds no write lock.
func (s *Store) UseActivation(ctx context.Context, sadHash []byte, n int, now time.Time, audit ...*store.AuditEvent) error {
	if err := check.SADHash(sadHash); err != nil {
		return s.invalid("using activation", err)
	}
	if err := check.Uses(n); err != nil {
		return s.invalid("using activation", err)
	}
	details, err := s.auditDetails(audit)
	if err != nil {
		return err
	}
	what := fmt.Sprintf("using activation %x %d times", sadHash, n)
	rows := make([]store.AuditEvent, len(audit))
	at := s.orNow(now)
	used := false
	err = s.writeShared(ctx, what, len(audit) == 0, func(c Conn) error {
		changed, err := c.Exec(ctx, sqlUseActivation, n, sadHash, s.time(at))
		used = err == nil && changed > 0
		if !used || len(audit) == 0 {
			return err
		}
		return s.appendAudit(ctx, c, audit, details, rows)
	})
	if err != nil {
		return err
	}
	if used {
		setChained(audit, rows)
		return nil
	}
	var remaining int
	var expires time.Time
	err = s.r.QueryRow(ctx, `SELECT remaining, expires_at FROM activations WHERE sad_hash = $1`, sadHash).Scan(&remaining, Time{&expires})
	switch {
	case err != nil:
		err = s.notFound(err)
	case !expires.After(at):
		err = fmt.Errorf("expired at %v: %w", expires, store.ErrNotFound)
	default:
		err = fmt.Errorf("%d uses remain: %w", remaining, store.ErrReplay)
	}
	return s.fail(what, err)
}

// PutToken records an access token; ErrExists when its hash is recorded
// already.
func (s *Store) PutToken(ctx context.Context, t *store.Token) error {
	if err := check.Token(t); err != nil {
		return s.invalid("storing token", err)
	}
	return s.write(ctx, "storing token", true, func(c Conn) error {
		n, err := c.Exec(ctx, `INSERT INTO tokens (hash, kind, subject, scope, expires_at, cert_sha256, owner_id)
			VALUES ($1, $2, $3, $4, $5, $6, $7) ON CONFLICT DO NOTHING`, t.Hash, t.Kind, t.Subject, t.Scope, s.time(t.ExpiresAt),
			nullBytes(t.CertSHA256), nullString(t.OwnerID))
		return inserted(n, err, store.ErrExists)
	})
}

// GetToken returns the token with this hash if it has not expired at now,
// or ErrNotFound.
func (s *Store) GetToken(ctx context.Context, hash []byte, now time.Time) (*store.Token, error) {
	if err := check.TokenHash(hash); err != nil {
		return nil, s.invalid("reading token", err)
	}
	t := &store.Token{}
	var owner *string
	err := s.r.QueryRow(ctx, `SELECT hash, kind, subject, scope, expires_at, cert_sha256, owner_id FROM tokens
		WHERE hash = $1 AND expires_at > $2`, hash, s.time(s.clock(now))).Scan(&t.Hash, &t.Kind, &t.Subject, &t.Scope,
		Time{&t.ExpiresAt}, &t.CertSHA256, &owner)
	if err != nil {
		return nil, s.fail("reading token", s.notFound(err))
	}
	if owner != nil {
		t.OwnerID = *owner
	}
	return t, nil
}

// DeleteToken removes the token with this hash, if there is one.
func (s *Store) DeleteToken(ctx context.Context, hash []byte) error {
	if err := check.TokenHash(hash); err != nil {
		return s.invalid("deleting token", err)
	}
	return s.write(ctx, "deleting token", true, func(c Conn) error {
		_, err := c.Exec(ctx, `DELETE FROM tokens WHERE hash = $1`, hash)
		return err
	})
}

// PutAuthCode records an authorisation code; ErrExists when its hash is
// recorded already, ErrNotFound when its client does not exist.
func (s *Store) PutAuthCode(ctx context.Context, c *store.AuthCode, r *store.Receipt, audit ...*store.AuditEvent) error {
	if err := check.AuthCode(c); err != nil {
		return s.invalid("storing authorisation code", err)
	}
	if r != nil {
		if err := check.Receipt(r); err != nil {
			return s.invalid("storing authorisation code", err)
		}
	}
	details, err := s.auditDetails(audit)
	if err != nil {
		return err
	}
	rows := make([]store.AuditEvent, len(audit))
	err = s.write(ctx, "storing authorisation code", r == nil && len(audit) == 0, func(tx Conn) error {
		n, err := tx.Exec(ctx, `INSERT INTO oauth_codes (hash, client_id, request, expires_at, created_at)
			VALUES ($1, $2, $3, $4, $5) ON CONFLICT DO NOTHING`, c.Hash, c.ClientID, c.Request, s.time(c.ExpiresAt),
			s.time(s.clock(c.CreatedAt)))
		err = s.missingParent(err, fmt.Sprintf("client %q", c.ClientID))
		if err := inserted(n, err, store.ErrExists); err != nil {
			return err
		}
		if r != nil {
			if err := s.insertReceipt(ctx, tx, r); err != nil {
				return err
			}
		}
		if len(audit) == 0 {
			return nil
		}
		return s.appendAudit(ctx, tx, audit, details, rows)
	})
	if err != nil {
		return err
	}
	setChained(audit, rows)
	return nil
}

// insertReceipt inserts a checked receipt in a write; ErrExists when its
// ID, or a receipt of its transaction, is recorded, ErrNotFound when its
// owner, client or transaction is not.
func (s *Store) insertReceipt(ctx context.Context, c Conn, r *store.Receipt) error {
	n, err := c.Exec(ctx, `INSERT INTO receipts (id, owner_id, client_id, transaction_id, activation_id, cms, created_at)
		VALUES ($1, $2, $3, $4, $5, $6, $7) ON CONFLICT DO NOTHING`, r.ID, r.OwnerID, r.ClientID, nullString(r.TransactionID),
		r.ActivationID, r.CMS, s.time(s.clock(r.CreatedAt)))
	err = s.missingParent(err, fmt.Sprintf("owner %q, client %q or transaction %q", r.OwnerID, r.ClientID, r.TransactionID))
	return inserted(n, err, store.ErrExists)
}

const sqlSelectReceipt = `SELECT id, owner_id, client_id, transaction_id, activation_id, cms, created_at FROM receipts `

// GetReceipt returns the receipt with this ID, or ErrNotFound.
func (s *Store) GetReceipt(ctx context.Context, id string) (*store.Receipt, error) {
	return s.getReceipt(ctx, "id", id)
}

// GetTransactionReceipt returns the receipt of a transaction's approval,
// or ErrNotFound.
func (s *Store) GetTransactionReceipt(ctx context.Context, transactionID string) (*store.Receipt, error) {
	return s.getReceipt(ctx, "transaction_id", transactionID)
}

// getReceipt reads the receipt whose column (id or transaction_id, both
// unique) is v.
func (s *Store) getReceipt(ctx context.Context, column, v string) (*store.Receipt, error) {
	if err := check.ID(column, v); err != nil {
		return nil, s.invalid("reading receipt", err)
	}
	r := &store.Receipt{}
	err := s.r.QueryRow(ctx, sqlSelectReceipt+"WHERE "+column+" = $1", v).Scan(&r.ID, &r.OwnerID, &r.ClientID,
		NullString{&r.TransactionID}, &r.ActivationID, &r.CMS, Time{&r.CreatedAt})
	if err != nil {
		return nil, s.fail(fmt.Sprintf("reading receipt by %s %q", column, v), s.notFound(err))
	}
	return r, nil
}

// TakeAuthCode deletes the code with this hash and returns it, in one
// DELETE … RETURNING: of two replicas exchanging one code at once, one
// gets the row and the other none. An expired code is deleted as well,
// and answered ErrNotFound.
func (s *Store) TakeAuthCode(ctx context.Context, hash []byte, now time.Time) (*store.AuthCode, error) {
	if len(hash) != 32 {
		return nil, s.invalid("taking authorisation code", check.Invalid("authorisation code hash is %d bytes, not 32", len(hash)))
	}
	c := &store.AuthCode{}
	err := s.write(ctx, "taking authorisation code", true, func(tx Conn) error {
		err := tx.QueryRow(ctx, `DELETE FROM oauth_codes WHERE hash = $1 RETURNING hash, client_id, request, expires_at, created_at`,
			hash).Scan(&c.Hash, &c.ClientID, &c.Request, Time{&c.ExpiresAt}, Time{&c.CreatedAt})
		return s.notFound(err)
	})
	if err != nil {
		return nil, err
	}
	if !c.ExpiresAt.After(s.orNow(now)) {
		return nil, s.fail("taking authorisation code", fmt.Errorf("expired at %v: %w", c.ExpiresAt, store.ErrNotFound))
	}
	return c, nil
}

// EnqueueWebhook adds w to the outbox, due at w.NextAttempt (zero: now),
// and sets w.ID. ErrNotFound when its client does not exist.
func (s *Store) EnqueueWebhook(ctx context.Context, w *store.Webhook) error {
	if err := check.Webhook(w); err != nil {
		return s.invalid("enqueueing webhook", err)
	}
	var id int64
	err := s.write(ctx, fmt.Sprintf("enqueueing webhook for client %q", w.ClientID), true, func(c Conn) (err error) {
		id, err = s.insertWebhook(ctx, c, w)
		return err
	})
	if err != nil {
		return err
	}
	w.ID = id
	return nil
}

// insertWebhook inserts w, checked, in a write and returns its ID.
func (s *Store) insertWebhook(ctx context.Context, c Conn, w *store.Webhook) (int64, error) {
	var id int64
	err := c.QueryRow(ctx, `INSERT INTO webhooks (client_id, url, body, idempotency_key, attempts, next_attempt, last_error, trace)
		VALUES ($1, $2, $3, $4, $5, $6, $7, $8) RETURNING id`, w.ClientID, w.URL, w.Body, w.IdempotencyKey, w.Attempts,
		s.time(s.clock(w.NextAttempt)), w.LastError, w.Trace).Scan(&id)
	return id, s.missingParent(err, fmt.Sprintf("client %q", w.ClientID))
}

// ClaimWebhooks leases up to limit webhooks due at now until now+lease and
// returns them in ID order, NextAttempt set to the lease's end. The due
// rows are found through webhooks_due, earliest due first, and leased in
// one statement: where writers run side by side (PostgreSQL), FOR UPDATE
// SKIP LOCKED passes over rows another claimer holds, and a row another
// claimer leased since this statement's snapshot is re-checked when
// locked, found no longer due, and left out; where one writer holds the
// file (SQLite), another claimer sees the rows only once their lease is
// recorded.
func (s *Store) ClaimWebhooks(ctx context.Context, now time.Time, lease time.Duration, limit int) ([]*store.Webhook, error) {
	if err := check.Claim(lease, limit); err != nil {
		return nil, s.invalid("claiming webhooks", err)
	}
	now = s.clock(now)
	var out []*store.Webhook
	err := s.write(ctx, "claiming webhooks", true, func(c Conn) error {
		rows, err := c.Query(ctx, s.sqlClaimWebhooks(), s.time(now.Add(lease)), s.time(now), limit)
		out, err = collect(rows, err, func(row Row) (*store.Webhook, error) {
			w := &store.Webhook{}
			return w, row.Scan(&w.ID, &w.ClientID, &w.URL, &w.Body, &w.IdempotencyKey, &w.Attempts, Time{&w.NextAttempt}, &w.LastError, &w.Trace)
		})
		return err
	})
	if err != nil {
		return nil, err
	}
	sort.Slice(out, func(i, j int) bool { return out[i].ID < out[j].ID })
	return out, nil
}

// sqlClaimWebhooks is ClaimWebhooks' statement, on the partial index
// webhooks_due (undelivered rows by when they are due).
func (s *Store) sqlClaimWebhooks() string {
	return `UPDATE webhooks SET next_attempt = $1 WHERE id IN (
		SELECT id FROM webhooks WHERE delivered_at IS NULL AND next_attempt <= $2
		ORDER BY next_attempt, id LIMIT $3` + s.skipLocked() + `)
		RETURNING id, client_id, url, body, idempotency_key, attempts, next_attempt, last_error, trace`
}

// sqlCountUndelivered is CountUndelivered's statement.
const sqlCountUndelivered = `SELECT count(*) FROM webhooks WHERE delivered_at IS NULL AND next_attempt IS NOT NULL`

// CountUndelivered returns how many webhooks are neither delivered nor
// given up, through the partial index webhooks_due.
func (s *Store) CountUndelivered(ctx context.Context) (int64, error) {
	var n int64
	if err := s.r.QueryRow(ctx, sqlCountUndelivered).Scan(&n); err != nil {
		return 0, s.fail("counting undelivered webhooks", err)
	}
	return n, nil
}

// errDelivered: the webhook was delivered already.
var errDelivered = fmt.Errorf("delivered already: %w", store.ErrConflict)

// FinishWebhook records an attempt at webhook id: delivered (now), or
// failed and due again at next, or given up when next is zero. ErrNotFound
// for an unknown webhook; ErrConflict when it was delivered already (by a
// replica whose lease it outlived).
func (s *Store) FinishWebhook(ctx context.Context, id int64, delivered bool, next time.Time, lastError string) error {
	if id < 1 {
		return s.invalid("finishing webhook", check.Invalid("webhook ID %d is not positive", id))
	}
	if err := check.String("webhook error", lastError, check.MaxError, false); err != nil {
		return s.invalid("finishing webhook", err)
	}
	var deliveredAt, nextAttempt any
	if delivered {
		deliveredAt = s.time(s.now())
	} else {
		nextAttempt = s.nullTime(next)
	}
	return s.writeIf(ctx, fmt.Sprintf("finishing webhook %d", id), "webhooks", id, errDelivered,
		`UPDATE webhooks SET attempts = attempts + 1, delivered_at = $1, next_attempt = $2, last_error = $3
		WHERE id = $4 AND delivered_at IS NULL`, deliveredAt, nextAttempt, lastError, id)
}
