// Package campaignreg is the campaign registry (issue 18): one campaign
// signature per citizen, across providers. A Registry answers whether a
// national ID holds a campaign signature, at which provider and since
// when; registers a provider's holding (again, idempotently, by the same
// provider; refused, naming the holder, for another); moves a holding to
// another provider when the citizen asks (Switch: the old holding is
// released with the whole months used); and tells a provider which of its
// holdings were switched away, so that it revokes its certificate.
//
// Two implementations: Local, the registry of one provider in its own
// database (Book over store.CampaignRegistry), and Client, the HTTP client
// of a shared registry that the authority or the providers' club runs —
// a kysod started with --registry serves Handler. The protocol is mutual
// TLS (the provider's client certificate, pinned by its public key, says
// who calls) and a compact JWS (ES256, the provider's registry key in its
// key store) over every request body, with a time and a nonce: the
// registry keeps each request it acted on as signed evidence, and refuses
// replays (DESIGN.md, "The campaign registry").
package campaignreg

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"time"

	"github.com/kyso-pki/kyso/pkg/display"
	"github.com/kyso-pki/kyso/pkg/store"
)

// Registry is the campaign registry as one provider sees it: every call
// acts for that provider.
type Registry interface {
	// Lookup returns the national ID's active holding, or ErrNotHeld.
	Lookup(ctx context.Context, nationalID string) (*Holding, error)
	// Register records this provider's holding of the national ID (with
	// the certificate's serial once it is known) and returns it; calling
	// again is idempotent. When another provider holds it, the error is
	// a *HeldError naming that provider (errors.Is ErrHeld).
	Register(ctx context.Context, nationalID, serial string) (*Holding, error)
	// Switch moves the national ID's holding from another provider to
	// this one on the citizen's request (Consent required); it returns
	// the released holding with the whole months used there.
	Switch(ctx context.Context, nationalID string, consent *Consent) (*Holding, error)
	// Release ends this provider's own holding (an enrolment that did not
	// issue its certificate); ErrNotHeld when it holds none.
	Release(ctx context.Context, nationalID, reason string) error
	// Released returns this provider's holdings other providers took by a
	// switch, not yet acknowledged (Ack): the campaign certificates it
	// must revoke, superseded.
	Released(ctx context.Context) ([]*Holding, error)
	// Ack acknowledges released holdings by their IDs, once their
	// certificates are revoked.
	Ack(ctx context.Context, ids []int64) error
	// Provider is this provider as the registry knows it.
	Provider() Provider
}

// Holding is a provider's hold of a citizen's campaign signature, as the
// registry answers it.
type Holding struct {
	ID            int64     `json:"id"`
	NationalID    string    `json:"national_id"`
	ProviderID    string    `json:"provider_id"`
	ProviderName  string    `json:"provider_name"`
	Serial        string    `json:"serial,omitempty"`
	Since         time.Time `json:"since"`
	ReleasedAt    time.Time `json:"released_at,omitzero"`
	ReleaseReason string    `json:"release_reason,omitempty"`
	ReleasedTo    string    `json:"released_to,omitempty"`
	MonthsUsed    int       `json:"months_used"`
}

func fromStore(h *store.Holding) *Holding {
	return &Holding{ID: h.ID, NationalID: h.NationalID, ProviderID: h.ProviderID, ProviderName: h.ProviderName,
		Serial: h.Serial, Since: h.Since, ReleasedAt: h.ReleasedAt, ReleaseReason: h.ReleaseReason,
		ReleasedTo: h.ReleasedTo, MonthsUsed: h.MonthsUsed}
}

// Provider is a signing provider in the registry: its identifier and the
// name a refused provider's citizen is shown.
type Provider struct {
	ID   string `json:"id" yaml:"id"`
	Name string `json:"name" yaml:"name"`
}

// MaxProviderID and MaxProviderName bound a provider's identifier and
// name; MaxEvidence the consent's kind and reference together.
const (
	MaxProviderID   = 64
	MaxProviderName = 200
	MaxEvidence     = 200
)

// Check refuses a provider whose ID is not a short token of letters,
// digits, '.', '-' and '_', or whose name is empty, too long or holds
// characters display.Text refuses (controls, bidirectional overrides,
// invisible ones): a name other providers' citizens are shown.
func (p Provider) Check() error {
	if p.ID == "" || len(p.ID) > MaxProviderID || strings.TrimFunc(p.ID, idRune) != "" {
		return fmt.Errorf("%w: a provider ID is 1 to %d letters, digits, '.', '-' or '_', not %q", ErrInvalid, MaxProviderID, display.Escape(p.ID))
	}
	if p.Name == "" || len(p.Name) > MaxProviderName {
		return fmt.Errorf("%w: provider %s's name is empty or longer than %d bytes", ErrInvalid, p.ID, MaxProviderName)
	}
	if err := display.Text("provider name", p.Name); err != nil {
		return fmt.Errorf("%w: provider %s: %v", ErrInvalid, p.ID, err)
	}
	return nil
}

func idRune(r rune) bool {
	return r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || r == '.' || r == '-' || r == '_'
}

// Consent is the citizen's request to move their campaign signature: how
// it was given (Kind: an identity evidence kind such as "cccd-chip", or
// "signed-form") and its reference, and when. The new provider asserts it
// in its signed request; the registry records it with the switch.
type Consent struct {
	Kind string    `json:"kind"`
	Ref  string    `json:"ref"`
	At   time.Time `json:"at"`
}

func (c *Consent) check(now time.Time) error {
	switch {
	case c == nil || c.Kind == "" || c.Ref == "" || c.At.IsZero():
		return fmt.Errorf("%w: a switch needs the citizen's consent: its kind, reference and time", ErrInvalid)
	case len(c.Kind)+len(c.Ref) > MaxEvidence:
		return fmt.Errorf("%w: the consent's kind and reference are longer than %d bytes", ErrInvalid, MaxEvidence)
	case c.At.After(now.Add(MaxSkew)):
		return fmt.Errorf("%w: the consent is dated in the future", ErrInvalid)
	}
	if err := display.Text("consent", c.Kind+":"+c.Ref); err != nil {
		return fmt.Errorf("%w: %v", ErrInvalid, err)
	}
	return nil
}

// Errors a registry answers.
var (
	// ErrHeld: another provider holds the citizen's campaign signature;
	// the error is a *HeldError naming it.
	ErrHeld = errors.New("campaign signature held at another provider")
	// ErrNotHeld: no holding (of this provider, for Release).
	ErrNotHeld = errors.New("no campaign signature held")
	// ErrInvalid: the request is malformed; the message says what.
	ErrInvalid = errors.New("invalid registry request")
	// ErrDenied: the caller is not a registered provider, or its request
	// is not signed by its key, is stale or replayed.
	ErrDenied = errors.New("registry request refused")
	// ErrConflict: the request contradicts the registry's state (a
	// switch to the provider already holding).
	ErrConflict = errors.New("registry conflict")
)

// HeldError says who holds a citizen's campaign signature.
type HeldError struct {
	Holding *Holding
}

func (e *HeldError) Error() string {
	return fmt.Sprintf("%s already holds a campaign signature at %s (%s) since %s; the citizen may ask to switch",
		e.Holding.NationalID, display.Escape(e.Holding.ProviderName), e.Holding.ProviderID, e.Holding.Since.UTC().Format(time.DateOnly))
}

// Is makes errors.Is(err, ErrHeld) true.
func (e *HeldError) Is(target error) bool { return target == ErrHeld }

// MaxSkew is how far a signed request's time may be from the registry's
// clock; its nonce is remembered that long after it.
const MaxSkew = 2 * time.Minute

// Store is what a Book keeps: the registry's records and the audit log.
type Store interface {
	store.CampaignRegistry
	AppendAudit(ctx context.Context, es ...*store.AuditEvent) error
}

// Book is the registry's decisions over its records, for any provider:
// what Local and the served registry (Handler) share. Every decision is
// audited in the registry's database: registry.lookup, .register,
// .refuse, .switch, .release, .ack; with the provider's signed request as
// evidence when it came over HTTP.
type Book struct {
	st  Store
	now func() time.Time
	log *slog.Logger
}

// NewBook returns a Book over st; now nil means time.Now, log nil
// slog.Default.
func NewBook(st Store, now func() time.Time, log *slog.Logger) *Book {
	if now == nil {
		now = time.Now
	}
	if log == nil {
		log = slog.Default()
	}
	return &Book{st: st, now: now, log: log}
}

// Request is a decision asked of the Book: by Provider, for NationalID;
// Signed is the compact JWS it came in (empty in process).
type Request struct {
	Provider   Provider
	NationalID string
	Serial     string
	Reason     string
	Consent    *Consent
	IDs        []int64
	Signed     string
}

// checkNationalID takes "CCCD:" and 12 digits.
func checkNationalID(nid string) error {
	d, ok := strings.CutPrefix(nid, "CCCD:")
	if !ok || len(d) != 12 || strings.TrimLeft(d, "0123456789") != "" {
		return fmt.Errorf("%w: a national ID is CCCD: and 12 digits, not %q", ErrInvalid, display.Escape(truncate(nid, 40)))
	}
	return nil
}

func truncate(s string, n int) string {
	if len(s) > n {
		return s[:n] + "…"
	}
	return s
}

func (b *Book) event(r *Request, action, outcome string, details map[string]any) *store.AuditEvent {
	if details == nil {
		details = map[string]any{}
	}
	details["provider"] = r.Provider.ID
	if r.Signed != "" {
		details["request"] = r.Signed // the signed request, the registry's evidence
	}
	d, _ := json.Marshal(details)
	return &store.AuditEvent{Time: b.now(), Actor: "registry:" + r.Provider.ID, Action: action, Subject: r.NationalID, Outcome: outcome, Details: d}
}

// audit appends an event outside a change (a refusal); a failure is
// logged, and the decision stands.
func (b *Book) audit(ctx context.Context, e *store.AuditEvent) {
	if err := b.st.AppendAudit(ctx, e); err != nil {
		b.log.Error("campaign registry: auditing", "action", e.Action, "err", err)
	}
}

func (b *Book) storeErr(err error) error {
	switch {
	case errors.Is(err, store.ErrNotFound):
		return fmt.Errorf("%w: %v", ErrNotHeld, err)
	case errors.Is(err, store.ErrConflict):
		return fmt.Errorf("%w: %v", ErrConflict, err)
	case errors.Is(err, store.ErrInvalid):
		return fmt.Errorf("%w: %v", ErrInvalid, err)
	}
	return err
}

// Lookup returns the active holding of r.NationalID.
func (b *Book) Lookup(ctx context.Context, r *Request) (*Holding, error) {
	if err := checkNationalID(r.NationalID); err != nil {
		return nil, err
	}
	h, err := b.st.GetHolding(ctx, r.NationalID)
	// Who asked about whom is kept: a lookup answers personal data.
	found := map[string]any{"held": err == nil}
	if err != nil && !errors.Is(err, store.ErrNotFound) {
		return nil, err
	}
	b.audit(ctx, b.event(r, "registry.lookup", "ok", found))
	if err != nil {
		return nil, b.storeErr(err)
	}
	return fromStore(h), nil
}

// Register records r.Provider's holding, or refuses naming the holder.
func (b *Book) Register(ctx context.Context, r *Request) (*Holding, error) {
	if err := checkNationalID(r.NationalID); err != nil {
		return nil, err
	}
	if len(r.Serial) > 64 || strings.TrimLeft(r.Serial, "0123456789ABCDEFabcdef") != "" {
		return nil, fmt.Errorf("%w: a serial is at most 64 hexadecimal digits", ErrInvalid)
	}
	e := b.event(r, "registry.register", "ok", map[string]any{"serial": r.Serial})
	h, err := b.st.RegisterHolding(ctx, &store.Holding{NationalID: r.NationalID, ProviderID: r.Provider.ID,
		ProviderName: r.Provider.Name, Serial: strings.ToUpper(r.Serial), Since: b.now()}, e)
	if errors.Is(err, store.ErrCampaignHolder) {
		b.audit(ctx, b.event(r, "registry.refuse", "error", map[string]any{"holder": h.ProviderID, "since": h.Since}))
		return nil, &HeldError{Holding: fromStore(h)}
	}
	if err != nil {
		return nil, b.storeErr(err)
	}
	return fromStore(h), nil
}

// Switch moves the holding to r.Provider on the citizen's consent.
func (b *Book) Switch(ctx context.Context, r *Request) (*Holding, error) {
	if err := checkNationalID(r.NationalID); err != nil {
		return nil, err
	}
	now := b.now()
	if err := r.Consent.check(now); err != nil {
		b.audit(ctx, b.event(r, "registry.switch", "error", map[string]any{"why": err.Error()}))
		return nil, err
	}
	evidence := r.Consent.Kind + ":" + r.Consent.Ref + "@" + r.Consent.At.UTC().Format(time.RFC3339)
	e := b.event(r, "registry.switch", "ok", map[string]any{"consent": evidence})
	old, err := b.st.SwitchHolding(ctx, &store.Holding{NationalID: r.NationalID, ProviderID: r.Provider.ID,
		ProviderName: r.Provider.Name, Since: now, Evidence: evidence}, e)
	if err != nil {
		b.audit(ctx, b.event(r, "registry.switch", "error", map[string]any{"why": err.Error()}))
		return nil, b.storeErr(err)
	}
	b.log.Info("campaign registry: switch", "national_id", r.NationalID, "from", old.ProviderID, "to", r.Provider.ID, "months_used", old.MonthsUsed)
	return fromStore(old), nil
}

// Release ends r.Provider's own holding.
func (b *Book) Release(ctx context.Context, r *Request) error {
	if err := checkNationalID(r.NationalID); err != nil {
		return err
	}
	reason := r.Reason
	if reason == "" {
		reason = store.HoldingAbandoned
	}
	if reason != store.HoldingAbandoned {
		return fmt.Errorf("%w: a provider releases its holding only as %q; a switch is the citizen's", ErrInvalid, store.HoldingAbandoned)
	}
	e := b.event(r, "registry.release", "ok", map[string]any{"reason": reason})
	if err := b.st.ReleaseHolding(ctx, r.NationalID, r.Provider.ID, reason, b.now(), e); err != nil {
		b.audit(ctx, b.event(r, "registry.release", "error", map[string]any{"why": err.Error()}))
		return b.storeErr(err)
	}
	return nil
}

// Released lists r.Provider's holdings switched away, unacknowledged.
func (b *Book) Released(ctx context.Context, r *Request) ([]*Holding, error) {
	hs, err := b.st.ListReleased(ctx, r.Provider.ID, 100)
	if err != nil {
		return nil, err
	}
	out := make([]*Holding, len(hs))
	for i, h := range hs {
		out[i] = fromStore(h)
	}
	return out, nil
}

// Ack acknowledges r.Provider's released holdings r.IDs.
func (b *Book) Ack(ctx context.Context, r *Request) error {
	if len(r.IDs) == 0 || len(r.IDs) > 100 {
		return fmt.Errorf("%w: acknowledge 1 to 100 holdings at once", ErrInvalid)
	}
	return b.storeErr(b.st.AckReleased(ctx, r.Provider.ID, r.IDs, b.now(), b.event(r, "registry.ack", "ok", map[string]any{"ids": r.IDs})))
}

// Local is the registry of one provider in its own database: a Book bound
// to that provider. A kysod with no shared registry configured uses it;
// one serving --registry uses it for its own enrolments.
type Local struct {
	book *Book
	p    Provider
}

// NewLocal returns book's registry as p sees it.
func NewLocal(book *Book, p Provider) (*Local, error) {
	if err := p.Check(); err != nil {
		return nil, err
	}
	return &Local{book: book, p: p}, nil
}

func (l *Local) req(nid string) *Request { return &Request{Provider: l.p, NationalID: nid} }

// Lookup implements Registry.
func (l *Local) Lookup(ctx context.Context, nationalID string) (*Holding, error) {
	return l.book.Lookup(ctx, l.req(nationalID))
}

// Register implements Registry.
func (l *Local) Register(ctx context.Context, nationalID, serial string) (*Holding, error) {
	r := l.req(nationalID)
	r.Serial = serial
	return l.book.Register(ctx, r)
}

// Switch implements Registry.
func (l *Local) Switch(ctx context.Context, nationalID string, consent *Consent) (*Holding, error) {
	r := l.req(nationalID)
	r.Consent = consent
	return l.book.Switch(ctx, r)
}

// Release implements Registry.
func (l *Local) Release(ctx context.Context, nationalID, reason string) error {
	r := l.req(nationalID)
	r.Reason = reason
	return l.book.Release(ctx, r)
}

// Released implements Registry.
func (l *Local) Released(ctx context.Context) ([]*Holding, error) {
	return l.book.Released(ctx, l.req(""))
}

// Ack implements Registry.
func (l *Local) Ack(ctx context.Context, ids []int64) error {
	r := l.req("")
	r.IDs = ids
	return l.book.Ack(ctx, r)
}

// Provider implements Registry.
func (l *Local) Provider() Provider { return l.p }
