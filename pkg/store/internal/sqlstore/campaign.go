package sqlstore

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/kyso-pki/kyso/pkg/store"
	"github.com/kyso-pki/kyso/pkg/store/internal/check"
)

const holdingColumns = `id, national_id, provider_id, provider_name, serial, since, released_at, release_reason, released_to,
	months_used, evidence, acked_at`

func scanHolding(row Row) (*store.Holding, error) {
	h := &store.Holding{}
	if err := row.Scan(&h.ID, &h.NationalID, &h.ProviderID, &h.ProviderName, &h.Serial, Time{&h.Since}, Time{&h.ReleasedAt},
		&h.ReleaseReason, &h.ReleasedTo, &h.MonthsUsed, &h.Evidence, Time{&h.AckedAt}); err != nil {
		return nil, err
	}
	return h, nil
}

// GetHolding returns the national ID's active holding.
func (s *Store) GetHolding(ctx context.Context, nationalID string) (*store.Holding, error) {
	h, err := scanHolding(s.r.QueryRow(ctx, `SELECT `+holdingColumns+` FROM campaign_holdings
		WHERE national_id = $1 AND released_at IS NULL`, nationalID))
	if err != nil {
		return nil, s.fail(fmt.Sprintf("reading the campaign holding of %q", nationalID), s.notFound(err))
	}
	return h, nil
}

// activeHolding reads, and where writers run side by side locks, the
// national ID's active holding inside a write.
func (s *Store) activeHolding(ctx context.Context, c Conn, nationalID string) (*store.Holding, error) {
	return scanHolding(c.QueryRow(ctx, `SELECT `+holdingColumns+` FROM campaign_holdings
		WHERE national_id = $1 AND released_at IS NULL`+s.lock(""), nationalID))
}

// insertHolding inserts h as the active holding unless one is active
// (the partial unique index campaign_holdings_active decides, so two
// providers registering at once cannot both win); false when one was.
func (s *Store) insertHolding(ctx context.Context, c Conn, h *store.Holding) (bool, error) {
	n, err := c.Exec(ctx, `INSERT INTO campaign_holdings (national_id, provider_id, provider_name, serial, since, evidence)
		VALUES ($1, $2, $3, $4, $5, $6) ON CONFLICT (national_id) WHERE released_at IS NULL DO NOTHING`,
		h.NationalID, h.ProviderID, h.ProviderName, h.Serial, s.time(h.Since), h.Evidence)
	return n > 0, err
}

// RegisterHolding records h unless another provider holds its national ID.
func (s *Store) RegisterHolding(ctx context.Context, h *store.Holding, audit ...*store.AuditEvent) (*store.Holding, error) {
	if err := check.Holding(h); err != nil {
		return nil, s.invalid("registering a campaign holding", err)
	}
	h.Since = s.orNow(h.Since)
	var got *store.Holding
	err := s.writeAudited(ctx, fmt.Sprintf("registering the campaign holding of %q", h.NationalID), audit, func(c Conn) error {
		got = nil
		ok, err := s.insertHolding(ctx, c, h)
		if err != nil {
			return err
		}
		cur, err := s.activeHolding(ctx, c, h.NationalID)
		if err != nil {
			return err
		}
		got = cur
		switch {
		case ok:
			return nil
		case cur.ProviderID != h.ProviderID:
			return store.ErrCampaignHolder
		case h.Serial != "" && cur.Serial != h.Serial:
			if _, err := c.Exec(ctx, `UPDATE campaign_holdings SET serial = $1 WHERE id = $2`, h.Serial, cur.ID); err != nil {
				return err
			}
			got.Serial = h.Serial
		}
		return nil
	})
	if errors.Is(err, store.ErrCampaignHolder) {
		return got, err
	}
	if err != nil {
		return nil, err
	}
	return got, nil
}

// SwitchHolding releases the active holding to h's provider and records h.
func (s *Store) SwitchHolding(ctx context.Context, h *store.Holding, audit ...*store.AuditEvent) (*store.Holding, error) {
	if err := check.Holding(h); err != nil {
		return nil, s.invalid("switching a campaign holding", err)
	}
	h.Since = s.orNow(h.Since)
	var old *store.Holding
	err := s.writeAudited(ctx, fmt.Sprintf("switching the campaign holding of %q", h.NationalID), audit, func(c Conn) error {
		cur, err := s.activeHolding(ctx, c, h.NationalID)
		if err != nil {
			return s.notFound(err)
		}
		if cur.ProviderID == h.ProviderID {
			return store.ErrConflict
		}
		cur.ReleasedAt, cur.ReleaseReason, cur.ReleasedTo = h.Since, store.HoldingSwitched, h.ProviderID
		cur.MonthsUsed = store.WholeMonths(cur.Since, h.Since)
		n, err := c.Exec(ctx, `UPDATE campaign_holdings SET released_at = $1, release_reason = $2, released_to = $3, months_used = $4
			WHERE id = $5 AND released_at IS NULL`, s.time(cur.ReleasedAt), cur.ReleaseReason, cur.ReleasedTo, cur.MonthsUsed, cur.ID)
		if err != nil {
			return err
		}
		if n == 0 {
			return store.ErrConflict
		}
		ok, err := s.insertHolding(ctx, c, h)
		if err == nil && !ok {
			err = store.ErrConflict
		}
		old = cur
		return err
	})
	if err != nil {
		return nil, err
	}
	h.MonthsUsed = old.MonthsUsed
	return old, nil
}

// ReleaseHolding releases providerID's own active holding.
func (s *Store) ReleaseHolding(ctx context.Context, nationalID, providerID, reason string, at time.Time, audit ...*store.AuditEvent) error {
	return s.writeAudited(ctx, fmt.Sprintf("releasing the campaign holding of %q", nationalID), audit, func(c Conn) error {
		cur, err := s.activeHolding(ctx, c, nationalID)
		if err != nil {
			return s.notFound(err)
		}
		if cur.ProviderID != providerID {
			return store.ErrNotFound
		}
		at = s.orNow(at)
		_, err = c.Exec(ctx, `UPDATE campaign_holdings SET released_at = $1, release_reason = $2, months_used = $3 WHERE id = $4`,
			s.time(at), reason, store.WholeMonths(cur.Since, at), cur.ID)
		return err
	})
}

// sqlListReleased is ListReleased's statement (HotQueries: each
// registry sync).
const sqlListReleased = `SELECT ` + holdingColumns + ` FROM campaign_holdings
	WHERE provider_id = $1 AND release_reason = 'switch' AND acked_at IS NULL ORDER BY id LIMIT $2`

// ListReleased returns providerID's holdings switched away and not yet
// acknowledged, through the index campaign_holdings_unacked.
func (s *Store) ListReleased(ctx context.Context, providerID string, limit int) ([]*store.Holding, error) {
	if limit <= 0 || limit > 1000 {
		limit = 1000
	}
	rows, err := s.r.Query(ctx, sqlListReleased, providerID, limit)
	out, err := collect(rows, err, scanHolding)
	if err != nil {
		return nil, s.fail(fmt.Sprintf("listing the released holdings of %q", providerID), err)
	}
	return out, nil
}

// AckReleased marks providerID's released holdings acknowledged.
func (s *Store) AckReleased(ctx context.Context, providerID string, ids []int64, at time.Time, audit ...*store.AuditEvent) error {
	at = s.orNow(at)
	return s.writeAudited(ctx, fmt.Sprintf("acknowledging released holdings of %q", providerID), audit, func(c Conn) error {
		for _, id := range ids {
			if _, err := c.Exec(ctx, `UPDATE campaign_holdings SET acked_at = $1
				WHERE id = $2 AND provider_id = $3 AND release_reason = 'switch' AND acked_at IS NULL`, s.time(at), id, providerID); err != nil {
				return err
			}
		}
		return nil
	})
}

// UseNonce records a nonce once per provider.
func (s *Store) UseNonce(ctx context.Context, providerID, nonce string, expires, now time.Time) error {
	if providerID == "" || nonce == "" || len(nonce) > 128 || len(providerID) > 128 {
		return s.invalid("recording a nonce", check.Invalid("a nonce and its provider are 1 to 128 bytes"))
	}
	return s.write(ctx, "recording a registry nonce", false, func(c Conn) error {
		if _, err := c.Exec(ctx, `DELETE FROM registry_nonces WHERE expires_at < $1`, s.time(s.clock(now))); err != nil {
			return err
		}
		n, err := c.Exec(ctx, `INSERT INTO registry_nonces (provider_id, nonce, expires_at) VALUES ($1, $2, $3) ON CONFLICT DO NOTHING`,
			providerID, nonce, s.time(expires))
		return inserted(n, err, store.ErrReplay)
	})
}

// PutCampaignTerms records a switched credential's free period.
func (s *Store) PutCampaignTerms(ctx context.Context, t *store.CampaignTerms) error {
	if t.CredentialID == "" || t.MonthsUsed < 0 || t.FreeMonths < 0 {
		return s.invalid("storing campaign terms", check.Invalid("a credential, and months used and free not below zero"))
	}
	return s.write(ctx, fmt.Sprintf("storing the campaign terms of credential %q", t.CredentialID), true, func(c Conn) error {
		n, err := c.Exec(ctx, `INSERT INTO campaign_terms (credential_id, from_provider, months_used, free_months, created_at)
			VALUES ($1, $2, $3, $4, $5) ON CONFLICT DO NOTHING`, t.CredentialID, t.FromProvider, t.MonthsUsed, t.FreeMonths, s.time(s.clock(t.CreatedAt)))
		return inserted(n, err, store.ErrExists)
	})
}

// GetCampaignTerms returns a switched credential's free period.
func (s *Store) GetCampaignTerms(ctx context.Context, credentialID string) (*store.CampaignTerms, error) {
	t := &store.CampaignTerms{}
	err := s.r.QueryRow(ctx, `SELECT credential_id, from_provider, months_used, free_months, created_at FROM campaign_terms
		WHERE credential_id = $1`, credentialID).Scan(&t.CredentialID, &t.FromProvider, &t.MonthsUsed, &t.FreeMonths, Time{&t.CreatedAt})
	if err != nil {
		return nil, s.fail(fmt.Sprintf("reading the campaign terms of credential %q", credentialID), s.notFound(err))
	}
	return t, nil
}
