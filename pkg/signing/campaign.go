package signing

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/kyso-pki/kyso/pkg/ca"
	"github.com/kyso-pki/kyso/pkg/campaignreg"
	"github.com/kyso-pki/kyso/pkg/display"
	"github.com/kyso-pki/kyso/pkg/store"
)

// campaignHold is an enrolment's place in the campaign registry: taken
// before the key and certificate are made, completed with the serial once
// issued, released if the enrolment fails.
type campaignHold struct {
	s          *Service
	nationalID string
	actor      string
	// fresh: this enrolment took the holding (it held no certificate
	// before), so a failure releases it.
	fresh bool
	// switched is the holding a switch released at the old provider.
	switched *campaignreg.Holding
}

// holdCampaign consults the campaign registry before anything is made
// (issue 18, one campaign signature per citizen across providers):
// registers this provider's holding, or with the citizen's consent moves
// it from the provider holding it (Switch). A citizen held at another
// provider without a switch is refused, KindConflict, naming that
// provider. Registering again after a crash between registering and
// issuing is idempotent, so the citizen is never locked out by their own
// provider. Each decision is audited: campaign.register, campaign.refuse,
// campaign.switch. nil when no registry is configured.
func (s *Service) holdCampaign(ctx context.Context, nationalID string, consent *campaignreg.Consent, actor string) (*campaignHold, error) {
	reg := s.cfg.CampaignRegistry
	if reg == nil {
		return nil, nil
	}
	h := &campaignHold{s: s, nationalID: nationalID, actor: actor}
	if consent != nil {
		old, err := reg.Switch(ctx, nationalID, consent)
		switch {
		case err == nil:
			// The citizen chose this provider: a failure after the switch
			// keeps the holding here, where enrolling again is idempotent.
			h.switched = old
			if err := s.audit(ctx, actor, "campaign.switch", nationalID, "ok", map[string]any{
				"from": old.ProviderID, "from_name": old.ProviderName, "months_used": old.MonthsUsed, "old_serial": old.Serial,
				"consent": consent.Kind + ":" + consent.Ref,
			}); err != nil {
				return nil, err
			}
			return h, nil
		case errors.Is(err, campaignreg.ErrNotHeld), errors.Is(err, campaignreg.ErrConflict):
			// Nobody holds it, or this provider does: a plain registration.
		case errors.Is(err, campaignreg.ErrInvalid):
			return nil, &Error{Kind: KindInvalid, Description: "switching provider: " + err.Error(), Err: err}
		default:
			return nil, fmt.Errorf("signing: the campaign registry: %w", err)
		}
	}
	held, err := reg.Register(ctx, nationalID, "")
	var other *campaignreg.HeldError
	if errors.As(err, &other) {
		if aerr := s.audit(ctx, actor, "campaign.refuse", nationalID, "error", map[string]any{
			"holder": other.Holding.ProviderID, "holder_name": other.Holding.ProviderName, "since": other.Holding.Since,
		}); aerr != nil {
			return nil, aerr
		}
		return nil, &Error{Kind: KindConflict, Err: err, Description: fmt.Sprintf(
			"%s already holds a campaign signature at %s since %s: one per citizen; with the citizen's consent, enrol with a switch of provider",
			nationalID, display.Escape(other.Holding.ProviderName), other.Holding.Since.UTC().Format(time.DateOnly))}
	}
	if err != nil {
		return nil, fmt.Errorf("signing: the campaign registry: %w", err)
	}
	h.fresh = held.Serial == ""
	if err := s.audit(ctx, actor, "campaign.register", nationalID, "ok", map[string]any{"provider": held.ProviderID, "since": held.Since}); err != nil {
		return nil, err
	}
	return h, nil
}

// issued records the certificate's serial with the holding. The holding
// is this provider's already; a failure here is logged, and the next
// registration (or a switch's release) carries the serial.
func (h *campaignHold) issued(ctx context.Context, serial string) {
	if h == nil {
		return
	}
	if _, err := h.s.cfg.CampaignRegistry.Register(ctx, h.nationalID, serial); err != nil {
		h.s.log.WarnContext(ctx, "signing: recording the campaign certificate's serial in the registry", "national_id", h.nationalID, "err", err)
	}
	h.fresh = false
}

// abandon releases a holding this enrolment took when it then failed, so
// that the citizen is free at every provider again.
func (h *campaignHold) abandon(ctx context.Context) {
	if h == nil || !h.fresh {
		return
	}
	ctx = context.WithoutCancel(ctx)
	if err := h.s.cfg.CampaignRegistry.Release(ctx, h.nationalID, store.HoldingAbandoned); err != nil && !errors.Is(err, campaignreg.ErrNotHeld) {
		h.s.log.WarnContext(ctx, "signing: releasing an abandoned campaign holding", "national_id", h.nationalID, "err", err)
		return
	}
	if err := h.s.audit(ctx, h.actor, "campaign.release", h.nationalID, "ok", map[string]any{"reason": store.HoldingAbandoned}); err != nil {
		h.s.log.WarnContext(ctx, "signing: auditing campaign.release", "err", err)
	}
}

// FreeMonthsAfter is the free period at a new provider of a citizen who
// used used whole months at the old one: free less used, never below 0.
func FreeMonthsAfter(free, used int) int {
	return max(0, free-max(0, used))
}

// terms records a switched credential's free period before its enrolment
// is written (store.CampaignTerms).
func (h *campaignHold) terms(ctx context.Context, credID string) error {
	if h == nil || h.switched == nil {
		return nil
	}
	t := &store.CampaignTerms{CredentialID: credID, FromProvider: h.switched.ProviderID, MonthsUsed: h.switched.MonthsUsed,
		FreeMonths: FreeMonthsAfter(h.s.cfg.FreeMonths, h.switched.MonthsUsed), CreatedAt: h.s.now()}
	if err := h.s.st.PutCampaignTerms(ctx, t); err != nil {
		return fmt.Errorf("signing: recording the free period after a switch: %w", err)
	}
	return nil
}

// freeMonths is the free period of cred's campaign certificate: its terms
// after a switch, else Config.FreeMonths.
func (s *Service) freeMonths(ctx context.Context, credID string) (int, error) {
	t, err := s.st.GetCampaignTerms(ctx, credID)
	switch {
	case err == nil:
		return t.FreeMonths, nil
	case errors.Is(err, store.ErrNotFound):
		return s.cfg.FreeMonths, nil
	}
	return 0, err
}

// SyncCampaignRegistry learns from the registry which of this provider's
// holdings other providers took by a switch, revokes those campaign
// certificates (reason superseded; audited campaign.superseded) and
// acknowledges each once revoked. A failure leaves the holding
// unacknowledged for the next round: at least once. It returns how many
// holdings it settled. kysod runs it periodically.
func (s *Service) SyncCampaignRegistry(ctx context.Context) (int, error) {
	reg := s.cfg.CampaignRegistry
	if reg == nil {
		return 0, nil
	}
	hs, err := reg.Released(ctx)
	if err != nil {
		return 0, fmt.Errorf("signing: reading the campaign registry: %w", err)
	}
	var done []int64
	var errs []error
	for _, h := range hs {
		if err := s.supersede(ctx, h); err != nil {
			errs = append(errs, err)
			continue
		}
		done = append(done, h.ID)
	}
	if len(done) > 0 {
		if err := reg.Ack(ctx, done); err != nil {
			errs = append(errs, fmt.Errorf("signing: acknowledging to the campaign registry: %w", err))
			return 0, errors.Join(errs...)
		}
	}
	return len(done), errors.Join(errs...)
}

// supersede revokes this provider's campaign certificates of a holding
// switched away: the one it names, or without a serial every good
// campaign certificate of that national ID issued before the switch.
func (s *Service) supersede(ctx context.Context, h *campaignreg.Holding) error {
	recs, err := s.ca.List(ctx, &store.CertificateFilter{NationalID: h.NationalID, Profile: ca.ProfileCitizen})
	if err != nil {
		return fmt.Errorf("signing: listing %s's certificates: %w", h.NationalID, err)
	}
	var revoked []string
	for _, rec := range recs {
		serial := ca.FormatSerial(rec.Serial)
		if !rec.Campaign || rec.Status == store.StatusRevoked {
			continue
		}
		if h.Serial != "" && !strings.EqualFold(serial, h.Serial) {
			continue
		}
		if h.Serial == "" && !rec.NotBefore.Before(h.ReleasedAt) {
			continue
		}
		if err := s.ca.Revoke(ctx, rec.Serial, store.ReasonSuperseded, time.Time{}); err != nil && !errors.Is(err, ca.ErrAlreadyRevoked) {
			return fmt.Errorf("signing: revoking %s's campaign certificate %s after a switch: %w", h.NationalID, serial, err)
		}
		revoked = append(revoked, serial)
	}
	s.log.InfoContext(ctx, "signing: campaign signature moved to another provider", "national_id", h.NationalID, "to", h.ReleasedTo, "revoked", revoked)
	return s.audit(ctx, "campaign-registry", "campaign.superseded", h.NationalID, "ok", map[string]any{
		"holding": h.ID, "to": h.ReleasedTo, "months_used": h.MonthsUsed, "revoked": revoked, "reason": "superseded",
	})
}

// Backfill is what BackfillCampaignRegistry found and did.
type Backfill struct {
	// Registered: holdings registered now; Held: already this provider's
	// in the registry; HeldElsewhere: citizens another provider holds
	// too, whom the operator settles (one of the two certificates is
	// revoked, or the citizen switches), the first thousand of them in
	// Elsewhere.
	Registered    int                    `json:"registered"`
	Held          int                    `json:"held"`
	HeldElsewhere int                    `json:"held_elsewhere"`
	Elsewhere     []*campaignreg.Holding `json:"elsewhere"`
	// DryRun: nothing was registered; Registered counts what would be.
	DryRun bool `json:"dry_run"`
}

// maxBackfillElsewhere bounds the conflicts a Backfill lists (and its
// audit event names); the count goes on past it.
const maxBackfillElsewhere = 1000

func (b *Backfill) elsewhere(h *campaignreg.Holding) {
	b.HeldElsewhere++
	if len(b.Elsewhere) < maxBackfillElsewhere {
		b.Elsewhere = append(b.Elsewhere, h)
	}
}

// BackfillCampaignRegistry registers in the campaign registry every
// campaign certificate this provider holds in force (store
// ListCampaignHolders): what a provider that issued before joining a
// shared registry does once, so the registry knows its citizens. It is
// idempotent (Register is), so it may be run again after a failure; a
// citizen another provider holds is listed, not changed. dryRun only
// looks. Audited: campaign.backfill with the counts and the conflicts.
func (s *Service) BackfillCampaignRegistry(ctx context.Context, actor string, dryRun bool) (*Backfill, error) {
	reg := s.cfg.CampaignRegistry
	if reg == nil {
		return nil, fail(KindInvalid, "no campaign registry is configured")
	}
	me := reg.Provider().ID
	out := &Backfill{DryRun: dryRun, Elsewhere: []*campaignreg.Holding{}}
	var walkErr error
	for after := ""; ; {
		hs, err := s.st.ListCampaignHolders(ctx, after, s.now(), 500)
		if err != nil {
			walkErr = err
			break
		}
		for _, h := range hs {
			after = h.NationalID
			serial := ca.FormatSerial(h.Serial)
			got, err := reg.Lookup(ctx, h.NationalID)
			switch {
			case err == nil && got.ProviderID == me:
				out.Held++
				continue
			case err == nil:
				out.elsewhere(got)
				continue
			case !errors.Is(err, campaignreg.ErrNotHeld):
				walkErr = fmt.Errorf("signing: looking up %s in the campaign registry: %w", h.NationalID, err)
			case dryRun:
				out.Registered++
				continue
			}
			if walkErr != nil {
				break
			}
			if _, err := reg.Register(ctx, h.NationalID, serial); err != nil {
				var held *campaignreg.HeldError
				if errors.As(err, &held) { // taken meanwhile
					out.elsewhere(held.Holding)
					continue
				}
				walkErr = fmt.Errorf("signing: registering %s in the campaign registry: %w", h.NationalID, err)
				break
			}
			out.Registered++
		}
		if walkErr != nil || len(hs) < 500 {
			break
		}
	}
	conflicts := make([]map[string]any, len(out.Elsewhere))
	for i, h := range out.Elsewhere {
		conflicts[i] = map[string]any{"national_id": h.NationalID, "provider": h.ProviderID, "since": h.Since}
	}
	outcome := "ok"
	details := map[string]any{"registered": out.Registered, "held": out.Held, "elsewhere": out.HeldElsewhere, "conflicts": conflicts, "dry_run": dryRun}
	if walkErr != nil {
		outcome, details["error"] = "error", walkErr.Error()
	}
	if err := s.audit(ctx, actor, "campaign.backfill", reg.Provider().ID, outcome, details); err != nil {
		return nil, errors.Join(walkErr, err)
	}
	if walkErr != nil {
		return out, walkErr
	}
	return out, nil
}
