package signing

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/kyso-pki/kyso/pkg/ca"
	"github.com/kyso-pki/kyso/pkg/store"
)

// DefaultFreeMonths is the citizen's free period when Config.FreeMonths
// is zero: twelve months from the campaign certificate's issuance.
const DefaultFreeMonths = 12

// usage is what a signature with cred through client clientID at counts
// as: its client's category, and free when the client is public-service
// and cred's certificate is a campaign certificate issued less than
// Config.FreeMonths before at (from the first certificate of its
// credential when it was renewed: store.Certificate.PeriodStart);
// metered otherwise. The signature's audit
// event carries it, so the store counts it in the write that records the
// event (store.AuditEvent.Usage).
//
// A caller in the same process acting for no client (clientID empty: the
// library's own use, SignHashRequest.ClientID) is no portal's use, and is
// not counted: nil.
func (s *Service) usage(ctx context.Context, clientID string, cred *store.Credential, at time.Time) (*store.Usage, error) {
	if clientID == "" {
		return nil, nil
	}
	c, err := s.st.GetClient(ctx, clientID)
	if err != nil {
		return nil, fmt.Errorf("signing: client %s: %w", clientID, err)
	}
	u := &store.Usage{OwnerID: cred.OwnerID, ClientID: c.ID, Category: c.Category}
	if u.Category == "" {
		u.Category = store.CategoryCommercial
	}
	if u.Category != store.CategoryPublicService {
		return u, nil
	}
	cert, err := s.st.GetCertificate(ctx, cred.CertIssuer, cred.CertSerial)
	if err != nil {
		return nil, fmt.Errorf("signing: the certificate of credential %s: %w", cred.ID, err)
	}
	if !cert.Campaign {
		return u, nil
	}
	months, err := s.freeMonths(ctx, cred.ID)
	if err != nil {
		return nil, fmt.Errorf("signing: the free period of credential %s: %w", cred.ID, err)
	}
	u.Free = at.Before(cert.PeriodStart().AddDate(0, months, 0))
	return u, nil
}

// UsageQuery asks for signature counts: the UTC days From to To
// (YYYY-MM-DD, both included, at most MaxUsageDays apart), of one citizen
// (CCCD, 12 digits) and one portal (ClientID) when set.
type UsageQuery struct {
	From, To string
	CCCD     string
	ClientID string
	// Actor is who asks, for the audit event usage.read.
	Actor string
}

// MaxUsageDays is the longest period a usage query covers; MaxUsageRows
// the most rows it returns (Usage.Truncated says when there were more).
const (
	MaxUsageDays = 366
	MaxUsageRows = 10000
)

// UsageCount is the number of signatures free and metered.
type UsageCount struct {
	Free    int64 `json:"free"`
	Metered int64 `json:"metered"`
}

// UsageLine is one citizen's signatures through one portal.
type UsageLine struct {
	OwnerID    string `json:"owner_id"`
	NationalID string `json:"national_id"`
	ClientID   string `json:"client_id"`
	Category   string `json:"category"`
	UsageCount
}

// UsageTotal sums the lines of one citizen or one portal, by category.
type UsageTotal struct {
	ID string `json:"id"`
	// ByCategory maps store.CategoryPublicService and
	// store.CategoryCommercial to their counts.
	ByCategory map[string]UsageCount `json:"by_category"`
}

// Usage is the answer to a UsageQuery: the lines, and their totals per
// citizen (by national ID) and per portal (by client ID).
type Usage struct {
	From     string        `json:"from"`
	To       string        `json:"to"`
	Lines    []*UsageLine  `json:"lines"`
	Citizens []*UsageTotal `json:"citizens"`
	Portals  []*UsageTotal `json:"portals"`
	// Renewals are the certificates renewed in the period per citizen,
	// free or metered by the provider's renewal policy (renew.go); none
	// when the query names a portal.
	Renewals  []*RenewalCount `json:"renewals"`
	Truncated bool            `json:"truncated"`
}

// ParseUsageDay reads a usage period's day: YYYY-MM-DD, UTC.
func ParseUsageDay(field, v string) (time.Time, error) { return parseDay(field, v, time.UTC) }

// Usage returns the signature counts q asks for. Bad dates, a period
// reversed or longer than MaxUsageDays and a malformed CCCD are
// invalid_request; an unknown citizen or portal is not found.
func (s *Service) Usage(ctx context.Context, q *UsageQuery) (*Usage, error) {
	from, err := ParseUsageDay("from", q.From)
	if err != nil {
		return nil, err
	}
	to, err := ParseUsageDay("to", q.To)
	if err != nil {
		return nil, err
	}
	switch {
	case to.Before(from):
		return nil, fail(KindInvalid, "the period ends (%s) before it starts (%s)", q.To, q.From)
	case to.Sub(from) >= MaxUsageDays*24*time.Hour:
		return nil, fail(KindInvalid, "the period %s to %s is longer than %d days: ask for a year at most", q.From, q.To, MaxUsageDays)
	}
	f := &store.UsageFilter{From: from, To: to, Limit: MaxUsageRows + 1}
	if q.CCCD != "" {
		cccd, err := ca.ValidateCCCD(q.CCCD)
		if err != nil {
			return nil, fail(KindInvalid, "cccd: %v", err)
		}
		o, err := s.st.GetOwnerByNationalID(ctx, "CCCD:"+cccd)
		if errors.Is(err, store.ErrNotFound) {
			return nil, fail(KindNotFound, "no citizen with that CCCD")
		}
		if err != nil {
			return nil, err
		}
		f.OwnerID = o.ID
	}
	if q.ClientID != "" {
		if !validID(q.ClientID) {
			return nil, fail(KindInvalid, "a client ID of 1 to 128 bytes of UTF-8 is required")
		}
		if _, err := s.st.GetClient(ctx, q.ClientID); errors.Is(err, store.ErrNotFound) {
			return nil, fail(KindNotFound, "no such client")
		} else if err != nil {
			return nil, err
		}
		f.ClientID = q.ClientID
	}
	rows, err := s.st.Usage(ctx, f)
	if err != nil {
		return nil, fmt.Errorf("signing: reading usage: %w", err)
	}
	renewals := []*RenewalCount{}
	if f.ClientID == "" {
		rs, err := s.st.CountRenewals(ctx, from, to.AddDate(0, 0, 1), f.OwnerID)
		if err != nil {
			return nil, fmt.Errorf("signing: counting renewals: %w", err)
		}
		for _, r := range rs[:min(len(rs), MaxUsageRows)] {
			renewals = append(renewals, &RenewalCount{OwnerID: r.OwnerID, NationalID: r.NationalID, UsageCount: UsageCount{Free: r.Free, Metered: r.Metered}})
		}
	}
	// Who read whose counts: a citizen's signing activity is personal data.
	d := map[string]any{"from": q.From, "to": q.To, "lines": min(len(rows), MaxUsageRows)}
	if f.OwnerID != "" {
		d["owner"] = f.OwnerID
	}
	if f.ClientID != "" {
		d["client"] = f.ClientID
	}
	if err := s.audit(ctx, q.Actor, "usage.read", "", "ok", d); err != nil {
		return nil, err
	}
	u := &Usage{From: q.From, To: q.To, Lines: []*UsageLine{}, Renewals: renewals}
	if len(rows) > MaxUsageRows {
		rows, u.Truncated = rows[:MaxUsageRows], true
	}
	citizens, portals := map[string]*UsageTotal{}, map[string]*UsageTotal{}
	add := func(m map[string]*UsageTotal, list *[]*UsageTotal, id, category string, c UsageCount) {
		t := m[id]
		if t == nil {
			t = &UsageTotal{ID: id, ByCategory: map[string]UsageCount{}}
			m[id] = t
			*list = append(*list, t)
		}
		sum := t.ByCategory[category]
		sum.Free += c.Free
		sum.Metered += c.Metered
		t.ByCategory[category] = sum
	}
	u.Citizens, u.Portals = []*UsageTotal{}, []*UsageTotal{}
	for _, r := range rows {
		l := &UsageLine{OwnerID: r.OwnerID, NationalID: r.NationalID, ClientID: r.ClientID, Category: r.Category,
			UsageCount: UsageCount{Free: r.Free, Metered: r.Metered}}
		u.Lines = append(u.Lines, l)
		add(citizens, &u.Citizens, r.NationalID, r.Category, l.UsageCount)
		add(portals, &u.Portals, r.ClientID, r.Category, l.UsageCount)
	}
	slices.SortFunc(u.Portals, func(a, b *UsageTotal) int { return strings.Compare(a.ID, b.ID) })
	slices.SortFunc(u.Citizens, func(a, b *UsageTotal) int { return strings.Compare(a.ID, b.ID) })
	return u, nil
}
