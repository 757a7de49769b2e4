package sqlstore

import (
	"context"
	"fmt"
	"strings"
	"time"

	"github.com/kyso-pki/kyso/pkg/store"
	"github.com/kyso-pki/kyso/pkg/store/internal/check"
)

const passkeyColumns = `id, owner_id, public_key, sign_count, aaguid, flags, transports, name, created_at, last_used_at`

func scanPasskey(row Row) (*store.Passkey, error) {
	p := &store.Passkey{}
	var count int64
	var flags int
	var transports string
	if err := row.Scan(&p.ID, &p.OwnerID, &p.PublicKey, &count, &p.AAGUID, &flags, &transports, &p.Name,
		Time{&p.CreatedAt}, Time{&p.LastUsedAt}); err != nil {
		return nil, err
	}
	p.SignCount, p.Flags = uint32(count), byte(flags)
	if transports != "" {
		p.Transports = strings.Split(transports, ",")
	}
	return p, nil
}

// PutPasskey records p; ErrExists when its credential ID is registered
// (to anyone), ErrNotFound when its owner does not exist.
func (s *Store) PutPasskey(ctx context.Context, p *store.Passkey) error {
	if err := check.Passkey(p); err != nil {
		return s.invalid("storing passkey", err)
	}
	return s.write(ctx, fmt.Sprintf("storing a passkey of owner %q", p.OwnerID), true, func(tx Conn) error {
		n, err := tx.Exec(ctx, `INSERT INTO passkeys (`+passkeyColumns+`)
			VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10) ON CONFLICT DO NOTHING`,
			p.ID, p.OwnerID, p.PublicKey, int64(p.SignCount), p.AAGUID, int(p.Flags), strings.Join(p.Transports, ","), p.Name,
			s.time(s.clock(p.CreatedAt)), s.nullTime(p.LastUsedAt))
		err = s.missingParent(err, fmt.Sprintf("owner %q", p.OwnerID))
		return inserted(n, err, store.ErrExists)
	})
}

// ListPasskeys returns the owner's passkeys, oldest first.
func (s *Store) ListPasskeys(ctx context.Context, ownerID string) ([]*store.Passkey, error) {
	rows, err := s.r.Query(ctx, `SELECT `+passkeyColumns+` FROM passkeys WHERE owner_id = $1 ORDER BY created_at, id`, ownerID)
	out, err := collect(rows, err, scanPasskey)
	if err != nil {
		return nil, s.fail(fmt.Sprintf("listing the passkeys of owner %q", ownerID), err)
	}
	return out, nil
}

// DeletePasskey removes the owner's passkey id; ErrNotFound when the owner
// has none with it (another owner's is not touched).
func (s *Store) DeletePasskey(ctx context.Context, ownerID string, id []byte) error {
	return s.write(ctx, fmt.Sprintf("removing a passkey of owner %q", ownerID), true, func(tx Conn) error {
		n, err := tx.Exec(ctx, `DELETE FROM passkeys WHERE id = $1 AND owner_id = $2`, id, ownerID)
		return inserted(n, err, store.ErrNotFound)
	})
}

// UsePasskey moves the passkey's counter to count and records the use, in
// one conditional UPDATE: of two uses with one count, one changes the row
// and the other finds the condition false (ErrReplay).
func (s *Store) UsePasskey(ctx context.Context, ownerID string, id []byte, count uint32, now time.Time) error {
	what := fmt.Sprintf("using a passkey of owner %q", ownerID)
	var n int64
	err := s.write(ctx, what, true, func(tx Conn) (err error) {
		n, err = tx.Exec(ctx, `UPDATE passkeys SET sign_count = $1, last_used_at = $2
			WHERE id = $3 AND owner_id = $4 AND (sign_count < $1 OR (sign_count = 0 AND $1 = 0))`,
			int64(count), s.time(s.clock(now)), id, ownerID)
		return err
	})
	if err != nil || n > 0 {
		return err
	}
	var exists bool
	err = s.r.QueryRow(ctx, `SELECT EXISTS (SELECT 1 FROM passkeys WHERE id = $1 AND owner_id = $2)`, id, ownerID).Scan(&exists)
	switch {
	case err != nil:
	case exists:
		err = store.ErrReplay
	default:
		err = store.ErrNotFound
	}
	return s.fail(what, err)
}

// PutPasskeyChallenge records c, and removes the challenges that have
// expired, in one transaction.
func (s *Store) PutPasskeyChallenge(ctx context.Context, c *store.PasskeyChallenge) error {
	if err := check.PasskeyChallenge(c); err != nil {
		return s.invalid("storing passkey challenge", err)
	}
	created := s.clock(c.CreatedAt)
	return s.write(ctx, "storing passkey challenge", false, func(tx Conn) error {
		if _, err := tx.Exec(ctx, `DELETE FROM passkey_challenges WHERE expires_at < $1`, s.time(created)); err != nil {
			return err
		}
		n, err := tx.Exec(ctx, `INSERT INTO passkey_challenges (nonce, owner_id, purpose, binding, expires_at, created_at)
			VALUES ($1, $2, $3, $4, $5, $6) ON CONFLICT DO NOTHING`, c.Nonce, c.OwnerID, c.Purpose, c.Binding,
			s.time(c.ExpiresAt), s.time(created))
		return inserted(n, err, store.ErrExists)
	})
}

// TakePasskeyChallenge deletes the challenge with this nonce and returns
// it, in one DELETE … RETURNING: of two replicas answering one challenge at
// once, one gets the row and the other none. An expired challenge is
// deleted as well, and answered ErrNotFound.
func (s *Store) TakePasskeyChallenge(ctx context.Context, nonce []byte, now time.Time) (*store.PasskeyChallenge, error) {
	if len(nonce) != 32 {
		return nil, s.invalid("taking passkey challenge", check.Invalid("passkey challenge nonce is %d bytes, not 32", len(nonce)))
	}
	c := &store.PasskeyChallenge{}
	err := s.write(ctx, "taking passkey challenge", true, func(tx Conn) error {
		err := tx.QueryRow(ctx, `DELETE FROM passkey_challenges WHERE nonce = $1
			RETURNING nonce, owner_id, purpose, binding, expires_at, created_at`, nonce).Scan(
			&c.Nonce, &c.OwnerID, &c.Purpose, &c.Binding, Time{&c.ExpiresAt}, Time{&c.CreatedAt})
		return s.notFound(err)
	})
	if err != nil {
		return nil, err
	}
	if !c.ExpiresAt.After(s.orNow(now)) {
		return nil, s.fail("taking passkey challenge", fmt.Errorf("expired at %v: %w", c.ExpiresAt, store.ErrNotFound))
	}
	return c, nil
}
