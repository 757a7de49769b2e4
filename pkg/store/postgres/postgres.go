// Package postgres is kyso's production store: PostgreSQL through
// github.com/jackc/pgx/v5 (pgxpool), for several kysod replicas sharing one
// database.
//
// Uniqueness is the database's: primary keys and unique constraints, with
// INSERT ... ON CONFLICT DO NOTHING, which waits for a concurrent inserter's
// transaction and then reports the conflict, so no check in Go can be
// raced. Transactions run at READ COMMITTED with explicit row locks where a
// row is read and then changed; a serialization failure or deadlock is
// retried a few times before it is returned.
package postgres

import (
	"context"
	"embed"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/kyso-pki/kyso/pkg/store"
	"github.com/kyso-pki/kyso/pkg/store/internal/check"
	"github.com/kyso-pki/kyso/pkg/store/internal/migrate"
)

//go:embed migrations/*.sql
var migrations embed.FS

var _ store.Store = (*Store)(nil)

// Advisory lock keys (pg_advisory_lock), arbitrary but fixed: "kyso" in
// ASCII, then a number.
const (
	lockMigrate = 0x6b79736f_0001
	lockAudit   = 0x6b79736f_0002
)

// maxAttempts bounds how often a transaction is tried when PostgreSQL
// reports a serialization failure or deadlock.
const maxAttempts = 5

// Options changes how Open connects. A nil *Options and the zero value are
// the defaults.
type Options struct {
	// Now returns the current time, for records whose caller left a time
	// zero. Nil: time.Now.
	Now func() time.Time
	// MaxConns bounds the pool. Zero: pgxpool's default (the larger of 4
	// and the number of CPUs), or pool_max_conns from the DSN.
	MaxConns int32
}

// Store is a store.Store in a PostgreSQL database. It is safe for
// concurrent use by many goroutines and by many processes sharing the
// database.
type Store struct {
	pool *pgxpool.Pool
	now  func() time.Time
	host string // for messages; never the password
}

// Open connects to the database dsn names ("postgres://user@host/db?..."
// or a key=value string) and applies any migrations not yet recorded in
// schema_migrations, holding an advisory lock so that replicas starting
// together migrate once.
func Open(ctx context.Context, dsn string, opts *Options) (*Store, error) {
	if opts == nil {
		opts = &Options{}
	}
	cfg, err := pgxpool.ParseConfig(dsn)
	if err != nil {
		// pgconn's parse errors can quote the DSN; say only that it failed.
		return nil, errors.New("postgres: parsing the connection string failed (check its syntax)")
	}
	if opts.MaxConns > 0 {
		cfg.MaxConns = opts.MaxConns
	}
	s := &Store{now: opts.Now, host: fmt.Sprintf("%s:%d/%s", cfg.ConnConfig.Host, cfg.ConnConfig.Port, cfg.ConnConfig.Database)}
	if s.now == nil {
		s.now = time.Now
	}
	s.pool, err = pgxpool.NewWithConfig(ctx, cfg)
	if err != nil {
		return nil, fmt.Errorf("postgres: connecting to %s: %w", s.host, redact(err, cfg))
	}
	if err := s.pool.Ping(ctx); err != nil {
		s.pool.Close()
		return nil, fmt.Errorf("postgres: connecting to %s: %w", s.host, redact(err, cfg))
	}
	if err := s.migrate(ctx); err != nil {
		s.pool.Close()
		return nil, err
	}
	return s, nil
}

// redact removes the password from err's message, should a driver error
// ever quote it.
func redact(err error, cfg *pgxpool.Config) error {
	if pw := cfg.ConnConfig.Password; pw != "" && strings.Contains(err.Error(), pw) {
		return errors.New(strings.ReplaceAll(err.Error(), pw, "xxxxx"))
	}
	return err
}

// migrate applies the embedded migrations not yet recorded, under a
// session advisory lock, each in its own transaction.
func (s *Store) migrate(ctx context.Context) error {
	ms, err := migrate.List(migrations, "migrations")
	if err != nil {
		return fmt.Errorf("postgres: %w", err)
	}
	conn, err := s.pool.Acquire(ctx)
	if err != nil {
		return fmt.Errorf("postgres: migrating %s: %w", s.host, err)
	}
	defer conn.Release()
	if _, err := conn.Exec(ctx, `SELECT pg_advisory_lock($1)`, int64(lockMigrate)); err != nil {
		return fmt.Errorf("postgres: migrating %s: taking the migration lock: %w", s.host, err)
	}
	defer conn.Exec(context.Background(), `SELECT pg_advisory_unlock($1)`, int64(lockMigrate))
	if _, err := conn.Exec(ctx, `CREATE TABLE IF NOT EXISTS schema_migrations (
		version bigint      NOT NULL PRIMARY KEY,
		name    text        NOT NULL,
		applied timestamptz NOT NULL)`); err != nil {
		return fmt.Errorf("postgres: migrating %s: %w", s.host, err)
	}
	applied := map[int64]bool{}
	rows, err := conn.Query(ctx, `SELECT version FROM schema_migrations`)
	if err != nil {
		return fmt.Errorf("postgres: migrating %s: %w", s.host, err)
	}
	versions, err := pgx.CollectRows(rows, pgx.RowTo[int64])
	if err != nil {
		return fmt.Errorf("postgres: migrating %s: %w", s.host, err)
	}
	for _, v := range versions {
		applied[v] = true
	}
	for _, m := range ms {
		if applied[m.Version] {
			continue
		}
		err := pgx.BeginFunc(ctx, conn, func(tx pgx.Tx) error {
			if _, err := tx.Exec(ctx, m.SQL); err != nil {
				return err
			}
			_, err := tx.Exec(ctx, `INSERT INTO schema_migrations (version, name, applied) VALUES ($1, $2, $3)`,
				m.Version, m.Name, check.Time(s.now()))
			return err
		})
		if err != nil {
			return fmt.Errorf("postgres: migrating %s: applying %s: %w", s.host, m.Name, err)
		}
	}
	return nil
}

// write runs fn in a transaction and commits it, retrying on serialization
// failures and deadlocks. Errors are wrapped "postgres: what: ".
func (s *Store) write(ctx context.Context, what string, fn func(tx pgx.Tx) error) error {
	var err error
	for attempt := 1; attempt <= maxAttempts; attempt++ {
		err = pgx.BeginFunc(ctx, s.pool, fn)
		if err == nil {
			return nil
		}
		var pe *pgconn.PgError
		if !errors.As(err, &pe) || (pe.Code != "40001" && pe.Code != "40P01") || ctx.Err() != nil {
			break
		}
		time.Sleep(time.Duration(attempt) * 5 * time.Millisecond)
	}
	return fmt.Errorf("postgres: %s: %w", what, mapErr(err))
}

// mapErr turns a constraint violation the statements did not foresee into
// the nearest store sentinel, keeping PostgreSQL's message.
func mapErr(err error) error {
	var pe *pgconn.PgError
	if !errors.As(err, &pe) {
		return err
	}
	switch pe.Code {
	case "23505": // unique_violation
		switch pe.ConstraintName {
		case "serials_pkey":
			return fmt.Errorf("%w: %v", store.ErrDuplicateSerial, err)
		case "certified_keys_pkey":
			return fmt.Errorf("%w: %v", store.ErrDuplicatePublicKey, err)
		case "campaign_holders_pkey":
			return fmt.Errorf("%w: %v", store.ErrCampaignHolder, err)
		}
		return fmt.Errorf("%w: %v", store.ErrExists, err)
	case "23503": // foreign_key_violation
		return fmt.Errorf("%w: %v", store.ErrNotReserved, err)
	case "23514", "22P02", "22021": // check_violation, invalid text, bad encoding
		return fmt.Errorf("%w: %v", store.ErrInvalid, err)
	}
	return err
}

// orNow returns t, or the store's clock when t is zero, as stored.
func (s *Store) orNow(t time.Time) time.Time {
	if t.IsZero() {
		t = s.now()
	}
	return check.Time(t)
}

// PutCA records ca; ErrExists when a CA of that name exists.
func (s *Store) PutCA(ctx context.Context, ca *store.CA) error {
	if err := check.CA(ca); err != nil {
		return fmt.Errorf("postgres: storing CA: %w", err)
	}
	return s.write(ctx, fmt.Sprintf("storing CA %q", ca.Name), func(tx pgx.Tx) error {
		tag, err := tx.Exec(ctx, `INSERT INTO cas (name, kind, key_uri, cert_der, created)
			VALUES ($1, $2, $3, $4, $5) ON CONFLICT (name) DO NOTHING`,
			ca.Name, ca.Kind, ca.KeyURI, ca.CertDER, s.orNow(ca.Created))
		if err != nil {
			return err
		}
		if tag.RowsAffected() == 0 {
			return store.ErrExists
		}
		for i, der := range ca.ChainDER {
			if _, err := tx.Exec(ctx, `INSERT INTO ca_chain (ca, position, der) VALUES ($1, $2, $3)`, ca.Name, i, der); err != nil {
				return err
			}
		}
		return nil
	})
}

// GetCA returns the CA named name, or ErrNotFound.
func (s *Store) GetCA(ctx context.Context, name string) (*store.CA, error) {
	cas, err := s.listCAs(ctx, name)
	if err != nil {
		return nil, fmt.Errorf("postgres: reading CA %q: %w", name, err)
	}
	if len(cas) == 0 {
		return nil, fmt.Errorf("postgres: reading CA %q: %w", name, store.ErrNotFound)
	}
	return cas[0], nil
}

// ListCAs returns every CA, oldest first.
func (s *Store) ListCAs(ctx context.Context) ([]*store.CA, error) {
	cas, err := s.listCAs(ctx, "")
	if err != nil {
		return nil, fmt.Errorf("postgres: listing CAs: %w", err)
	}
	return cas, nil
}

// listCAs reads the CA named name, or all of them when name is empty, in
// one snapshot.
func (s *Store) listCAs(ctx context.Context, name string) ([]*store.CA, error) {
	var cas []*store.CA
	err := pgx.BeginTxFunc(ctx, s.pool, pgx.TxOptions{IsoLevel: pgx.RepeatableRead, AccessMode: pgx.ReadOnly}, func(tx pgx.Tx) error {
		rows, _ := tx.Query(ctx, `SELECT name, kind, key_uri, cert_der, created FROM cas
			WHERE $1 = '' OR name = $1 ORDER BY created, seq`, name)
		var err error
		cas, err = pgx.CollectRows(rows, func(row pgx.CollectableRow) (*store.CA, error) {
			ca := &store.CA{}
			err := row.Scan(&ca.Name, &ca.Kind, &ca.KeyURI, &ca.CertDER, &ca.Created)
			ca.Created = ca.Created.UTC()
			return ca, err
		})
		if err != nil {
			return err
		}
		byName := map[string]*store.CA{}
		for _, ca := range cas {
			byName[ca.Name] = ca
		}
		rows, _ = tx.Query(ctx, `SELECT ca, der FROM ca_chain WHERE $1 = '' OR ca = $1 ORDER BY ca, position`, name)
		var n string
		var der []byte
		_, err = pgx.ForEachRow(rows, []any{&n, &der}, func() error {
			if ca := byName[n]; ca != nil {
				ca.ChainDER = append(ca.ChainDER, der)
			}
			return nil
		})
		return err
	})
	return cas, err
}

// ReserveSerial claims r.Serial for r.Issuer; ErrDuplicateSerial when it is
// taken.
func (s *Store) ReserveSerial(ctx context.Context, r *store.SerialReservation) error {
	if err := check.Reservation(r); err != nil {
		return fmt.Errorf("postgres: reserving serial: %w", err)
	}
	tag, err := s.pool.Exec(ctx, `INSERT INTO serials (issuer, serial, reserved_at) VALUES ($1, $2, $3)
		ON CONFLICT (issuer, serial) DO NOTHING`, r.Issuer, r.Serial, s.orNow(r.Reserved))
	if err != nil {
		return fmt.Errorf("postgres: reserving serial %x for %q: %w", r.Serial, r.Issuer, mapErr(err))
	}
	if tag.RowsAffected() == 0 {
		return fmt.Errorf("postgres: reserving serial %x for %q: %w", r.Serial, r.Issuer, store.ErrDuplicateSerial)
	}
	return nil
}

// ReserveSerials claims every serial in rs in one transaction: all or none.
// ErrDuplicateSerial when any is taken, or appears twice in rs. It is for
// bulk loads and tests; issuance reserves one serial at a time.
func (s *Store) ReserveSerials(ctx context.Context, rs []*store.SerialReservation) error {
	issuers := make([]string, len(rs))
	serials := make([][]byte, len(rs))
	times := make([]time.Time, len(rs))
	for i, r := range rs {
		if err := check.Reservation(r); err != nil {
			return fmt.Errorf("postgres: reserving serials: %w", err)
		}
		issuers[i], serials[i], times[i] = r.Issuer, r.Serial, s.orNow(r.Reserved)
	}
	return s.write(ctx, fmt.Sprintf("reserving %d serials", len(rs)), func(tx pgx.Tx) error {
		tag, err := tx.Exec(ctx, `INSERT INTO serials (issuer, serial, reserved_at)
			SELECT * FROM unnest($1::text[], $2::bytea[], $3::timestamptz[])
			ON CONFLICT (issuer, serial) DO NOTHING`, issuers, serials, times)
		if err != nil {
			return err
		}
		if tag.RowsAffected() != int64(len(rs)) {
			return fmt.Errorf("%d of %d taken: %w", int64(len(rs))-tag.RowsAffected(), len(rs), store.ErrDuplicateSerial)
		}
		return nil
	})
}

// PutCertificate stores c after checking, in the same transaction, that its
// serial is reserved, its public key not yet certified (unless
// AllowKeyReuse), and, for a campaign certificate, that its national ID has
// no active holder.
func (s *Store) PutCertificate(ctx context.Context, c *store.Certificate) error {
	if err := check.Certificate(c); err != nil {
		return fmt.Errorf("postgres: storing certificate: %w", err)
	}
	status := c.Status
	if status == "" {
		status = store.StatusGood
	}
	nb, na, created := check.Time(c.NotBefore), check.Time(c.NotAfter), s.orNow(c.Created)
	return s.write(ctx, fmt.Sprintf("storing certificate %x from %q", c.Serial, c.Issuer), func(tx pgx.Tx) error {
		var one int
		err := tx.QueryRow(ctx, `SELECT 1 FROM serials WHERE issuer = $1 AND serial = $2`, c.Issuer, c.Serial).Scan(&one)
		if errors.Is(err, pgx.ErrNoRows) {
			return store.ErrNotReserved
		} else if err != nil {
			return err
		}
		tag, err := tx.Exec(ctx, `INSERT INTO certificates (issuer, serial, der, profile, subject,
			national_id, spki_sha256, key_uri, not_before, not_after, status, campaign, key_reuse, created)
			VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14) ON CONFLICT (issuer, serial) DO NOTHING`,
			c.Issuer, c.Serial, c.DER, c.Profile, c.Subject, c.NationalID, c.PublicKeySHA256, c.KeyURI,
			nb, na, status, c.Campaign, c.AllowKeyReuse, created)
		if err != nil {
			return err
		}
		if tag.RowsAffected() == 0 {
			return fmt.Errorf("a certificate with this serial is stored already: %w", store.ErrExists)
		}
		tag, err = tx.Exec(ctx, `INSERT INTO certified_keys (spki_sha256, issuer, serial) VALUES ($1, $2, $3)
			ON CONFLICT (spki_sha256) DO NOTHING`, c.PublicKeySHA256, c.Issuer, c.Serial)
		if err != nil {
			return err
		}
		if tag.RowsAffected() == 0 && !c.AllowKeyReuse {
			return store.ErrDuplicatePublicKey
		}
		if !c.Campaign || status == store.StatusRevoked {
			return nil
		}
		var holderStatus string
		var holderNotAfter time.Time
		err = tx.QueryRow(ctx, `SELECT c.status, c.not_after FROM campaign_holders h
			JOIN certificates c ON c.issuer = h.issuer AND c.serial = h.serial
			WHERE h.national_id = $1 FOR UPDATE OF h`, c.NationalID).Scan(&holderStatus, &holderNotAfter)
		switch {
		case errors.Is(err, pgx.ErrNoRows):
			tag, err := tx.Exec(ctx, `INSERT INTO campaign_holders (national_id, issuer, serial) VALUES ($1, $2, $3)
				ON CONFLICT (national_id) DO NOTHING`, c.NationalID, c.Issuer, c.Serial)
			if err != nil {
				return err
			}
			if tag.RowsAffected() == 0 {
				return store.ErrCampaignHolder
			}
			return nil
		case err != nil:
			return err
		}
		// RFC 5280 section 4.1.2.5: notAfter is inclusive.
		if holderStatus != store.StatusRevoked && !holderNotAfter.Before(nb) {
			return store.ErrCampaignHolder
		}
		_, err = tx.Exec(ctx, `UPDATE campaign_holders SET issuer = $1, serial = $2 WHERE national_id = $3`,
			c.Issuer, c.Serial, c.NationalID)
		return err
	})
}

const certColumns = `issuer, serial, der, profile, subject, national_id, spki_sha256, key_uri,
	not_before, not_after, status, campaign, key_reuse, created`

func scanCert(row pgx.Row) (*store.Certificate, error) {
	c := &store.Certificate{}
	if err := row.Scan(&c.Issuer, &c.Serial, &c.DER, &c.Profile, &c.Subject, &c.NationalID, &c.PublicKeySHA256,
		&c.KeyURI, &c.NotBefore, &c.NotAfter, &c.Status, &c.Campaign, &c.AllowKeyReuse, &c.Created); err != nil {
		return nil, err
	}
	c.NotBefore, c.NotAfter, c.Created = c.NotBefore.UTC(), c.NotAfter.UTC(), c.Created.UTC()
	return c, nil
}

// GetCertificate returns the certificate issuer issued with serial, or
// ErrNotFound.
func (s *Store) GetCertificate(ctx context.Context, issuer string, serial []byte) (*store.Certificate, error) {
	c, err := scanCert(s.pool.QueryRow(ctx, `SELECT `+certColumns+` FROM certificates WHERE issuer = $1 AND serial = $2`, issuer, serial))
	if errors.Is(err, pgx.ErrNoRows) {
		err = store.ErrNotFound
	}
	if err != nil {
		return nil, fmt.Errorf("postgres: reading certificate %x from %q: %w", serial, issuer, mapErr(err))
	}
	return c, nil
}

// ListCertificates returns the certificates matching f, newest first, at
// most f.Limit (≤ 0: 1000; at most 10000).
func (s *Store) ListCertificates(ctx context.Context, f *store.CertificateFilter) ([]*store.Certificate, error) {
	if err := check.Filter(f); err != nil {
		return nil, fmt.Errorf("postgres: listing certificates: %w", err)
	}
	if f == nil {
		f = &store.CertificateFilter{}
	}
	q := `SELECT ` + certColumns + ` FROM certificates WHERE true`
	var args []any
	for _, w := range []struct{ col, v string }{
		{"issuer", f.Issuer}, {"national_id", f.NationalID}, {"profile", f.Profile}, {"status", f.Status},
	} {
		if w.v != "" {
			args = append(args, w.v)
			q += fmt.Sprintf(` AND %s = $%d`, w.col, len(args))
		}
	}
	args = append(args, check.Limit(f.Limit))
	q += fmt.Sprintf(` ORDER BY created DESC, id DESC LIMIT $%d`, len(args))
	rows, _ := s.pool.Query(ctx, q, args...)
	out, err := pgx.CollectRows(rows, func(row pgx.CollectableRow) (*store.Certificate, error) { return scanCert(row) })
	if err != nil {
		return nil, fmt.Errorf("postgres: listing certificates: %w", err)
	}
	return out, nil
}

// Revoke revokes the certificate, or puts it on hold when r.Reason is
// ReasonCertificateHold. A certificate on hold may be revoked; one revoked
// gives ErrAlreadyRevoked, and so does putting a held certificate on hold
// again. Revoking a campaign certificate frees its national ID.
func (s *Store) Revoke(ctx context.Context, r *store.Revocation) error {
	if err := check.Revocation(r); err != nil {
		return fmt.Errorf("postgres: revoking: %w", err)
	}
	at := s.orNow(r.RevokedAt)
	return s.write(ctx, fmt.Sprintf("revoking certificate %x from %q", r.Serial, r.Issuer), func(tx pgx.Tx) error {
		var status, nationalID string
		var campaign bool
		err := tx.QueryRow(ctx, `SELECT status, campaign, national_id FROM certificates
			WHERE issuer = $1 AND serial = $2 FOR UPDATE`, r.Issuer, r.Serial).Scan(&status, &campaign, &nationalID)
		if errors.Is(err, pgx.ErrNoRows) {
			return store.ErrNotFound
		} else if err != nil {
			return err
		}
		next, err := nextStatus(status, r.Reason)
		if err != nil {
			return err
		}
		if _, err := tx.Exec(ctx, `UPDATE certificates SET status = $1 WHERE issuer = $2 AND serial = $3`, next, r.Issuer, r.Serial); err != nil {
			return err
		}
		if _, err := tx.Exec(ctx, `INSERT INTO revocations (issuer, serial, reason, revoked_at) VALUES ($1, $2, $3, $4)
			ON CONFLICT (issuer, serial) DO UPDATE SET reason = excluded.reason, revoked_at = excluded.revoked_at`,
			r.Issuer, r.Serial, r.Reason, at); err != nil {
			return err
		}
		if next == store.StatusRevoked && campaign {
			_, err = tx.Exec(ctx, `DELETE FROM campaign_holders WHERE national_id = $1 AND issuer = $2 AND serial = $3`,
				nationalID, r.Issuer, r.Serial)
		}
		return err
	})
}

// ReleaseHold lifts a certificate's hold: status good again, revocation
// record deleted, in one transaction. A revoked certificate gives
// ErrAlreadyRevoked, a good one ErrNotOnHold. A campaign certificate keeps
// its national ID throughout: a hold never freed it.
func (s *Store) ReleaseHold(ctx context.Context, issuer string, serial []byte) error {
	if err := check.String("issuer", issuer, check.MaxName, true); err != nil {
		return fmt.Errorf("postgres: releasing hold: %w", err)
	}
	if err := check.Serial(serial); err != nil {
		return fmt.Errorf("postgres: releasing hold: %w", err)
	}
	return s.write(ctx, fmt.Sprintf("releasing the hold on certificate %x from %q", serial, issuer), func(tx pgx.Tx) error {
		var status string
		err := tx.QueryRow(ctx, `SELECT status FROM certificates WHERE issuer = $1 AND serial = $2 FOR UPDATE`, issuer, serial).Scan(&status)
		if errors.Is(err, pgx.ErrNoRows) {
			return store.ErrNotFound
		} else if err != nil {
			return err
		}
		if err := releasable(status); err != nil {
			return err
		}
		if _, err := tx.Exec(ctx, `UPDATE certificates SET status = $1 WHERE issuer = $2 AND serial = $3`, store.StatusGood, issuer, serial); err != nil {
			return err
		}
		_, err = tx.Exec(ctx, `DELETE FROM revocations WHERE issuer = $1 AND serial = $2`, issuer, serial)
		return err
	})
}

// releasable says whether a certificate in status may have its hold
// released: ErrAlreadyRevoked or ErrNotOnHold when not.
func releasable(status string) error {
	switch status {
	case store.StatusHold:
		return nil
	case store.StatusRevoked:
		return fmt.Errorf("revoked for good, not on hold: %w", store.ErrAlreadyRevoked)
	}
	return store.ErrNotOnHold
}

// nextStatus is the status a certificate in status moves to when revoked
// for reason, or ErrAlreadyRevoked.
func nextStatus(status string, reason int) (string, error) {
	switch {
	case status == store.StatusRevoked:
		return "", store.ErrAlreadyRevoked
	case status == store.StatusHold && reason == store.ReasonCertificateHold:
		return "", fmt.Errorf("on hold already: %w", store.ErrAlreadyRevoked)
	case reason == store.ReasonCertificateHold:
		return store.StatusHold, nil
	}
	return store.StatusRevoked, nil
}

// ListRevoked returns issuer's revocations (including holds) in serial
// number order.
func (s *Store) ListRevoked(ctx context.Context, issuer string) ([]*store.Revocation, error) {
	// Serials have no leading zero bytes, so numeric order is shorter
	// first, then bytewise.
	rows, _ := s.pool.Query(ctx, `SELECT serial, reason, revoked_at FROM revocations WHERE issuer = $1
		ORDER BY octet_length(serial), serial`, issuer)
	out, err := pgx.CollectRows(rows, func(row pgx.CollectableRow) (*store.Revocation, error) {
		r := &store.Revocation{Issuer: issuer}
		err := row.Scan(&r.Serial, &r.Reason, &r.RevokedAt)
		r.RevokedAt = r.RevokedAt.UTC()
		return r, err
	})
	if err != nil {
		return nil, fmt.Errorf("postgres: listing revocations for %q: %w", issuer, mapErr(err))
	}
	return out, nil
}

// queryRevocation reads one revocation by the revocations table's primary
// key (issuer, serial).
const queryRevocation = `SELECT reason, revoked_at FROM revocations WHERE issuer = $1 AND serial = $2`

// GetRevocation returns the revocation (or hold) of issuer's certificate
// serial, or ErrNotFound when it has none.
func (s *Store) GetRevocation(ctx context.Context, issuer string, serial []byte) (*store.Revocation, error) {
	if err := check.String("issuer", issuer, check.MaxName, true); err != nil {
		return nil, fmt.Errorf("postgres: reading revocation: %w", err)
	}
	if err := check.Serial(serial); err != nil {
		return nil, fmt.Errorf("postgres: reading revocation: %w", err)
	}
	r := &store.Revocation{Issuer: issuer, Serial: append([]byte(nil), serial...)}
	err := s.pool.QueryRow(ctx, queryRevocation, issuer, serial).Scan(&r.Reason, &r.RevokedAt)
	if errors.Is(err, pgx.ErrNoRows) {
		err = store.ErrNotFound
	}
	if err != nil {
		return nil, fmt.Errorf("postgres: reading revocation of %x from %q: %w", serial, issuer, mapErr(err))
	}
	r.RevokedAt = r.RevokedAt.UTC()
	return r, nil
}

// queryKeyCertified asks both places a certified key is recorded, each
// through an index: certified_keys by its primary key, certificates by
// certificates_spki_sha256.
const queryKeyCertified = `SELECT EXISTS (SELECT 1 FROM certified_keys WHERE spki_sha256 = $1)
	OR EXISTS (SELECT 1 FROM certificates WHERE spki_sha256 = $1)`

// PublicKeyCertified reports whether a stored certificate carries the
// public key with SubjectPublicKeyInfo SHA-256 spkiSHA256.
func (s *Store) PublicKeyCertified(ctx context.Context, spkiSHA256 []byte) (bool, error) {
	if err := check.KeyHash(spkiSHA256); err != nil {
		return false, fmt.Errorf("postgres: looking up public key: %w", err)
	}
	var certified bool
	if err := s.pool.QueryRow(ctx, queryKeyCertified, spkiSHA256).Scan(&certified); err != nil {
		return false, fmt.Errorf("postgres: looking up public key %x: %w", spkiSHA256, mapErr(err))
	}
	return certified, nil
}

// NextCRLNumber returns issuer's next CRL number, starting at 1. The upsert
// takes the row lock, so concurrent callers, in any process, get
// increasing numbers.
func (s *Store) NextCRLNumber(ctx context.Context, issuer string) (int64, error) {
	return s.bump(ctx, "issuer", issuer, "CRL number for", `INSERT INTO crl_numbers AS c (issuer, last) VALUES ($1, 1)
		ON CONFLICT (issuer) DO UPDATE SET last = c.last + 1 RETURNING last`)
}

// NextSequence returns the next value of the counter name, starting at 1,
// with the same row-lock guarantee as NextCRLNumber.
func (s *Store) NextSequence(ctx context.Context, name string) (int64, error) {
	return s.bump(ctx, "sequence name", name, "next value of sequence", `INSERT INTO sequences AS q (name, last) VALUES ($1, 1)
		ON CONFLICT (name) DO UPDATE SET last = q.last + 1 RETURNING last`)
}

// bump runs an upsert that increments and returns the counter keyed by key,
// in a write transaction: what names the key for errors, doing what is
// being allocated.
func (s *Store) bump(ctx context.Context, what, key, doing, query string) (int64, error) {
	if err := check.String(what, key, check.MaxName, true); err != nil {
		return 0, fmt.Errorf("postgres: allocating %s %q: %w", doing, key, err)
	}
	var n int64
	err := s.write(ctx, fmt.Sprintf("allocating %s %q", doing, key), func(tx pgx.Tx) error {
		return tx.QueryRow(ctx, query, key).Scan(&n)
	})
	return n, err
}

// PutCRL stores crl; ErrExists when issuer has a CRL with that number.
func (s *Store) PutCRL(ctx context.Context, crl *store.CRL) error {
	if err := check.CRL(crl); err != nil {
		return fmt.Errorf("postgres: storing CRL: %w", err)
	}
	tag, err := s.pool.Exec(ctx, `INSERT INTO crls (issuer, number, der, this_update, next_update) VALUES ($1, $2, $3, $4, $5)
		ON CONFLICT (issuer, number) DO NOTHING`, crl.Issuer, crl.Number, crl.DER, check.Time(crl.ThisUpdate), check.Time(crl.NextUpdate))
	if err == nil && tag.RowsAffected() == 0 {
		err = store.ErrExists
	}
	if err != nil {
		return fmt.Errorf("postgres: storing CRL %d for %q: %w", crl.Number, crl.Issuer, mapErr(err))
	}
	return nil
}

// LatestCRL returns issuer's CRL with the highest number, or ErrNotFound.
func (s *Store) LatestCRL(ctx context.Context, issuer string) (*store.CRL, error) {
	c := &store.CRL{Issuer: issuer}
	err := s.pool.QueryRow(ctx, `SELECT number, der, this_update, next_update FROM crls WHERE issuer = $1
		ORDER BY number DESC LIMIT 1`, issuer).Scan(&c.Number, &c.DER, &c.ThisUpdate, &c.NextUpdate)
	if errors.Is(err, pgx.ErrNoRows) {
		err = store.ErrNotFound
	}
	if err != nil {
		return nil, fmt.Errorf("postgres: reading latest CRL for %q: %w", issuer, mapErr(err))
	}
	c.ThisUpdate, c.NextUpdate = c.ThisUpdate.UTC(), c.NextUpdate.UTC()
	return c, nil
}

// AppendAudit records es in one transaction and sets their IDs. A
// transaction advisory lock serialises appends, so IDs increase in commit
// order; the table refuses UPDATE, DELETE and TRUNCATE.
func (s *Store) AppendAudit(ctx context.Context, es ...*store.AuditEvent) error {
	details, err := auditDetails(es)
	if err != nil {
		return err
	}
	if len(es) == 0 {
		return nil
	}
	ids := make([]int64, len(es))
	err = s.write(ctx, fmt.Sprintf("appending %d audit event(s) %q", len(es), es[0].Action), func(tx pgx.Tx) error {
		return s.appendAuditTx(ctx, tx, es, details, ids)
	})
	if err != nil {
		return err
	}
	for i, e := range es {
		e.ID = ids[i]
	}
	return nil
}

// auditDetails checks audit events and returns their details as stored.
func auditDetails(es []*store.AuditEvent) ([]string, error) {
	details := make([]string, len(es))
	for i, e := range es {
		d, err := check.Audit(e)
		if err != nil {
			return nil, fmt.Errorf("postgres: appending audit event: %w", err)
		}
		details[i] = string(d)
	}
	return details, nil
}

// appendAuditTx inserts audit events in tx, under the audit lock that
// keeps their IDs in commit order, their IDs into ids.
func (s *Store) appendAuditTx(ctx context.Context, tx pgx.Tx, es []*store.AuditEvent, details []string, ids []int64) error {
	if _, err := tx.Exec(ctx, `SELECT pg_advisory_xact_lock($1)`, int64(lockAudit)); err != nil {
		return err
	}
	for i, e := range es {
		if err := tx.QueryRow(ctx, `INSERT INTO audit_events (time, actor, action, subject, outcome, details)
			VALUES ($1, $2, $3, $4, $5, $6::text::json) RETURNING id`,
			s.orNow(e.Time), e.Actor, e.Action, e.Subject, e.Outcome, details[i]).Scan(&ids[i]); err != nil {
			return err
		}
	}
	return nil
}

// ListAudit returns the events after ID after, in order, at most limit
// (≤ 0: 1000; at most 10000).
func (s *Store) ListAudit(ctx context.Context, after int64, limit int) ([]*store.AuditEvent, error) {
	rows, _ := s.pool.Query(ctx, `SELECT id, time, actor, action, subject, outcome, details::text FROM audit_events
		WHERE id > $1 ORDER BY id LIMIT $2`, after, check.Limit(limit))
	out, err := pgx.CollectRows(rows, func(row pgx.CollectableRow) (*store.AuditEvent, error) {
		e := &store.AuditEvent{}
		var details string
		err := row.Scan(&e.ID, &e.Time, &e.Actor, &e.Action, &e.Subject, &e.Outcome, &details)
		e.Time, e.Details = e.Time.UTC(), []byte(details)
		return e, err
	})
	if err != nil {
		return nil, fmt.Errorf("postgres: listing audit events: %w", err)
	}
	return out, nil
}

// Ping checks the database answers a query.
func (s *Store) Ping(ctx context.Context) error {
	var one int
	if err := s.pool.QueryRow(ctx, `SELECT 1`).Scan(&one); err != nil {
		return fmt.Errorf("postgres: pinging %s: %w", s.host, err)
	}
	return nil
}

// Close closes the pool's connections.
func (s *Store) Close() error {
	s.pool.Close()
	return nil
}
