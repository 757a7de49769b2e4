package sqlstore

import (
	"context"
	"fmt"

	"github.com/kyso-pki/kyso/pkg/store"
	"github.com/kyso-pki/kyso/pkg/store/internal/check"
)

// PutTrustAnchor adds a trust anchor, or gives ErrExists.
func (s *Store) PutTrustAnchor(ctx context.Context, a *store.TrustAnchor) error {
	if err := check.TrustAnchor(a); err != nil {
		return s.invalid("storing trust anchor", err)
	}
	return s.write(ctx, fmt.Sprintf("storing trust anchor %x", a.SHA256), true, func(c Conn) error {
		n, err := c.Exec(ctx, `INSERT INTO trust_anchors (sha256, der, subject, source, added_by, added)
			VALUES ($1, $2, $3, $4, $5, $6) ON CONFLICT (sha256) DO NOTHING`,
			a.SHA256, a.DER, a.Subject, a.Source, a.AddedBy, s.time(s.clock(a.Added)))
		return inserted(n, err, store.ErrExists)
	})
}

// ListTrustAnchors returns every trust anchor, oldest first.
func (s *Store) ListTrustAnchors(ctx context.Context) ([]*store.TrustAnchor, error) {
	rows, err := s.r.Query(ctx, `SELECT sha256, der, subject, source, added_by, added FROM trust_anchors ORDER BY added, sha256`)
	out, err := collect(rows, err, func(row Row) (*store.TrustAnchor, error) {
		a := &store.TrustAnchor{}
		return a, row.Scan(&a.SHA256, &a.DER, &a.Subject, &a.Source, &a.AddedBy, Time{&a.Added})
	})
	if err != nil {
		return nil, s.fail("listing trust anchors", err)
	}
	return out, nil
}

// DeleteTrustAnchor removes a trust anchor, or gives ErrNotFound.
func (s *Store) DeleteTrustAnchor(ctx context.Context, sha256 []byte) error {
	if err := check.KeyHash(sha256); err != nil {
		return s.invalid("removing trust anchor", err)
	}
	return s.write(ctx, fmt.Sprintf("removing trust anchor %x", sha256), true, func(c Conn) error {
		n, err := c.Exec(ctx, `DELETE FROM trust_anchors WHERE sha256 = $1`, sha256)
		return inserted(n, err, store.ErrNotFound)
	})
}
