package sqlite

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"sort"
	"time"

	sqlite "modernc.org/sqlite"
	sqlite3 "modernc.org/sqlite/lib"

	"github.com/kyso-pki/kyso/pkg/store"
	"github.com/kyso-pki/kyso/pkg/store/internal/check"
)

var _ store.Signing = (*Store)(nil)

// nullMicro is t as stored in a nullable time column: NULL for the zero
// time.
func nullMicro(t time.Time) any {
	if t.IsZero() {
		return nil
	}
	return micro(t)
}

// fromNullMicro is the inverse of nullMicro.
func fromNullMicro(n sql.NullInt64) time.Time {
	if !n.Valid {
		return time.Time{}
	}
	return fromMicro(n.Int64)
}

// nullBytes is b as stored in a nullable BLOB column: NULL when empty.
func nullBytes(b []byte) any {
	if len(b) == 0 {
		return nil
	}
	return b
}

// nullString is s as stored in a nullable TEXT column: NULL when empty.
func nullString(s string) any {
	if s == "" {
		return nil
	}
	return s
}

// missingParent turns a foreign key violation into ErrNotFound naming what
// the record refers to; other errors pass unchanged.
func missingParent(err error, what string) error {
	var se *sqlite.Error
	if errors.As(err, &se) && se.Code() == sqlite3.SQLITE_CONSTRAINT_FOREIGNKEY {
		return fmt.Errorf("%s: %w", what, store.ErrNotFound)
	}
	return err
}

// affected returns the rows res changed.
func affected(res sql.Result, err error) (int64, error) {
	if err != nil {
		return 0, err
	}
	return res.RowsAffected()
}

// PutClient records c; ErrExists when its ID is taken.
func (s *Store) PutClient(ctx context.Context, c *store.Client) error {
	if err := check.Client(c); err != nil {
		return fmt.Errorf("sqlite: storing client: %w", err)
	}
	return s.write(ctx, fmt.Sprintf("storing client %q", c.ID), func(tx *sql.Tx) error {
		n, err := affected(tx.ExecContext(ctx, `INSERT INTO clients (id, name, secret_hash, webhook_url, webhook_secret,
			disabled, created_at, cert_sha256, role) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?) ON CONFLICT DO NOTHING`,
			c.ID, c.Name, c.SecretHash, c.WebhookURL, nullBytes(c.WebhookSecret), c.Disabled, micro(s.orNow(c.CreatedAt)), nullBytes(c.CertSHA256), role(c.Role)))
		if err == nil && n == 0 {
			err = store.ErrExists
		}
		return err
	})
}

// GetClient returns the client with this ID, or ErrNotFound.
func (s *Store) GetClient(ctx context.Context, id string) (*store.Client, error) {
	return s.getClient(ctx, "id", id)
}

// GetClientByCert returns the client bound to this certificate
// fingerprint, through the unique index on cert_sha256.
func (s *Store) GetClientByCert(ctx context.Context, certSHA256 []byte) (*store.Client, error) {
	if len(certSHA256) != 32 {
		return nil, fmt.Errorf("sqlite: reading client by certificate: %w: a SHA-256 has 32 bytes", store.ErrInvalid)
	}
	return s.getClient(ctx, "cert_sha256", certSHA256)
}

// SetClientSecretHash replaces the client's secret hash by newHash if it
// is still oldHash, in one conditional UPDATE.
func (s *Store) SetClientSecretHash(ctx context.Context, id, oldHash, newHash string) error {
	if err := check.ID("client ID", id); err != nil {
		return fmt.Errorf("sqlite: setting client secret hash: %w", err)
	}
	if err := check.String("client secret hash", newHash, check.MaxPHC, true); err != nil {
		return fmt.Errorf("sqlite: setting client secret hash: %w", err)
	}
	return s.write(ctx, fmt.Sprintf("setting the secret hash of client %q", id), func(tx *sql.Tx) error {
		n, err := affected(tx.ExecContext(ctx, `UPDATE clients SET secret_hash = ? WHERE id = ? AND secret_hash = ?`, newHash, id, oldHash))
		if err != nil || n == 1 {
			return err
		}
		var one int
		if err := tx.QueryRowContext(ctx, `SELECT 1 FROM clients WHERE id = ?`, id).Scan(&one); errors.Is(err, sql.ErrNoRows) {
			return store.ErrNotFound
		} else if err != nil {
			return err
		}
		return store.ErrConflict
	})
}

func (s *Store) getClient(ctx context.Context, col string, v any) (*store.Client, error) {
	c := &store.Client{}
	var created int64
	err := s.r.QueryRowContext(ctx, `SELECT id, name, secret_hash, webhook_url, webhook_secret, disabled, created_at, cert_sha256, role
		FROM clients WHERE `+col+` = ?`, v).Scan(&c.ID, &c.Name, &c.SecretHash, &c.WebhookURL, &c.WebhookSecret, &c.Disabled, &created, &c.CertSHA256, &c.Role)
	if errors.Is(err, sql.ErrNoRows) {
		err = store.ErrNotFound
	}
	if err != nil {
		return nil, fmt.Errorf("sqlite: reading client by %s: %w", col, err)
	}
	c.CreatedAt = fromMicro(created)
	return c, nil
}

const ownerColumns = `id, national_id, name, province, phone, email, pin_hash, pin_failures, locked_until,
	totp_secret, totp_last_step, created_at`

func scanOwner(row interface{ Scan(...any) error }) (*store.Owner, error) {
	o := &store.Owner{}
	var locked sql.NullInt64
	var created int64
	if err := row.Scan(&o.ID, &o.NationalID, &o.Name, &o.Province, &o.Phone, &o.Email, &o.PINHash, &o.PINFailures,
		&locked, &o.TOTPSecret, &o.TOTPLastStep, &created); err != nil {
		return nil, err
	}
	o.LockedUntil, o.CreatedAt = fromNullMicro(locked), fromMicro(created)
	return o, nil
}

// PutOwner records o; ErrExists when its ID or national ID is taken.
func (s *Store) PutOwner(ctx context.Context, o *store.Owner) error {
	if err := check.Owner(o); err != nil {
		return fmt.Errorf("sqlite: storing owner: %w", err)
	}
	return s.write(ctx, fmt.Sprintf("storing owner %q", o.ID), func(tx *sql.Tx) error {
		n, err := affected(tx.ExecContext(ctx, `INSERT INTO owners (`+ownerColumns+`)
			VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?) ON CONFLICT DO NOTHING`,
			o.ID, o.NationalID, o.Name, o.Province, o.Phone, o.Email, o.PINHash, o.PINFailures, nullMicro(o.LockedUntil),
			nullBytes(o.TOTPSecret), o.TOTPLastStep, micro(s.orNow(o.CreatedAt))))
		if err == nil && n == 0 {
			err = fmt.Errorf("owner ID or national ID taken: %w", store.ErrExists)
		}
		return err
	})
}

// GetOwner returns the owner with this ID, or ErrNotFound.
func (s *Store) GetOwner(ctx context.Context, id string) (*store.Owner, error) {
	o, err := scanOwner(s.r.QueryRowContext(ctx, `SELECT `+ownerColumns+` FROM owners WHERE id = ?`, id))
	if errors.Is(err, sql.ErrNoRows) {
		err = store.ErrNotFound
	}
	if err != nil {
		return nil, fmt.Errorf("sqlite: reading owner %q: %w", id, err)
	}
	return o, nil
}

// GetOwnerByNationalID returns the owner with this national ID, or
// ErrNotFound.
func (s *Store) GetOwnerByNationalID(ctx context.Context, nationalID string) (*store.Owner, error) {
	o, err := scanOwner(s.r.QueryRowContext(ctx, `SELECT `+ownerColumns+` FROM owners WHERE national_id = ?`, nationalID))
	if errors.Is(err, sql.ErrNoRows) {
		err = store.ErrNotFound
	}
	if err != nil {
		return nil, fmt.Errorf("sqlite: reading owner with national ID %q: %w", nationalID, err)
	}
	return o, nil
}

// ReserveAttempt reserves an attempt at the owner's factors in one UPDATE
// whose WHERE refuses it while a lock is in force; the count and the lock
// are computed from the row as the single writer finds it, so concurrent
// reservations are all counted and at most limit granted. A refused
// reservation reads the lock in the same transaction.
func (s *Store) ReserveAttempt(ctx context.Context, ownerID string, limit int, lockFor time.Duration, now time.Time) (*store.Attempt, error) {
	if err := check.Attempt(ownerID, limit, lockFor); err != nil {
		return nil, fmt.Errorf("sqlite: reserving a factor attempt: %w", err)
	}
	now = s.orNow(now)
	a := &store.Attempt{}
	err := s.write(ctx, fmt.Sprintf("reserving a factor attempt of owner %q", ownerID), func(tx *sql.Tx) error {
		var locked sql.NullInt64
		err := tx.QueryRowContext(ctx, `UPDATE owners SET
			pin_failures = CASE WHEN locked_until <= ?1 THEN 1 ELSE pin_failures + 1 END,
			locked_until = CASE WHEN (CASE WHEN locked_until <= ?1 THEN 1 ELSE pin_failures + 1 END) >= ?2 THEN ?3 ELSE NULL END
			WHERE id = ?4 AND (locked_until IS NULL OR locked_until <= ?1)
			RETURNING pin_failures, locked_until`, micro(now), limit, micro(now.Add(lockFor)), ownerID).Scan(&a.Count, &locked)
		a.Granted = err == nil
		if errors.Is(err, sql.ErrNoRows) {
			err = tx.QueryRowContext(ctx, `SELECT pin_failures, locked_until FROM owners WHERE id = ?`, ownerID).Scan(&a.Count, &locked)
		}
		if errors.Is(err, sql.ErrNoRows) {
			return store.ErrNotFound
		}
		a.LockedUntil = fromNullMicro(locked)
		return err
	})
	if err != nil {
		return nil, err
	}
	return a, nil
}

// ReleaseAttempts sets the owner's attempt count to zero and lifts the
// lock: every factor of an attempt passed.
func (s *Store) ReleaseAttempts(ctx context.Context, ownerID string) error {
	if err := check.ID("owner ID", ownerID); err != nil {
		return fmt.Errorf("sqlite: releasing factor attempts: %w", err)
	}
	return s.write(ctx, fmt.Sprintf("releasing the factor attempts of owner %q", ownerID), func(tx *sql.Tx) error {
		n, err := affected(tx.ExecContext(ctx, `UPDATE owners SET pin_failures = 0, locked_until = NULL WHERE id = ?`, ownerID))
		if err == nil && n == 0 {
			err = store.ErrNotFound
		}
		return err
	})
}

// SetPIN replaces the owner's PIN hash and clears failures and lock.
func (s *Store) SetPIN(ctx context.Context, ownerID, pinHash string) error {
	if err := check.ID("owner ID", ownerID); err != nil {
		return fmt.Errorf("sqlite: setting PIN: %w", err)
	}
	if err := check.String("PIN hash", pinHash, check.MaxPHC, true); err != nil {
		return fmt.Errorf("sqlite: setting PIN: %w", err)
	}
	return s.write(ctx, fmt.Sprintf("setting PIN of owner %q", ownerID), func(tx *sql.Tx) error {
		n, err := affected(tx.ExecContext(ctx, `UPDATE owners SET pin_hash = ?, pin_failures = 0, locked_until = NULL
			WHERE id = ?`, pinHash, ownerID))
		if err == nil && n == 0 {
			err = store.ErrNotFound
		}
		return err
	})
}

// UseTOTPStep records step as the owner's last TOTP step, in one
// conditional UPDATE: of several callers with the same step, one changes
// the row and the others find the condition false (ErrReplay).
func (s *Store) UseTOTPStep(ctx context.Context, ownerID string, step int64) error {
	if err := check.ID("owner ID", ownerID); err != nil {
		return fmt.Errorf("sqlite: using TOTP step: %w", err)
	}
	if step < 0 {
		return fmt.Errorf("sqlite: using TOTP step: %w", check.Invalid("step %d is negative", step))
	}
	return s.write(ctx, fmt.Sprintf("using TOTP step %d of owner %q", step, ownerID), func(tx *sql.Tx) error {
		n, err := affected(tx.ExecContext(ctx, `UPDATE owners SET totp_last_step = ?1
			WHERE id = ?2 AND totp_last_step < ?1`, step, ownerID))
		if err != nil || n > 0 {
			return err
		}
		var one int
		err = tx.QueryRowContext(ctx, `SELECT 1 FROM owners WHERE id = ?`, ownerID).Scan(&one)
		if errors.Is(err, sql.ErrNoRows) {
			return store.ErrNotFound
		} else if err != nil {
			return err
		}
		return store.ErrReplay
	})
}

const credentialColumns = `id, owner_id, key_uri, wrapped_key, algorithm, cert_issuer, cert_serial, status, created_at`

func scanCredential(row interface{ Scan(...any) error }) (*store.Credential, error) {
	c := &store.Credential{}
	var created int64
	if err := row.Scan(&c.ID, &c.OwnerID, &c.KeyURI, &c.WrappedKey, &c.Algorithm, &c.CertIssuer, &c.CertSerial,
		&c.Status, &created); err != nil {
		return nil, err
	}
	c.CreatedAt = fromMicro(created)
	return c, nil
}

// PutCredential records c; ErrExists when its ID is taken, ErrNotFound when
// its owner does not exist.
func (s *Store) PutCredential(ctx context.Context, c *store.Credential) error {
	if err := check.Credential(c); err != nil {
		return fmt.Errorf("sqlite: storing credential: %w", err)
	}
	status := c.Status
	if status == "" {
		status = "active"
	}
	return s.write(ctx, fmt.Sprintf("storing credential %q", c.ID), func(tx *sql.Tx) error {
		n, err := affected(tx.ExecContext(ctx, `INSERT INTO credentials (`+credentialColumns+`)
			VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?) ON CONFLICT DO NOTHING`,
			c.ID, c.OwnerID, c.KeyURI, nullBytes(c.WrappedKey), c.Algorithm, c.CertIssuer, nullBytes(c.CertSerial),
			status, micro(s.orNow(c.CreatedAt))))
		if err != nil {
			return missingParent(err, fmt.Sprintf("owner %q", c.OwnerID))
		}
		if n == 0 {
			return store.ErrExists
		}
		return nil
	})
}

// GetCredential returns the credential with this ID, or ErrNotFound.
func (s *Store) GetCredential(ctx context.Context, id string) (*store.Credential, error) {
	c, err := scanCredential(s.readRow(ctx, `SELECT `+credentialColumns+` FROM credentials WHERE id = ?`, id))
	if errors.Is(err, sql.ErrNoRows) {
		err = store.ErrNotFound
	}
	if err != nil {
		return nil, fmt.Errorf("sqlite: reading credential %q: %w", id, err)
	}
	return c, nil
}

// ListCredentials returns the owner's credentials, oldest first.
func (s *Store) ListCredentials(ctx context.Context, ownerID string) ([]*store.Credential, error) {
	rows, err := s.r.QueryContext(ctx, `SELECT `+credentialColumns+` FROM credentials WHERE owner_id = ?
		ORDER BY created_at, rowid`, ownerID)
	if err != nil {
		return nil, fmt.Errorf("sqlite: listing credentials of owner %q: %w", ownerID, err)
	}
	defer rows.Close()
	var out []*store.Credential
	for rows.Next() {
		c, err := scanCredential(rows)
		if err != nil {
			return nil, fmt.Errorf("sqlite: listing credentials of owner %q: %w", ownerID, err)
		}
		out = append(out, c)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("sqlite: listing credentials of owner %q: %w", ownerID, err)
	}
	return out, nil
}

const txColumns = `id, client_id, client_ref, credential_id, owner_id, description, documents, status, result, error,
	created_at, updated_at, expires_at`

func scanTx(row interface{ Scan(...any) error }) (*store.Transaction, error) {
	t := &store.Transaction{}
	var created, updated, expires int64
	if err := row.Scan(&t.ID, &t.ClientID, &t.ClientRef, &t.CredentialID, &t.OwnerID, &t.Description, &t.Documents,
		&t.Status, &t.Result, &t.Error, &created, &updated, &expires); err != nil {
		return nil, err
	}
	t.CreatedAt, t.UpdatedAt, t.ExpiresAt = fromMicro(created), fromMicro(updated), fromMicro(expires)
	return t, nil
}

// CreateTransaction records t, or returns the transaction the client
// already has under t.ClientRef and false. The insert is INSERT ... ON
// CONFLICT (client_id, client_ref) DO NOTHING: the unique constraint, not
// a read before the write, decides which submission wins. ErrExists when
// t.ID is taken by another transaction; ErrNotFound when the client, or
// the credential with that owner, does not exist.
func (s *Store) CreateTransaction(ctx context.Context, t *store.Transaction) (*store.Transaction, bool, error) {
	if err := check.Transaction(t); err != nil {
		return nil, false, fmt.Errorf("sqlite: creating transaction: %w", err)
	}
	nt := *t
	if nt.Status == "" {
		nt.Status = store.TxPending
	}
	nt.CreatedAt = fromMicro(micro(s.orNow(t.CreatedAt)))
	nt.UpdatedAt = nt.CreatedAt
	if !t.UpdatedAt.IsZero() {
		nt.UpdatedAt = fromMicro(micro(t.UpdatedAt))
	}
	nt.ExpiresAt = fromMicro(micro(t.ExpiresAt))
	var existing *store.Transaction
	err := s.write(ctx, fmt.Sprintf("creating transaction %q for client %q", t.ClientRef, t.ClientID), func(tx *sql.Tx) error {
		n, err := affected(tx.ExecContext(ctx, `INSERT INTO transactions (`+txColumns+`)
			VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?) ON CONFLICT (client_id, client_ref) DO NOTHING`,
			nt.ID, nt.ClientID, nt.ClientRef, nt.CredentialID, nt.OwnerID, nt.Description, nt.Documents, nt.Status,
			nullBytes(nt.Result), nt.Error, micro(nt.CreatedAt), micro(nt.UpdatedAt), micro(nt.ExpiresAt)))
		if err != nil {
			return missingParent(err, fmt.Sprintf("client %q, or credential %q of owner %q", t.ClientID, t.CredentialID, t.OwnerID))
		}
		if n > 0 {
			return nil
		}
		existing, err = scanTx(tx.QueryRowContext(ctx, `SELECT `+txColumns+` FROM transactions
			WHERE client_id = ? AND client_ref = ?`, t.ClientID, t.ClientRef))
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
	t, err := scanTx(s.r.QueryRowContext(ctx, `SELECT `+txColumns+` FROM transactions WHERE id = ?`, id))
	if errors.Is(err, sql.ErrNoRows) {
		err = store.ErrNotFound
	}
	if err != nil {
		return nil, fmt.Errorf("sqlite: reading transaction %q: %w", id, err)
	}
	return t, nil
}

// queryTransactions lists transactions newest first; the filters that are
// set are appended, and an index on (owner_id or client_id, status,
// created_at) serves them in order.
const queryTransactions = `SELECT ` + txColumns + ` FROM transactions WHERE 1 = 1`

// ListTransactions returns the transactions matching f, newest first, at
// most f.Limit (0: 100; at most 1000).
func (s *Store) ListTransactions(ctx context.Context, f *store.TransactionFilter) ([]*store.Transaction, error) {
	limit, err := check.TxFilter(f)
	if err != nil {
		return nil, fmt.Errorf("sqlite: listing transactions: %w", err)
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
			q += ` AND ` + w.col + ` = ?`
			args = append(args, w.v)
		}
	}
	q += ` ORDER BY created_at DESC, rowid DESC LIMIT ?`
	args = append(args, limit)
	rows, err := s.r.QueryContext(ctx, q, args...)
	if err != nil {
		return nil, fmt.Errorf("sqlite: listing transactions: %w", err)
	}
	defer rows.Close()
	var out []*store.Transaction
	for rows.Next() {
		t, err := scanTx(rows)
		if err != nil {
			return nil, fmt.Errorf("sqlite: listing transactions: %w", err)
		}
		out = append(out, t)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("sqlite: listing transactions: %w", err)
	}
	return out, nil
}

// UpdateTransaction moves the transaction from status from to t.Status in
// one conditional UPDATE (compare and set): of several callers moving it
// from the same status, one changes the row and the others get
// ErrConflict. ErrNotFound when there is no such transaction.
func (s *Store) UpdateTransaction(ctx context.Context, t *store.Transaction, from store.TransactionStatus) error {
	if err := check.TxUpdate(t, from); err != nil {
		return fmt.Errorf("sqlite: updating transaction: %w", err)
	}
	updated := micro(s.orNow(t.UpdatedAt))
	return s.write(ctx, fmt.Sprintf("updating transaction %q from %s to %s", t.ID, from, t.Status), func(tx *sql.Tx) error {
		n, err := affected(tx.ExecContext(ctx, `UPDATE transactions SET status = ?, result = ?, error = ?, updated_at = ?
			WHERE id = ? AND status = ?`, t.Status, nullBytes(t.Result), t.Error, updated, t.ID, from))
		if err != nil || n > 0 {
			return err
		}
		var status string
		err = tx.QueryRowContext(ctx, `SELECT status FROM transactions WHERE id = ?`, t.ID).Scan(&status)
		if errors.Is(err, sql.ErrNoRows) {
			return store.ErrNotFound
		} else if err != nil {
			return err
		}
		return fmt.Errorf("status is %s: %w", status, store.ErrConflict)
	})
}

// PutActivation records activation data; ErrExists when its SAD hash is
// recorded already, ErrNotFound when its credential or transaction does
// not exist.
func (s *Store) PutActivation(ctx context.Context, a *store.Activation) error {
	if err := check.Activation(a); err != nil {
		return fmt.Errorf("sqlite: storing activation: %w", err)
	}
	hashes := a.Hashes
	if hashes == nil {
		hashes = [][]byte{}
	}
	list, err := json.Marshal(hashes) // base64 strings, in order
	if err != nil {
		return fmt.Errorf("sqlite: storing activation: %w", err)
	}
	return s.write(ctx, fmt.Sprintf("storing activation %x", a.SADHash), func(tx *sql.Tx) error {
		n, err := affected(tx.ExecContext(ctx, `INSERT INTO activations (sad_hash, id, client_id, credential_id, transaction_id,
			hash_algorithm, hashes, remaining, expires_at, created_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?) ON CONFLICT DO NOTHING`,
			a.SADHash, a.ID, a.ClientID, a.CredentialID, nullString(a.TransactionID), a.HashAlgorithm, string(list), a.Remaining,
			micro(a.ExpiresAt), micro(s.orNow(a.CreatedAt))))
		if err != nil {
			return missingParent(err, fmt.Sprintf("credential %q or transaction %q", a.CredentialID, a.TransactionID))
		}
		if n == 0 {
			return store.ErrExists
		}
		return nil
	})
}

// GetActivation returns the activation data with this SAD hash, expired or
// not, or ErrNotFound.
func (s *Store) GetActivation(ctx context.Context, sadHash []byte) (*store.Activation, error) {
	if err := check.SADHash(sadHash); err != nil {
		return nil, fmt.Errorf("sqlite: reading activation: %w", err)
	}
	a := &store.Activation{}
	var txID sql.NullString
	var list string
	var expires, created int64
	err := s.readRow(ctx, `SELECT sad_hash, id, client_id, credential_id, transaction_id, hash_algorithm, hashes, remaining,
		expires_at, created_at FROM activations WHERE sad_hash = ?`, sadHash).Scan(&a.SADHash, &a.ID, &a.ClientID, &a.CredentialID, &txID,
		&a.HashAlgorithm, &list, &a.Remaining, &expires, &created)
	if errors.Is(err, sql.ErrNoRows) {
		err = store.ErrNotFound
	}
	if err != nil {
		return nil, fmt.Errorf("sqlite: reading activation %x: %w", sadHash, err)
	}
	if err := json.Unmarshal([]byte(list), &a.Hashes); err != nil {
		return nil, fmt.Errorf("sqlite: reading activation %x: hashes: %w", sadHash, err)
	}
	if len(a.Hashes) == 0 {
		a.Hashes = nil
	}
	a.TransactionID, a.ExpiresAt, a.CreatedAt = txID.String, fromMicro(expires), fromMicro(created)
	return a, nil
}

// UseActivation takes n uses in one conditional UPDATE (remaining >= n and
// not expired at now), so concurrent callers never take more uses than
// were approved. When nothing changes, a read in the same transaction
// tells ErrReplay (uses exhausted) from ErrNotFound (absent or expired).
func (s *Store) UseActivation(ctx context.Context, sadHash []byte, n int, now time.Time, audit ...*store.AuditEvent) error {
	if err := check.SADHash(sadHash); err != nil {
		return fmt.Errorf("sqlite: using activation: %w", err)
	}
	if err := check.Uses(n); err != nil {
		return fmt.Errorf("sqlite: using activation: %w", err)
	}
	details, err := auditDetails(audit)
	if err != nil {
		return err
	}
	ids := make([]int64, len(audit))
	at := micro(s.orNow(now))
	err = s.write(ctx, fmt.Sprintf("using activation %x %d times", sadHash, n), func(tx *sql.Tx) error {
		up, err := s.txStmt(ctx, tx, sqlUseActivation)
		if err != nil {
			return err
		}
		changed, err := affected(up.ExecContext(ctx, n, sadHash, at))
		if err != nil {
			return err
		}
		if changed > 0 {
			if len(audit) == 0 {
				return nil
			}
			return s.appendAuditTx(ctx, tx, audit, details, ids)
		}
		var remaining int
		var expires int64
		err = tx.QueryRowContext(ctx, `SELECT remaining, expires_at FROM activations WHERE sad_hash = ?`, sadHash).Scan(&remaining, &expires)
		switch {
		case errors.Is(err, sql.ErrNoRows):
			return store.ErrNotFound
		case err != nil:
			return err
		case expires <= at:
			return fmt.Errorf("expired at %v: %w", fromMicro(expires), store.ErrNotFound)
		}
		return fmt.Errorf("%d uses remain: %w", remaining, store.ErrReplay)
	})
	if err != nil {
		return err
	}
	for i, e := range audit {
		e.ID = ids[i]
	}
	return nil
}

// PutToken records an access token; ErrExists when its hash is recorded
// already.
func (s *Store) PutToken(ctx context.Context, t *store.Token) error {
	if err := check.Token(t); err != nil {
		return fmt.Errorf("sqlite: storing token: %w", err)
	}
	return s.write(ctx, "storing token", func(tx *sql.Tx) error {
		n, err := affected(tx.ExecContext(ctx, `INSERT INTO tokens (hash, kind, subject, scope, expires_at, cert_sha256)
			VALUES (?, ?, ?, ?, ?, ?) ON CONFLICT DO NOTHING`, t.Hash, t.Kind, t.Subject, t.Scope, micro(t.ExpiresAt), nullBytes(t.CertSHA256)))
		if err == nil && n == 0 {
			err = store.ErrExists
		}
		return err
	})
}

// GetToken returns the token with this hash if it has not expired at now,
// or ErrNotFound.
func (s *Store) GetToken(ctx context.Context, hash []byte, now time.Time) (*store.Token, error) {
	if err := check.TokenHash(hash); err != nil {
		return nil, fmt.Errorf("sqlite: reading token: %w", err)
	}
	t := &store.Token{}
	var expires int64
	err := s.readRow(ctx, `SELECT hash, kind, subject, scope, expires_at, cert_sha256 FROM tokens
		WHERE hash = ? AND expires_at > ?`, hash, micro(s.orNow(now))).Scan(&t.Hash, &t.Kind, &t.Subject, &t.Scope, &expires, &t.CertSHA256)
	if errors.Is(err, sql.ErrNoRows) {
		err = store.ErrNotFound
	}
	if err != nil {
		return nil, fmt.Errorf("sqlite: reading token: %w", err)
	}
	t.ExpiresAt = fromMicro(expires)
	return t, nil
}

// DeleteToken removes the token with this hash, if there is one.
func (s *Store) DeleteToken(ctx context.Context, hash []byte) error {
	if err := check.TokenHash(hash); err != nil {
		return fmt.Errorf("sqlite: deleting token: %w", err)
	}
	return s.write(ctx, "deleting token", func(tx *sql.Tx) error {
		_, err := tx.ExecContext(ctx, `DELETE FROM tokens WHERE hash = ?`, hash)
		return err
	})
}

// EnqueueWebhook adds w to the outbox, due at w.NextAttempt (zero: now),
// and sets w.ID. ErrNotFound when its client does not exist.
func (s *Store) EnqueueWebhook(ctx context.Context, w *store.Webhook) error {
	if err := check.Webhook(w); err != nil {
		return fmt.Errorf("sqlite: enqueueing webhook: %w", err)
	}
	var id int64
	err := s.write(ctx, fmt.Sprintf("enqueueing webhook for client %q", w.ClientID), func(tx *sql.Tx) error {
		err := tx.QueryRowContext(ctx, `INSERT INTO webhooks (client_id, url, body, attempts, next_attempt, last_error)
			VALUES (?, ?, ?, ?, ?, ?) RETURNING id`, w.ClientID, w.URL, w.Body, w.Attempts, micro(s.orNow(w.NextAttempt)),
			w.LastError).Scan(&id)
		return missingParent(err, fmt.Sprintf("client %q", w.ClientID))
	})
	if err != nil {
		return err
	}
	w.ID = id
	return nil
}

// queryClaim leases the due undelivered webhooks, earliest due first, in
// one statement; webhooks_due finds them.
const queryClaim = `UPDATE webhooks SET next_attempt = ?1 WHERE id IN (
	SELECT id FROM webhooks WHERE delivered_at IS NULL AND next_attempt <= ?2
	ORDER BY next_attempt, id LIMIT ?3)
	RETURNING id, client_id, url, body, attempts, next_attempt, last_error`

// ClaimWebhooks leases up to limit webhooks due at now until now+lease and
// returns them in ID order, NextAttempt set to the lease's end. The
// UPDATE runs in a BEGIN IMMEDIATE transaction, which holds the file's
// write lock: another claimer, in this process or another, sees the rows
// only once their lease is recorded.
func (s *Store) ClaimWebhooks(ctx context.Context, now time.Time, lease time.Duration, limit int) ([]*store.Webhook, error) {
	if err := check.Claim(lease, limit); err != nil {
		return nil, fmt.Errorf("sqlite: claiming webhooks: %w", err)
	}
	now = s.orNow(now)
	var out []*store.Webhook
	err := s.write(ctx, "claiming webhooks", func(tx *sql.Tx) error {
		out = nil
		rows, err := tx.QueryContext(ctx, queryClaim, micro(now.Add(lease)), micro(now), limit)
		if err != nil {
			return err
		}
		defer rows.Close()
		for rows.Next() {
			w := &store.Webhook{}
			var next int64
			if err := rows.Scan(&w.ID, &w.ClientID, &w.URL, &w.Body, &w.Attempts, &next, &w.LastError); err != nil {
				return err
			}
			w.NextAttempt = fromMicro(next)
			out = append(out, w)
		}
		return rows.Err()
	})
	if err != nil {
		return nil, err
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
		return fmt.Errorf("sqlite: finishing webhook: %w", check.Invalid("webhook ID %d is not positive", id))
	}
	if err := check.String("webhook error", lastError, check.MaxError, false); err != nil {
		return fmt.Errorf("sqlite: finishing webhook: %w", err)
	}
	var deliveredAt, nextAttempt any
	if delivered {
		deliveredAt = micro(s.now())
	} else {
		nextAttempt = nullMicro(next)
	}
	return s.write(ctx, fmt.Sprintf("finishing webhook %d", id), func(tx *sql.Tx) error {
		n, err := affected(tx.ExecContext(ctx, `UPDATE webhooks SET attempts = attempts + 1, delivered_at = ?,
			next_attempt = ?, last_error = ? WHERE id = ? AND delivered_at IS NULL`, deliveredAt, nextAttempt, lastError, id))
		if err != nil || n > 0 {
			return err
		}
		var one int
		err = tx.QueryRowContext(ctx, `SELECT 1 FROM webhooks WHERE id = ?`, id).Scan(&one)
		if errors.Is(err, sql.ErrNoRows) {
			return store.ErrNotFound
		} else if err != nil {
			return err
		}
		return fmt.Errorf("delivered already: %w", store.ErrConflict)
	})
}

// GetTransactionByRef returns the client's transaction with reference
// clientRef, through the unique (client_id, client_ref) index.
func (s *Store) GetTransactionByRef(ctx context.Context, clientID, clientRef string) (*store.Transaction, error) {
	t, err := scanTx(s.r.QueryRowContext(ctx, `SELECT `+txColumns+` FROM transactions WHERE client_id = ? AND client_ref = ?`, clientID, clientRef))
	if errors.Is(err, sql.ErrNoRows) {
		err = store.ErrNotFound
	}
	if err != nil {
		return nil, fmt.Errorf("sqlite: reading transaction %q of client %q: %w", clientRef, clientID, err)
	}
	return t, nil
}

// ListOverdue returns pending transactions past their expiry, the longest
// overdue first, through the (status, expires_at) index.
func (s *Store) ListOverdue(ctx context.Context, now time.Time, limit int) ([]*store.Transaction, error) {
	if limit < 1 || limit > 1000 {
		return nil, fmt.Errorf("sqlite: listing overdue transactions: %w: limit %d is not 1 to 1000", store.ErrInvalid, limit)
	}
	rows, err := s.r.QueryContext(ctx, `SELECT `+txColumns+` FROM transactions WHERE status = 'pending' AND expires_at <= ? ORDER BY expires_at, id LIMIT ?`, micro(now), limit)
	if err != nil {
		return nil, fmt.Errorf("sqlite: listing overdue transactions: %w", err)
	}
	defer rows.Close()
	var out []*store.Transaction
	for rows.Next() {
		t, err := scanTx(rows)
		if err != nil {
			return nil, fmt.Errorf("sqlite: listing overdue transactions: %w", err)
		}
		out = append(out, t)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("sqlite: listing overdue transactions: %w", err)
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
