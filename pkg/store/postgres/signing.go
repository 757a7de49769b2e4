package postgres

import (
	"context"
	"errors"
	"fmt"
	"sort"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"

	"github.com/kyso-pki/kyso/pkg/store"
	"github.com/kyso-pki/kyso/pkg/store/internal/check"
)

var _ store.Signing = (*Store)(nil)

// nullTime is t as stored in a nullable timestamptz column: NULL for the
// zero time.
func nullTime(t time.Time) any {
	if t.IsZero() {
		return nil
	}
	return check.Time(t)
}

// fromNullTime is the inverse of nullTime, in UTC.
func fromNullTime(t *time.Time) time.Time {
	if t == nil {
		return time.Time{}
	}
	return t.UTC()
}

// nullBytes is b as stored in a nullable bytea column: NULL when empty.
func nullBytes(b []byte) any {
	if len(b) == 0 {
		return nil
	}
	return b
}

// nullString is s as stored in a nullable text column: NULL when empty.
func nullString(s string) any {
	if s == "" {
		return nil
	}
	return s
}

// clock returns now, or the store's clock when now is zero, not yet
// truncated: a time computed from it is truncated once, as stored.
func (s *Store) clock(now time.Time) time.Time {
	if now.IsZero() {
		return s.now()
	}
	return now
}

// missingParent turns a foreign key violation into ErrNotFound naming what
// the record refers to; other errors pass unchanged.
func missingParent(err error, what string) error {
	var pe *pgconn.PgError
	if errors.As(err, &pe) && pe.Code == "23503" {
		return fmt.Errorf("%s: %w", what, store.ErrNotFound)
	}
	return err
}

// PutClient records c; ErrExists when its ID is taken.
func (s *Store) PutClient(ctx context.Context, c *store.Client) error {
	if err := check.Client(c); err != nil {
		return fmt.Errorf("postgres: storing client: %w", err)
	}
	tag, err := s.pool.Exec(ctx, `INSERT INTO clients (id, name, secret_hash, webhook_url, webhook_secret, disabled, created_at, cert_sha256, role)
		VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9) ON CONFLICT DO NOTHING`,
		c.ID, c.Name, c.SecretHash, c.WebhookURL, nullBytes(c.WebhookSecret), c.Disabled, s.orNow(c.CreatedAt), nullBytes(c.CertSHA256), role(c.Role))
	if err == nil && tag.RowsAffected() == 0 {
		err = store.ErrExists
	}
	if err != nil {
		return fmt.Errorf("postgres: storing client %q: %w", c.ID, mapErr(err))
	}
	return nil
}

// GetClient returns the client with this ID, or ErrNotFound.
func (s *Store) GetClient(ctx context.Context, id string) (*store.Client, error) {
	return s.getClient(ctx, "id", id)
}

// GetClientByCert returns the client bound to this certificate
// fingerprint, through the unique index on cert_sha256.
func (s *Store) GetClientByCert(ctx context.Context, certSHA256 []byte) (*store.Client, error) {
	if len(certSHA256) != 32 {
		return nil, fmt.Errorf("postgres: reading client by certificate: %w: a SHA-256 has 32 bytes", store.ErrInvalid)
	}
	return s.getClient(ctx, "cert_sha256", certSHA256)
}

// SetClientSecretHash replaces the client's secret hash by newHash if it
// is still oldHash, in one conditional UPDATE.
func (s *Store) SetClientSecretHash(ctx context.Context, id, oldHash, newHash string) error {
	if err := check.ID("client ID", id); err != nil {
		return fmt.Errorf("postgres: setting client secret hash: %w", err)
	}
	if err := check.String("client secret hash", newHash, check.MaxPHC, true); err != nil {
		return fmt.Errorf("postgres: setting client secret hash: %w", err)
	}
	var changed bool
	err := s.pool.QueryRow(ctx, `WITH u AS (UPDATE clients SET secret_hash = $2 WHERE id = $1 AND secret_hash = $3 RETURNING 1)
		SELECT EXISTS (SELECT 1 FROM u) FROM clients WHERE id = $1`, id, newHash, oldHash).Scan(&changed)
	switch {
	case errors.Is(err, pgx.ErrNoRows):
		err = store.ErrNotFound
	case err == nil && !changed:
		err = store.ErrConflict
	}
	if err != nil {
		return fmt.Errorf("postgres: setting the secret hash of client %q: %w", id, mapErr(err))
	}
	return nil
}

func (s *Store) getClient(ctx context.Context, col string, v any) (*store.Client, error) {
	c := &store.Client{}
	err := s.pool.QueryRow(ctx, `SELECT id, name, secret_hash, webhook_url, webhook_secret, disabled, created_at, cert_sha256, role
		FROM clients WHERE `+col+` = $1`, v).Scan(&c.ID, &c.Name, &c.SecretHash, &c.WebhookURL, &c.WebhookSecret, &c.Disabled, &c.CreatedAt, &c.CertSHA256, &c.Role)
	if errors.Is(err, pgx.ErrNoRows) {
		err = store.ErrNotFound
	}
	if err != nil {
		return nil, fmt.Errorf("postgres: reading client by %s: %w", col, mapErr(err))
	}
	c.CreatedAt = c.CreatedAt.UTC()
	return c, nil
}

const ownerColumns = `id, national_id, name, province, phone, email, pin_hash, pin_failures, locked_until,
	totp_secret, totp_last_step, created_at`

func scanOwner(row pgx.Row) (*store.Owner, error) {
	o := &store.Owner{}
	var locked *time.Time
	if err := row.Scan(&o.ID, &o.NationalID, &o.Name, &o.Province, &o.Phone, &o.Email, &o.PINHash, &o.PINFailures,
		&locked, &o.TOTPSecret, &o.TOTPLastStep, &o.CreatedAt); err != nil {
		return nil, err
	}
	o.LockedUntil, o.CreatedAt = fromNullTime(locked), o.CreatedAt.UTC()
	return o, nil
}

// PutOwner records o; ErrExists when its ID or national ID is taken.
func (s *Store) PutOwner(ctx context.Context, o *store.Owner) error {
	if err := check.Owner(o); err != nil {
		return fmt.Errorf("postgres: storing owner: %w", err)
	}
	tag, err := s.pool.Exec(ctx, `INSERT INTO owners (`+ownerColumns+`)
		VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12) ON CONFLICT DO NOTHING`,
		o.ID, o.NationalID, o.Name, o.Province, o.Phone, o.Email, o.PINHash, o.PINFailures, nullTime(o.LockedUntil),
		nullBytes(o.TOTPSecret), o.TOTPLastStep, s.orNow(o.CreatedAt))
	if err == nil && tag.RowsAffected() == 0 {
		err = fmt.Errorf("owner ID or national ID taken: %w", store.ErrExists)
	}
	if err != nil {
		return fmt.Errorf("postgres: storing owner %q: %w", o.ID, mapErr(err))
	}
	return nil
}

// GetOwner returns the owner with this ID, or ErrNotFound.
func (s *Store) GetOwner(ctx context.Context, id string) (*store.Owner, error) {
	o, err := scanOwner(s.pool.QueryRow(ctx, `SELECT `+ownerColumns+` FROM owners WHERE id = $1`, id))
	if errors.Is(err, pgx.ErrNoRows) {
		err = store.ErrNotFound
	}
	if err != nil {
		return nil, fmt.Errorf("postgres: reading owner %q: %w", id, mapErr(err))
	}
	return o, nil
}

// GetOwnerByNationalID returns the owner with this national ID, or
// ErrNotFound.
func (s *Store) GetOwnerByNationalID(ctx context.Context, nationalID string) (*store.Owner, error) {
	o, err := scanOwner(s.pool.QueryRow(ctx, `SELECT `+ownerColumns+` FROM owners WHERE national_id = $1`, nationalID))
	if errors.Is(err, pgx.ErrNoRows) {
		err = store.ErrNotFound
	}
	if err != nil {
		return nil, fmt.Errorf("postgres: reading owner with national ID %q: %w", nationalID, mapErr(err))
	}
	return o, nil
}

// ReserveAttempt reserves an attempt at the owner's factors in one UPDATE
// whose WHERE refuses it while a lock is in force: the UPDATE takes the row
// lock and computes the count and the lock from the row as the last writer
// left it, so concurrent reservations from any replica are all counted and
// at most limit granted. A refused reservation then reads the lock; should
// the lock have gone meanwhile (expired, or lifted by a success), it tries
// again.
func (s *Store) ReserveAttempt(ctx context.Context, ownerID string, limit int, lockFor time.Duration, now time.Time) (*store.Attempt, error) {
	if err := check.Attempt(ownerID, limit, lockFor); err != nil {
		return nil, fmt.Errorf("postgres: reserving a factor attempt: %w", err)
	}
	until := check.Time(s.clock(now).Add(lockFor))
	now = check.Time(s.clock(now))
	for try := 0; ; try++ {
		a := &store.Attempt{}
		var locked *time.Time
		err := s.pool.QueryRow(ctx, `UPDATE owners SET
			pin_failures = CASE WHEN locked_until <= $1 THEN 1 ELSE pin_failures + 1 END,
			locked_until = CASE WHEN (CASE WHEN locked_until <= $1 THEN 1 ELSE pin_failures + 1 END) >= $2 THEN $3::timestamptz ELSE NULL END
			WHERE id = $4 AND (locked_until IS NULL OR locked_until <= $1)
			RETURNING pin_failures, locked_until`, now, limit, until, ownerID).Scan(&a.Count, &locked)
		a.Granted = err == nil
		if errors.Is(err, pgx.ErrNoRows) {
			err = s.pool.QueryRow(ctx, `SELECT pin_failures, locked_until FROM owners WHERE id = $1`, ownerID).Scan(&a.Count, &locked)
		}
		if errors.Is(err, pgx.ErrNoRows) {
			err = store.ErrNotFound
		}
		if err != nil {
			return nil, fmt.Errorf("postgres: reserving a factor attempt of owner %q: %w", ownerID, mapErr(err))
		}
		a.LockedUntil = fromNullTime(locked)
		if a.Granted || a.LockedUntil.After(now) || try == 2 {
			return a, nil
		}
	}
}

// ReleaseAttempts sets the owner's attempt count to zero and lifts the
// lock: every factor of an attempt passed.
func (s *Store) ReleaseAttempts(ctx context.Context, ownerID string) error {
	if err := check.ID("owner ID", ownerID); err != nil {
		return fmt.Errorf("postgres: releasing factor attempts: %w", err)
	}
	tag, err := s.pool.Exec(ctx, `UPDATE owners SET pin_failures = 0, locked_until = NULL WHERE id = $1`, ownerID)
	if err == nil && tag.RowsAffected() == 0 {
		err = store.ErrNotFound
	}
	if err != nil {
		return fmt.Errorf("postgres: releasing the factor attempts of owner %q: %w", ownerID, mapErr(err))
	}
	return nil
}

// SetPIN replaces the owner's PIN hash and clears failures and lock.
func (s *Store) SetPIN(ctx context.Context, ownerID, pinHash string) error {
	if err := check.ID("owner ID", ownerID); err != nil {
		return fmt.Errorf("postgres: setting PIN: %w", err)
	}
	if err := check.String("PIN hash", pinHash, check.MaxPHC, true); err != nil {
		return fmt.Errorf("postgres: setting PIN: %w", err)
	}
	tag, err := s.pool.Exec(ctx, `UPDATE owners SET pin_hash = $1, pin_failures = 0, locked_until = NULL
		WHERE id = $2`, pinHash, ownerID)
	if err == nil && tag.RowsAffected() == 0 {
		err = store.ErrNotFound
	}
	if err != nil {
		return fmt.Errorf("postgres: setting PIN of owner %q: %w", ownerID, mapErr(err))
	}
	return nil
}

// UseTOTPStep records step as the owner's last TOTP step in one
// conditional UPDATE. Of concurrent callers with the same step, one
// changes the row; the others wait for its row lock, re-check the
// condition on the new row and change nothing (ErrReplay).
func (s *Store) UseTOTPStep(ctx context.Context, ownerID string, step int64) error {
	if err := check.ID("owner ID", ownerID); err != nil {
		return fmt.Errorf("postgres: using TOTP step: %w", err)
	}
	if step < 0 {
		return fmt.Errorf("postgres: using TOTP step: %w", check.Invalid("step %d is negative", step))
	}
	tag, err := s.pool.Exec(ctx, `UPDATE owners SET totp_last_step = $1 WHERE id = $2 AND totp_last_step < $1`, step, ownerID)
	if err == nil && tag.RowsAffected() == 0 {
		var exists bool
		err = s.pool.QueryRow(ctx, `SELECT EXISTS (SELECT 1 FROM owners WHERE id = $1)`, ownerID).Scan(&exists)
		switch {
		case err != nil:
		case exists:
			err = store.ErrReplay
		default:
			err = store.ErrNotFound
		}
	}
	if err != nil {
		return fmt.Errorf("postgres: using TOTP step %d of owner %q: %w", step, ownerID, mapErr(err))
	}
	return nil
}

const credentialColumns = `id, owner_id, key_uri, wrapped_key, algorithm, cert_issuer, cert_serial, status, created_at`

func scanCredential(row pgx.Row) (*store.Credential, error) {
	c := &store.Credential{}
	if err := row.Scan(&c.ID, &c.OwnerID, &c.KeyURI, &c.WrappedKey, &c.Algorithm, &c.CertIssuer, &c.CertSerial,
		&c.Status, &c.CreatedAt); err != nil {
		return nil, err
	}
	c.CreatedAt = c.CreatedAt.UTC()
	return c, nil
}

// PutCredential records c; ErrExists when its ID is taken, ErrNotFound when
// its owner does not exist.
func (s *Store) PutCredential(ctx context.Context, c *store.Credential) error {
	if err := check.Credential(c); err != nil {
		return fmt.Errorf("postgres: storing credential: %w", err)
	}
	status := c.Status
	if status == "" {
		status = "active"
	}
	tag, err := s.pool.Exec(ctx, `INSERT INTO credentials (`+credentialColumns+`)
		VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9) ON CONFLICT DO NOTHING`,
		c.ID, c.OwnerID, c.KeyURI, nullBytes(c.WrappedKey), c.Algorithm, c.CertIssuer, nullBytes(c.CertSerial),
		status, s.orNow(c.CreatedAt))
	if err == nil && tag.RowsAffected() == 0 {
		err = store.ErrExists
	}
	if err != nil {
		return fmt.Errorf("postgres: storing credential %q: %w", c.ID, mapErr(missingParent(err, fmt.Sprintf("owner %q", c.OwnerID))))
	}
	return nil
}

// GetCredential returns the credential with this ID, or ErrNotFound.
func (s *Store) GetCredential(ctx context.Context, id string) (*store.Credential, error) {
	c, err := scanCredential(s.pool.QueryRow(ctx, `SELECT `+credentialColumns+` FROM credentials WHERE id = $1`, id))
	if errors.Is(err, pgx.ErrNoRows) {
		err = store.ErrNotFound
	}
	if err != nil {
		return nil, fmt.Errorf("postgres: reading credential %q: %w", id, mapErr(err))
	}
	return c, nil
}

// ListCredentials returns the owner's credentials, oldest first.
func (s *Store) ListCredentials(ctx context.Context, ownerID string) ([]*store.Credential, error) {
	rows, _ := s.pool.Query(ctx, `SELECT `+credentialColumns+` FROM credentials WHERE owner_id = $1
		ORDER BY created_at, seq`, ownerID)
	out, err := pgx.CollectRows(rows, func(row pgx.CollectableRow) (*store.Credential, error) { return scanCredential(row) })
	if err != nil {
		return nil, fmt.Errorf("postgres: listing credentials of owner %q: %w", ownerID, mapErr(err))
	}
	return out, nil
}

const txColumns = `id, client_id, client_ref, credential_id, owner_id, description, documents, status, result, error,
	created_at, updated_at, expires_at`

func scanTx(row pgx.Row) (*store.Transaction, error) {
	t := &store.Transaction{}
	if err := row.Scan(&t.ID, &t.ClientID, &t.ClientRef, &t.CredentialID, &t.OwnerID, &t.Description, &t.Documents,
		&t.Status, &t.Result, &t.Error, &t.CreatedAt, &t.UpdatedAt, &t.ExpiresAt); err != nil {
		return nil, err
	}
	t.CreatedAt, t.UpdatedAt, t.ExpiresAt = t.CreatedAt.UTC(), t.UpdatedAt.UTC(), t.ExpiresAt.UTC()
	return t, nil
}

// CreateTransaction records t, or returns the transaction the client
// already has under t.ClientRef and false. INSERT ... ON CONFLICT
// (client_id, client_ref) DO NOTHING waits for a concurrent insert of the
// same reference to commit; the SELECT after it, a new statement with a
// new snapshot at READ COMMITTED, then sees the row that won. ErrExists
// when t.ID is taken by another transaction; ErrNotFound when the client,
// or the credential with that owner, does not exist.
func (s *Store) CreateTransaction(ctx context.Context, t *store.Transaction) (*store.Transaction, bool, error) {
	if err := check.Transaction(t); err != nil {
		return nil, false, fmt.Errorf("postgres: creating transaction: %w", err)
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
	err := s.write(ctx, fmt.Sprintf("creating transaction %q for client %q", t.ClientRef, t.ClientID), func(tx pgx.Tx) error {
		existing = nil
		tag, err := tx.Exec(ctx, `INSERT INTO transactions (`+txColumns+`)
			VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13) ON CONFLICT (client_id, client_ref) DO NOTHING`,
			nt.ID, nt.ClientID, nt.ClientRef, nt.CredentialID, nt.OwnerID, nt.Description, nt.Documents, nt.Status,
			nullBytes(nt.Result), nt.Error, nt.CreatedAt, nt.UpdatedAt, nt.ExpiresAt)
		if err != nil {
			return missingParent(err, fmt.Sprintf("client %q, or credential %q of owner %q", t.ClientID, t.CredentialID, t.OwnerID))
		}
		if tag.RowsAffected() > 0 {
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
	t, err := scanTx(s.pool.QueryRow(ctx, `SELECT `+txColumns+` FROM transactions WHERE id = $1`, id))
	if errors.Is(err, pgx.ErrNoRows) {
		err = store.ErrNotFound
	}
	if err != nil {
		return nil, fmt.Errorf("postgres: reading transaction %q: %w", id, mapErr(err))
	}
	return t, nil
}

// queryTransactions lists transactions newest first; the filters that are
// set are appended, and an index on (owner_id or client_id, status,
// created_at, seq) serves them in order.
const queryTransactions = `SELECT ` + txColumns + ` FROM transactions WHERE true`

// ListTransactions returns the transactions matching f, newest first, at
// most f.Limit (0: 100; at most 1000).
func (s *Store) ListTransactions(ctx context.Context, f *store.TransactionFilter) ([]*store.Transaction, error) {
	limit, err := check.TxFilter(f)
	if err != nil {
		return nil, fmt.Errorf("postgres: listing transactions: %w", err)
	}
	if f == nil {
		f = &store.TransactionFilter{}
	}
	q := queryTransactions
	var args []any
	for _, w := range []struct{ col, v string }{
		{"client_id", f.ClientID}, {"owner_id", f.OwnerID}, {"status", string(f.Status)},
	} {
		if w.v != "" {
			args = append(args, w.v)
			q += fmt.Sprintf(` AND %s = $%d`, w.col, len(args))
		}
	}
	args = append(args, limit)
	q += fmt.Sprintf(` ORDER BY created_at DESC, seq DESC LIMIT $%d`, len(args))
	rows, _ := s.pool.Query(ctx, q, args...)
	out, err := pgx.CollectRows(rows, func(row pgx.CollectableRow) (*store.Transaction, error) { return scanTx(row) })
	if err != nil {
		return nil, fmt.Errorf("postgres: listing transactions: %w", mapErr(err))
	}
	return out, nil
}

// UpdateTransaction moves the transaction from status from to t.Status in
// one conditional UPDATE (compare and set). Concurrent callers moving it
// from the same status queue on the row lock; the first changes it, and
// the others re-check the condition against its new status and get
// ErrConflict. ErrNotFound when there is no such transaction.
func (s *Store) UpdateTransaction(ctx context.Context, t *store.Transaction, from store.TransactionStatus) error {
	if err := check.TxUpdate(t, from); err != nil {
		return fmt.Errorf("postgres: updating transaction: %w", err)
	}
	tag, err := s.pool.Exec(ctx, `UPDATE transactions SET status = $1, result = $2, error = $3, updated_at = $4
		WHERE id = $5 AND status = $6`, t.Status, nullBytes(t.Result), t.Error, s.orNow(t.UpdatedAt), t.ID, from)
	if err == nil && tag.RowsAffected() == 0 {
		var status string
		err = s.pool.QueryRow(ctx, `SELECT status FROM transactions WHERE id = $1`, t.ID).Scan(&status)
		switch {
		case errors.Is(err, pgx.ErrNoRows):
			err = store.ErrNotFound
		case err == nil:
			err = fmt.Errorf("status is %s: %w", status, store.ErrConflict)
		}
	}
	if err != nil {
		return fmt.Errorf("postgres: updating transaction %q from %s to %s: %w", t.ID, from, t.Status, mapErr(err))
	}
	return nil
}

// PutActivation records activation data; ErrExists when its SAD hash is
// recorded already, ErrNotFound when its credential or transaction does
// not exist.
func (s *Store) PutActivation(ctx context.Context, a *store.Activation) error {
	if err := check.Activation(a); err != nil {
		return fmt.Errorf("postgres: storing activation: %w", err)
	}
	hashes := a.Hashes
	if hashes == nil {
		hashes = [][]byte{}
	}
	tag, err := s.pool.Exec(ctx, `INSERT INTO activations (sad_hash, credential_id, transaction_id, hash_algorithm,
		hashes, remaining, expires_at, created_at, id, client_id) VALUES ($1, $2, $3, $4, $5::bytea[], $6, $7, $8, $9, $10)
		ON CONFLICT DO NOTHING`,
		a.SADHash, a.CredentialID, nullString(a.TransactionID), a.HashAlgorithm, hashes, a.Remaining,
		check.Time(a.ExpiresAt), s.orNow(a.CreatedAt), a.ID, a.ClientID)
	if err == nil && tag.RowsAffected() == 0 {
		err = store.ErrExists
	}
	if err != nil {
		err = missingParent(err, fmt.Sprintf("credential %q or transaction %q", a.CredentialID, a.TransactionID))
		return fmt.Errorf("postgres: storing activation %x: %w", a.SADHash, mapErr(err))
	}
	return nil
}

// GetActivation returns the activation data with this SAD hash, expired or
// not, or ErrNotFound.
func (s *Store) GetActivation(ctx context.Context, sadHash []byte) (*store.Activation, error) {
	if err := check.SADHash(sadHash); err != nil {
		return nil, fmt.Errorf("postgres: reading activation: %w", err)
	}
	a := &store.Activation{}
	var txID *string
	err := s.pool.QueryRow(ctx, `SELECT sad_hash, credential_id, transaction_id, hash_algorithm, hashes, remaining,
		expires_at, created_at, id, client_id FROM activations WHERE sad_hash = $1`, sadHash).Scan(&a.SADHash, &a.CredentialID, &txID,
		&a.HashAlgorithm, &a.Hashes, &a.Remaining, &a.ExpiresAt, &a.CreatedAt, &a.ID, &a.ClientID)
	if errors.Is(err, pgx.ErrNoRows) {
		err = store.ErrNotFound
	}
	if err != nil {
		return nil, fmt.Errorf("postgres: reading activation %x: %w", sadHash, mapErr(err))
	}
	if len(a.Hashes) == 0 {
		a.Hashes = nil
	}
	if txID != nil {
		a.TransactionID = *txID
	}
	a.ExpiresAt, a.CreatedAt = a.ExpiresAt.UTC(), a.CreatedAt.UTC()
	return a, nil
}

// UseActivation takes n uses in one conditional UPDATE (remaining >= n and
// not expired at now). Concurrent callers queue on the row lock and each
// re-checks the condition against what the one before left, so no more
// uses are taken than were approved. When nothing changes, a read tells
// ErrReplay (uses exhausted) from ErrNotFound (absent or expired): uses
// only go down and the expiry never changes, so the read cannot mislead.
func (s *Store) UseActivation(ctx context.Context, sadHash []byte, n int, now time.Time, audit ...*store.AuditEvent) error {
	if err := check.SADHash(sadHash); err != nil {
		return fmt.Errorf("postgres: using activation: %w", err)
	}
	if err := check.Uses(n); err != nil {
		return fmt.Errorf("postgres: using activation: %w", err)
	}
	details, err := auditDetails(audit)
	if err != nil {
		return err
	}
	ids := make([]int64, len(audit))
	at := s.orNow(now)
	used := false
	if len(audit) == 0 {
		// One statement, no transaction to open.
		tag, err := s.pool.Exec(ctx, `UPDATE activations SET remaining = remaining - $1
			WHERE sad_hash = $2 AND remaining >= $1 AND expires_at > $3`, n, sadHash, at)
		if err != nil {
			return fmt.Errorf("postgres: using activation %x %d times: %w", sadHash, n, mapErr(err))
		}
		used = tag.RowsAffected() > 0
	} else {
		err = s.write(ctx, fmt.Sprintf("using activation %x %d times", sadHash, n), func(tx pgx.Tx) error {
			used = false
			tag, err := tx.Exec(ctx, `UPDATE activations SET remaining = remaining - $1
				WHERE sad_hash = $2 AND remaining >= $1 AND expires_at > $3`, n, sadHash, at)
			if err != nil || tag.RowsAffected() == 0 {
				return err
			}
			used = true
			return s.appendAuditTx(ctx, tx, audit, details, ids)
		})
		if err != nil {
			return err
		}
	}
	if used {
		for i, e := range audit {
			e.ID = ids[i]
		}
		return nil
	}
	var remaining int
	var expires time.Time
	err = s.pool.QueryRow(ctx, `SELECT remaining, expires_at FROM activations WHERE sad_hash = $1`, sadHash).Scan(&remaining, &expires)
	switch {
	case errors.Is(err, pgx.ErrNoRows):
		err = store.ErrNotFound
	case err != nil:
	case !expires.After(at):
		err = fmt.Errorf("expired at %v: %w", expires.UTC(), store.ErrNotFound)
	default:
		err = fmt.Errorf("%d uses remain: %w", remaining, store.ErrReplay)
	}
	return fmt.Errorf("postgres: using activation %x %d times: %w", sadHash, n, mapErr(err))
}

// PutToken records an access token; ErrExists when its hash is recorded
// already.
func (s *Store) PutToken(ctx context.Context, t *store.Token) error {
	if err := check.Token(t); err != nil {
		return fmt.Errorf("postgres: storing token: %w", err)
	}
	tag, err := s.pool.Exec(ctx, `INSERT INTO tokens (hash, kind, subject, scope, expires_at, cert_sha256) VALUES ($1, $2, $3, $4, $5, $6)
		ON CONFLICT DO NOTHING`, t.Hash, t.Kind, t.Subject, t.Scope, check.Time(t.ExpiresAt), nullBytes(t.CertSHA256))
	if err == nil && tag.RowsAffected() == 0 {
		err = store.ErrExists
	}
	if err != nil {
		return fmt.Errorf("postgres: storing token: %w", mapErr(err))
	}
	return nil
}

// GetToken returns the token with this hash if it has not expired at now,
// or ErrNotFound.
func (s *Store) GetToken(ctx context.Context, hash []byte, now time.Time) (*store.Token, error) {
	if err := check.TokenHash(hash); err != nil {
		return nil, fmt.Errorf("postgres: reading token: %w", err)
	}
	t := &store.Token{}
	err := s.pool.QueryRow(ctx, `SELECT hash, kind, subject, scope, expires_at, cert_sha256 FROM tokens
		WHERE hash = $1 AND expires_at > $2`, hash, s.orNow(now)).Scan(&t.Hash, &t.Kind, &t.Subject, &t.Scope, &t.ExpiresAt, &t.CertSHA256)
	if errors.Is(err, pgx.ErrNoRows) {
		err = store.ErrNotFound
	}
	if err != nil {
		return nil, fmt.Errorf("postgres: reading token: %w", mapErr(err))
	}
	t.ExpiresAt = t.ExpiresAt.UTC()
	return t, nil
}

// DeleteToken removes the token with this hash, if there is one.
func (s *Store) DeleteToken(ctx context.Context, hash []byte) error {
	if err := check.TokenHash(hash); err != nil {
		return fmt.Errorf("postgres: deleting token: %w", err)
	}
	if _, err := s.pool.Exec(ctx, `DELETE FROM tokens WHERE hash = $1`, hash); err != nil {
		return fmt.Errorf("postgres: deleting token: %w", mapErr(err))
	}
	return nil
}

// EnqueueWebhook adds w to the outbox, due at w.NextAttempt (zero: now),
// and sets w.ID. ErrNotFound when its client does not exist.
func (s *Store) EnqueueWebhook(ctx context.Context, w *store.Webhook) error {
	if err := check.Webhook(w); err != nil {
		return fmt.Errorf("postgres: enqueueing webhook: %w", err)
	}
	var id int64
	err := s.pool.QueryRow(ctx, `INSERT INTO webhooks (client_id, url, body, attempts, next_attempt, last_error)
		VALUES ($1, $2, $3, $4, $5, $6) RETURNING id`, w.ClientID, w.URL, w.Body, w.Attempts, s.orNow(w.NextAttempt),
		w.LastError).Scan(&id)
	if err != nil {
		err = missingParent(err, fmt.Sprintf("client %q", w.ClientID))
		return fmt.Errorf("postgres: enqueueing webhook for client %q: %w", w.ClientID, mapErr(err))
	}
	w.ID = id
	return nil
}

// queryClaim leases the due undelivered webhooks, earliest due first, in
// one statement. FOR UPDATE SKIP LOCKED passes over rows another claimer
// has locked; a row another claimer leased and committed since this
// statement's snapshot is re-checked when locked, found no longer due, and
// left out. webhooks_due finds the rows.
const queryClaim = `UPDATE webhooks SET next_attempt = $1 WHERE id IN (
	SELECT id FROM webhooks WHERE delivered_at IS NULL AND next_attempt <= $2
	ORDER BY next_attempt, id LIMIT $3 FOR UPDATE SKIP LOCKED)
	RETURNING id, client_id, url, body, attempts, next_attempt, last_error`

// ClaimWebhooks leases up to limit webhooks due at now until now+lease and
// returns them in ID order, NextAttempt set to the lease's end.
func (s *Store) ClaimWebhooks(ctx context.Context, now time.Time, lease time.Duration, limit int) ([]*store.Webhook, error) {
	if err := check.Claim(lease, limit); err != nil {
		return nil, fmt.Errorf("postgres: claiming webhooks: %w", err)
	}
	now = s.clock(now)
	rows, _ := s.pool.Query(ctx, queryClaim, check.Time(now.Add(lease)), check.Time(now), limit)
	out, err := pgx.CollectRows(rows, func(row pgx.CollectableRow) (*store.Webhook, error) {
		w := &store.Webhook{}
		err := row.Scan(&w.ID, &w.ClientID, &w.URL, &w.Body, &w.Attempts, &w.NextAttempt, &w.LastError)
		w.NextAttempt = w.NextAttempt.UTC()
		return w, err
	})
	if err != nil {
		return nil, fmt.Errorf("postgres: claiming webhooks: %w", mapErr(err))
	}
	sort.Slice(out, func(i, j int) bool { return out[i].ID < out[j].ID })
	return out, nil
}

// FinishWebhook records an attempt at webhook id: delivered (now), or
// failed and due again at next, or given up when next is zero. ErrNotFound
// for an unknown webhook; ErrConflict when it was delivered already (by a
// replica whose lease it outlived).
func (s *Store) FinishWebhook(ctx context.Context, id int64, delivered bool, next time.Time, lastError string) error {
	if id < 1 {
		return fmt.Errorf("postgres: finishing webhook: %w", check.Invalid("webhook ID %d is not positive", id))
	}
	if err := check.String("webhook error", lastError, check.MaxError, false); err != nil {
		return fmt.Errorf("postgres: finishing webhook: %w", err)
	}
	var deliveredAt, nextAttempt any
	if delivered {
		deliveredAt = check.Time(s.now())
	} else {
		nextAttempt = nullTime(next)
	}
	tag, err := s.pool.Exec(ctx, `UPDATE webhooks SET attempts = attempts + 1, delivered_at = $1, next_attempt = $2,
		last_error = $3 WHERE id = $4 AND delivered_at IS NULL`, deliveredAt, nextAttempt, lastError, id)
	if err == nil && tag.RowsAffected() == 0 {
		var exists bool
		err = s.pool.QueryRow(ctx, `SELECT EXISTS (SELECT 1 FROM webhooks WHERE id = $1)`, id).Scan(&exists)
		switch {
		case err != nil:
		case exists:
			err = fmt.Errorf("delivered already: %w", store.ErrConflict)
		default:
			err = store.ErrNotFound
		}
	}
	if err != nil {
		return fmt.Errorf("postgres: finishing webhook %d: %w", id, mapErr(err))
	}
	return nil
}

// GetTransactionByRef returns the client's transaction with reference
// clientRef, through the unique (client_id, client_ref) index.
func (s *Store) GetTransactionByRef(ctx context.Context, clientID, clientRef string) (*store.Transaction, error) {
	t, err := scanTx(s.pool.QueryRow(ctx, `SELECT `+txColumns+` FROM transactions WHERE client_id = $1 AND client_ref = $2`, clientID, clientRef))
	if errors.Is(err, pgx.ErrNoRows) {
		err = store.ErrNotFound
	}
	if err != nil {
		return nil, fmt.Errorf("postgres: reading transaction %q of client %q: %w", clientRef, clientID, mapErr(err))
	}
	return t, nil
}

// ListOverdue returns pending transactions past their expiry, the longest
// overdue first, through the (status, expires_at) index.
func (s *Store) ListOverdue(ctx context.Context, now time.Time, limit int) ([]*store.Transaction, error) {
	if limit < 1 || limit > 1000 {
		return nil, fmt.Errorf("postgres: listing overdue transactions: %w: limit %d is not 1 to 1000", store.ErrInvalid, limit)
	}
	rows, err := s.pool.Query(ctx, `SELECT `+txColumns+` FROM transactions WHERE status = 'pending' AND expires_at <= $1 ORDER BY expires_at, id LIMIT $2`, now.UTC(), limit)
	if err != nil {
		return nil, fmt.Errorf("postgres: listing overdue transactions: %w", mapErr(err))
	}
	defer rows.Close()
	var out []*store.Transaction
	for rows.Next() {
		t, err := scanTx(rows)
		if err != nil {
			return nil, fmt.Errorf("postgres: listing overdue transactions: %w", mapErr(err))
		}
		out = append(out, t)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("postgres: listing overdue transactions: %w", mapErr(err))
	}
	return out, nil
}

// role stores an empty role as the relying party's.
func role(r string) string {
	if r == "" {
		return store.RoleRelyingParty
	}
	return r
}
