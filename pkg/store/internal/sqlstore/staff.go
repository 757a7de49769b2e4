package sqlstore

import (
	"context"
	"fmt"
	"strings"
	"time"

	"github.com/kyso-pki/kyso/pkg/store"
	"github.com/kyso-pki/kyso/pkg/store/internal/check"
)

const staffColumns = `id, full_name, birth_year, position, provider, wards, photo_type, authorised_from, authorised_until, revoked_at, created_at`

func scanStaff(row Row, photo *[]byte) (*store.Staff, error) {
	m := &store.Staff{}
	var wards string
	dest := []any{&m.ID, &m.FullName, &m.BirthYear, &m.Position, &m.Provider, &wards, &m.PhotoType,
		Time{&m.AuthorisedFrom}, Time{&m.AuthorisedUntil}, Time{&m.RevokedAt}, Time{&m.CreatedAt}}
	if photo != nil {
		dest = append(dest, photo)
	}
	if err := row.Scan(dest...); err != nil {
		return nil, err
	}
	if wards != "" {
		m.Wards = strings.Split(wards, ",")
	}
	return m, nil
}

// PutStaff records m and audit in one transaction; ErrExists when its ID
// is taken.
func (s *Store) PutStaff(ctx context.Context, m *store.Staff, audit ...*store.AuditEvent) error {
	if err := check.Staff(m); err != nil {
		return s.invalid("storing staff", err)
	}
	return s.writeAudited(ctx, fmt.Sprintf("storing staff %q", m.ID), audit, func(c Conn) error {
		n, err := c.Exec(ctx, `INSERT INTO staff (`+staffColumns+`, photo)
			VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12) ON CONFLICT DO NOTHING`,
			m.ID, m.FullName, m.BirthYear, m.Position, m.Provider, strings.Join(m.Wards, ","), m.PhotoType,
			s.time(m.AuthorisedFrom), s.time(m.AuthorisedUntil), s.nullTime(m.RevokedAt), s.time(s.clock(m.CreatedAt)), m.Photo)
		return inserted(n, err, store.ErrExists)
	})
}

// GetStaff returns the staff member with this ID, photo included.
func (s *Store) GetStaff(ctx context.Context, id string) (*store.Staff, error) {
	var photo []byte
	m, err := scanStaff(s.r.QueryRow(ctx, `SELECT `+staffColumns+`, photo FROM staff WHERE id = $1`, id), &photo)
	if err != nil {
		return nil, s.fail(fmt.Sprintf("reading staff %q", id), s.notFound(err))
	}
	m.Photo = photo
	return m, nil
}

// ListStaff returns every staff member, oldest first, without photos.
func (s *Store) ListStaff(ctx context.Context) ([]*store.Staff, error) {
	rows, err := s.r.Query(ctx, `SELECT `+staffColumns+` FROM staff ORDER BY created_at, id`)
	out, err := collect(rows, err, func(r Row) (*store.Staff, error) { return scanStaff(r, nil) })
	if err != nil {
		return nil, s.fail("listing staff", err)
	}
	return out, nil
}

// RevokeStaff sets revoked_at once, in one conditional UPDATE with the
// audit events: of two revocations one changes the row, the other gets
// ErrConflict.
func (s *Store) RevokeStaff(ctx context.Context, id string, at time.Time, audit ...*store.AuditEvent) error {
	return s.writeAudited(ctx, fmt.Sprintf("revoking staff %q", id), audit, func(c Conn) error {
		n, err := c.Exec(ctx, `UPDATE staff SET revoked_at = $1 WHERE id = $2 AND revoked_at IS NULL`, s.time(s.clock(at)), id)
		if err != nil || n > 0 {
			return err
		}
		var exists bool
		if err := c.QueryRow(ctx, `SELECT EXISTS (SELECT 1 FROM staff WHERE id = $1)`, id).Scan(&exists); err != nil {
			return err
		}
		if exists {
			return store.ErrConflict
		}
		return store.ErrNotFound
	})
}
