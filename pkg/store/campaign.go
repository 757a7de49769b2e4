package store

import (
	"context"
	"time"
)

// CampaignRegistry keeps who holds each citizen's one campaign signature,
// across providers (issue 18): the rows of an embedded registry (one
// provider, its own database) or of the shared registry a kysod serves
// (`kysod --registry`), the request nonces that registry has seen, and,
// at a provider, the free period of a credential enrolled by a switch.
type CampaignRegistry interface {
	// GetHolding returns the national ID's active holding (not released),
	// or ErrNotFound.
	GetHolding(ctx context.Context, nationalID string) (*Holding, error)
	// RegisterHolding records h as the national ID's active holding when
	// it has none, and returns it. When h's provider holds it already,
	// it returns that holding, with h's serial when h names one
	// (registering again is idempotent). When another provider holds it,
	// it returns that provider's holding and ErrCampaignHolder, and
	// writes nothing. audit is written with a change only.
	RegisterHolding(ctx context.Context, h *Holding, audit ...*AuditEvent) (*Holding, error)
	// SwitchHolding releases the national ID's active holding, at h.Since,
	// for the reason HoldingSwitched and to h's provider, recording the
	// whole months it was held (h.MonthsUsed is set from it), then records
	// h as the active holding; it returns the released holding. It is
	// ErrNotFound when no holding is active and ErrConflict when h's
	// provider holds it already.
	SwitchHolding(ctx context.Context, h *Holding, audit ...*AuditEvent) (*Holding, error)
	// ReleaseHolding releases providerID's active holding of the national
	// ID for reason; ErrNotFound when that provider holds none.
	ReleaseHolding(ctx context.Context, nationalID, providerID, reason string, at time.Time, audit ...*AuditEvent) error
	// ListReleased returns providerID's holdings another provider took by
	// a switch that providerID has not acknowledged, oldest first, at most
	// limit.
	ListReleased(ctx context.Context, providerID string, limit int) ([]*Holding, error)
	// AckReleased marks providerID's released holdings of these IDs
	// acknowledged; IDs of another provider's are ignored.
	AckReleased(ctx context.Context, providerID string, ids []int64, at time.Time, audit ...*AuditEvent) error
	// UseNonce records a request's nonce, from providerID, until
	// expires; ErrReplay when that provider used it already. Nonces
	// expired before now are forgotten.
	UseNonce(ctx context.Context, providerID, nonce string, expires, now time.Time) error

	// PutCampaignTerms records the free period of a credential enrolled
	// by a switch from another provider; ErrExists when it has one.
	PutCampaignTerms(ctx context.Context, t *CampaignTerms) error
	// GetCampaignTerms returns a credential's terms, or ErrNotFound (its
	// free period is then the provider's default).
	GetCampaignTerms(ctx context.Context, credentialID string) (*CampaignTerms, error)
}

// Holding is one provider's hold of a citizen's campaign signature.
type Holding struct {
	// ID is the registry's number for the row; set when stored.
	ID int64
	// NationalID is "CCCD:" and the 12 digits.
	NationalID string
	// ProviderID is the provider's identifier in the registry;
	// ProviderName the name the registry knows it by, shown to a refused
	// provider and its citizen.
	ProviderID, ProviderName string
	// Serial is the campaign certificate's serial (hex, as openssl prints
	// it); empty until the provider has issued it.
	Serial string
	// Since is when the holding began.
	Since time.Time
	// ReleasedAt, ReleaseReason and ReleasedTo say when and why it ended
	// (HoldingSwitched: to which provider); zero while it is active.
	ReleasedAt    time.Time
	ReleaseReason string
	ReleasedTo    string
	// MonthsUsed is the whole months from Since to ReleasedAt.
	MonthsUsed int
	// Evidence is the citizen's consent to the switch that made this
	// holding (its kind and reference), empty for a first registration.
	Evidence string
	// AckedAt is when the released provider acknowledged the release.
	AckedAt time.Time
}

// Reasons a holding ends.
const (
	// HoldingSwitched: the citizen moved to another provider.
	HoldingSwitched = "switch"
	// HoldingAbandoned: the provider registered but did not issue.
	HoldingAbandoned = "abandoned"
)

// CampaignTerms is a credential's free period when the citizen came by a
// switch: the provider's free months less those used at the provider
// before (FromProvider, MonthsUsed), never below zero.
type CampaignTerms struct {
	CredentialID string
	FromProvider string
	MonthsUsed   int
	FreeMonths   int
	CreatedAt    time.Time
}

// WholeMonths returns the whole calendar months from since to at: the
// greatest n with since plus n months not after at; zero when at is not
// after since.
func WholeMonths(since, at time.Time) int {
	if !at.After(since) {
		return 0
	}
	n := (at.Year()-since.Year())*12 + int(at.Month()) - int(since.Month())
	for n > 0 && since.AddDate(0, n, 0).After(at) {
		n--
	}
	return n
}
