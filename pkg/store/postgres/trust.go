package postgres

import (
	"context"
	"fmt"

	"github.com/jackc/pgx/v5"

	"github.com/kyso-pki/kyso/pkg/store"
	"github.com/kyso-pki/kyso/pkg/store/internal/check"
)

// PutTrustAnchor adds a trust anchor, or gives ErrExists.
func (s *Store) PutTrustAnchor(ctx context.Context, a *store.TrustAnchor) error {
	if err := check.TrustAnchor(a); err != nil {
		return fmt.Errorf("postgres: storing trust anchor: %w", err)
	}
	return s.write(ctx, fmt.Sprintf("storing trust anchor %x", a.SHA256), func(tx pgx.Tx) error {
		tag, err := tx.Exec(ctx, `INSERT INTO trust_anchors (sha256, der, subject, source, added_by, added)
			VALUES ($1, $2, $3, $4, $5, $6) ON CONFLICT (sha256) DO NOTHING`,
			a.SHA256, a.DER, a.Subject, a.Source, a.AddedBy, s.orNow(a.Added))
		if err != nil {
			return err
		}
		if tag.RowsAffected() == 0 {
			return store.ErrExists
		}
		return nil
	})
}

// ListTrustAnchors returns every trust anchor, oldest first.
func (s *Store) ListTrustAnchors(ctx context.Context) ([]*store.TrustAnchor, error) {
	rows, err := s.pool.Query(ctx, `SELECT sha256, der, subject, source, added_by, added FROM trust_anchors ORDER BY added, sha256`)
	if err != nil {
		return nil, fmt.Errorf("postgres: listing trust anchors: %w", mapErr(err))
	}
	defer rows.Close()
	var out []*store.TrustAnchor
	for rows.Next() {
		a := &store.TrustAnchor{}
		if err := rows.Scan(&a.SHA256, &a.DER, &a.Subject, &a.Source, &a.AddedBy, &a.Added); err != nil {
			return nil, fmt.Errorf("postgres: listing trust anchors: %w", err)
		}
		a.Added = a.Added.UTC()
		out = append(out, a)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("postgres: listing trust anchors: %w", mapErr(err))
	}
	return out, nil
}

// DeleteTrustAnchor removes a trust anchor, or gives ErrNotFound.
func (s *Store) DeleteTrustAnchor(ctx context.Context, sha256 []byte) error {
	if err := check.KeyHash(sha256); err != nil {
		return fmt.Errorf("postgres: removing trust anchor: %w", err)
	}
	return s.write(ctx, fmt.Sprintf("removing trust anchor %x", sha256), func(tx pgx.Tx) error {
		tag, err := tx.Exec(ctx, `DELETE FROM trust_anchors WHERE sha256 = $1`, sha256)
		if err != nil {
			return err
		}
		if tag.RowsAffected() == 0 {
			return store.ErrNotFound
		}
		return nil
	})
}
