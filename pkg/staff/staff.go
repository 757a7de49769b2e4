// Package staff keeps the provider's registration officers and field
// staff (issue 18) and their badges: a QR code of a URL to the public
// check page (/app/badge), carrying a compact JWS (ES256) signed by the
// provider's badge key with only the staff ID and an expiry. A check
// verifies the token and then reads the registry, so a revocation takes
// effect at once. Every change is audited with the change, in one
// transaction.
package staff

import (
	"bytes"
	"context"
	"crypto"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"image"
	"image/jpeg"
	"image/png"
	"net/url"
	"slices"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/go-jose/go-jose/v4"
	"github.com/go-jose/go-jose/v4/cryptosigner"
	"rsc.io/qr"

	"github.com/kyso-pki/kyso/hsm"
	"github.com/kyso-pki/kyso/pkg/display"
	"github.com/kyso-pki/kyso/pkg/store"
)

// KeyLabel is the badge key's label in the key store.
const KeyLabel = "staff-badge-1"

// DefaultBadgeLifetime is how long a badge's token is good for when
// Config.BadgeLifetime is zero: a day, so a badge shown from a phone is
// made afresh each working day and a lost screenshot soon stops working.
const DefaultBadgeLifetime = 24 * time.Hour

// Bounds on what Add accepts.
const (
	// MaxPhotoPixels bounds a photo's width and height (checked from its
	// header before it is decoded).
	MaxPhotoPixels = 2000
	// MaxNameRunes bounds a name or a position, in characters.
	MaxNameRunes = 100
	// MaxTokenLen bounds a token Check parses.
	MaxTokenLen = 512
)

// ErrInvalid marks a request refused for its content (a bad photo, a
// hostile name, an empty period); the message says what.
var ErrInvalid = errors.New("staff: invalid request")

// OpenKey returns the badge key's signer (ECDSA P-256), making it in ks on
// first use, as the audit key is made.
func OpenKey(ctx context.Context, ks hsm.KeyStore) (crypto.Signer, error) {
	s, err := hsm.OpenOrCreate(ctx, ks, KeyLabel, hsm.ECDSAP256)
	if err != nil {
		return nil, fmt.Errorf("staff: the badge key: %w", err)
	}
	return s, nil
}

// Store is what the service reads and writes: the registry, and the
// audit log for what changes nothing in it (a badge made).
type Store interface {
	store.StaffRegistry
	AppendAudit(ctx context.Context, es ...*store.AuditEvent) error
}

// Config configures a Service.
type Config struct {
	// Store is the registry. Required.
	Store Store
	// Key is the badge key (ECDSA P-256; OpenKey). Required.
	Key crypto.Signer
	// AppURL is the citizen app's public base URL ("https://host"); a
	// badge links to AppURL + "/app/badge". Required for Badge.
	AppURL string
	// BadgeLifetime is how long a badge's token is good for; zero means
	// DefaultBadgeLifetime.
	BadgeLifetime time.Duration
	// Now is the clock; nil means time.Now.
	Now func() time.Time
}

// Service registers staff and makes and checks their badges.
type Service struct {
	cfg    Config
	signer jose.Signer
	pub    *ecdsa.PublicKey
}

// New returns a Service.
func New(cfg Config) (*Service, error) {
	if cfg.Store == nil || cfg.Key == nil {
		return nil, errors.New("staff: a store and a badge key are required")
	}
	pub, ok := cfg.Key.Public().(*ecdsa.PublicKey)
	if !ok || pub.Curve != elliptic.P256() {
		return nil, fmt.Errorf("staff: the badge key is a %T, not ECDSA P-256 (ES256)", cfg.Key.Public())
	}
	signer, err := jose.NewSigner(jose.SigningKey{Algorithm: jose.ES256, Key: cryptosigner.Opaque(cfg.Key)}, nil)
	if err != nil {
		return nil, fmt.Errorf("staff: the badge signer: %w", err)
	}
	if cfg.BadgeLifetime <= 0 {
		cfg.BadgeLifetime = DefaultBadgeLifetime
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	return &Service{cfg: cfg, signer: signer, pub: pub}, nil
}

// AddRequest is a staff member to register.
type AddRequest struct {
	FullName  string
	BirthYear int
	Position  string
	Provider  string
	// Wards are the ward codes the person may work in; none means any.
	Wards []string
	// Photo is a JPEG or PNG of at most store.MaxStaffPhoto bytes; its
	// type is what it decodes as, not what the caller says.
	Photo []byte
	// From and Until bound the authorisation; a zero From means now.
	From, Until time.Time
}

// Add checks req and registers the staff member, audited as staff.add by
// actor.
func (s *Service) Add(ctx context.Context, actor string, req *AddRequest) (*store.Staff, error) {
	now := s.cfg.Now()
	photoType, err := CheckPhoto(req.Photo)
	if err != nil {
		return nil, err
	}
	for _, f := range []struct{ name, v string }{{"full name", req.FullName}, {"position", req.Position}, {"provider", req.Provider}} {
		if err := CheckText(f.name, f.v); err != nil {
			return nil, err
		}
	}
	if req.BirthYear < 1900 || req.BirthYear > now.Year()-15 {
		return nil, fmt.Errorf("%w: birth year %d is not between 1900 and %d", ErrInvalid, req.BirthYear, now.Year()-15)
	}
	for _, w := range req.Wards {
		if w == "" || len(w) > 32 || strings.Trim(w, "0123456789") != "" {
			return nil, fmt.Errorf("%w: ward %q is not a ward code (digits)", ErrInvalid, w)
		}
	}
	from := req.From
	if from.IsZero() {
		from = now
	}
	if !req.Until.After(from) {
		return nil, fmt.Errorf("%w: the authorisation ends (%v) before it begins (%v)", ErrInvalid, req.Until, from)
	}
	id := make([]byte, 6)
	if _, err := rand.Read(id); err != nil {
		return nil, err
	}
	m := &store.Staff{ID: "staff-" + hex.EncodeToString(id), FullName: req.FullName, BirthYear: req.BirthYear, Position: req.Position,
		Provider: req.Provider, Wards: slices.Clone(req.Wards), Photo: req.Photo, PhotoType: photoType,
		AuthorisedFrom: from, AuthorisedUntil: req.Until, CreatedAt: now}
	ev, err := s.event(actor, "staff.add", m.ID, map[string]any{"position": m.Position, "provider": m.Provider,
		"wards": m.Wards, "from": from.UTC(), "until": req.Until.UTC()})
	if err != nil {
		return nil, err
	}
	if err := s.cfg.Store.PutStaff(ctx, m, ev); err != nil {
		if errors.Is(err, store.ErrInvalid) {
			return nil, fmt.Errorf("%w: %v", ErrInvalid, err)
		}
		return nil, fmt.Errorf("staff: registering: %w", err)
	}
	return m, nil
}

// List returns every staff member, oldest first, without photos.
func (s *Service) List(ctx context.Context) ([]*store.Staff, error) {
	return s.cfg.Store.ListStaff(ctx)
}

// Show returns the staff member with this ID, photo included; an error
// wrapping store.ErrNotFound for an unknown ID.
func (s *Service) Show(ctx context.Context, id string) (*store.Staff, error) {
	return s.cfg.Store.GetStaff(ctx, id)
}

// Revoke ends the staff member's authorisation now, audited as
// staff.revoke by actor with reason; every badge of theirs is refused
// from the next check on. store.ErrConflict when already revoked.
func (s *Service) Revoke(ctx context.Context, actor, id, reason string) error {
	if err := CheckText("reason", reason); err != nil && reason != "" {
		return err
	}
	now := s.cfg.Now()
	ev, err := s.event(actor, "staff.revoke", id, map[string]any{"reason": reason})
	if err != nil {
		return err
	}
	return s.cfg.Store.RevokeStaff(ctx, id, now, ev)
}

// Badge is a staff member's badge: the check page's URL with its token,
// and that URL as a QR code.
type Badge struct {
	StaffID   string
	Token     string
	URL       string
	ExpiresAt time.Time
	// PNG is the QR code of URL (error correction M, a quiet zone of four
	// modules).
	PNG []byte
}

// claims is what a token carries: only the staff ID and the expiry.
type claims struct {
	Sub string `json:"sub"`
	Exp int64  `json:"exp"`
}

// Badge makes a badge for the staff member, audited as staff.badge by
// actor. A revoked member, or one outside their authorisation, gets none.
func (s *Service) Badge(ctx context.Context, actor, id string) (*Badge, error) {
	if s.cfg.AppURL == "" {
		return nil, errors.New("staff: no public app URL is configured for badges")
	}
	m, err := s.cfg.Store.GetStaff(ctx, id)
	if err != nil {
		return nil, err
	}
	now := s.cfg.Now()
	if st := status(m, now, ""); st != Valid {
		return nil, fmt.Errorf("%w: staff %s is not authorised now (%s)", ErrInvalid, id, st)
	}
	exp := now.Add(s.cfg.BadgeLifetime)
	if exp.After(m.AuthorisedUntil) {
		exp = m.AuthorisedUntil
	}
	payload, _ := json.Marshal(claims{Sub: m.ID, Exp: exp.Unix()})
	jws, err := s.signer.Sign(payload)
	if err != nil {
		return nil, fmt.Errorf("staff: signing the badge: %w", err)
	}
	token, err := jws.CompactSerialize()
	if err != nil {
		return nil, err
	}
	u := strings.TrimSuffix(s.cfg.AppURL, "/") + "/app/badge?t=" + url.QueryEscape(token)
	code, err := qr.Encode(u, qr.M)
	if err != nil {
		return nil, fmt.Errorf("staff: the badge's QR code: %w", err)
	}
	code.Scale = 8
	ev, err := s.event(actor, "staff.badge", id, map[string]any{"expires": time.Unix(exp.Unix(), 0).UTC()})
	if err != nil {
		return nil, err
	}
	if err := s.cfg.Store.AppendAudit(ctx, ev); err != nil {
		return nil, fmt.Errorf("staff: auditing the badge: %w", err)
	}
	return &Badge{StaffID: id, Token: token, URL: u, ExpiresAt: time.Unix(exp.Unix(), 0), PNG: code.PNG()}, nil
}

// Status is a check's verdict.
type Status string

// A check's verdicts: only Valid is authorised.
const (
	Valid Status = "valid"
	// Revoked: the registry says the authorisation was revoked.
	Revoked Status = "revoked"
	// Expired: the badge's token, or the authorisation, has ended.
	Expired Status = "expired"
	// NotYet: the authorisation has not begun.
	NotYet Status = "not-yet"
	// OutsideWard: the citizen's ward is not one the person may work in.
	OutsideWard Status = "outside-ward"
	// Forged: the token is not one the badge key signed.
	Forged Status = "forged"
	// Unknown: a signed token naming no one in the registry.
	Unknown Status = "unknown"
)

// Verdict is what Check found.
type Verdict struct {
	Status Status
	// Staff is the person the token names, when the token is genuine and
	// the registry knows them (photo included); nil otherwise.
	Staff *store.Staff
}

// Check verifies a badge token and reads the registry: the verdict is
// Valid only for a token the badge key signed, not expired, naming a
// registered person not revoked, inside their authorisation period and,
// when ward is given, allowed in that ward.
func (s *Service) Check(ctx context.Context, token, ward string) (*Verdict, error) {
	if token == "" || len(token) > MaxTokenLen {
		return &Verdict{Status: Forged}, nil
	}
	jws, err := jose.ParseSigned(token, []jose.SignatureAlgorithm{jose.ES256})
	if err != nil {
		return &Verdict{Status: Forged}, nil
	}
	payload, err := jws.Verify(s.pub)
	if err != nil {
		return &Verdict{Status: Forged}, nil
	}
	var c claims
	if err := json.Unmarshal(payload, &c); err != nil || c.Sub == "" || c.Exp == 0 {
		return &Verdict{Status: Forged}, nil
	}
	m, err := s.cfg.Store.GetStaff(ctx, c.Sub)
	if errors.Is(err, store.ErrNotFound) {
		return &Verdict{Status: Unknown}, nil
	}
	if err != nil {
		return nil, err
	}
	now := s.cfg.Now()
	st := status(m, now, ward)
	if st == Valid && !now.Before(time.Unix(c.Exp, 0)) {
		st = Expired
	}
	return &Verdict{Status: st, Staff: m}, nil
}

// Checked audits a check of a genuine badge (v.Staff set) on the public
// check page: staff.badge.check, outcome ok when the person may enrol
// there and error otherwise, with their ID, the verdict and the ward
// asked about, so the provider learns that a revoked or expired badge, or
// one outside its wards, is still being shown. A forged or unknown token
// names no one and is not audited: anyone can make one, and the page's
// rate limit is its bound.
func (s *Service) Checked(ctx context.Context, v *Verdict, ward string) error {
	if v == nil || v.Staff == nil {
		return nil
	}
	e, err := s.event("public", "staff.badge.check", v.Staff.ID, map[string]any{"status": v.Status, "ward": ward})
	if err != nil {
		return err
	}
	if v.Status != Valid {
		e.Outcome = "error"
	}
	return s.cfg.Store.AppendAudit(ctx, e)
}

// AuditRefusal records that actor's request on behalf of staff member id
// (an enrolment in ward) was refused for st (staff.refuse, outcome
// error): the registry's every refusal of a staff member is audited.
func (s *Service) AuditRefusal(ctx context.Context, actor, id, ward string, st Status) error {
	ev, err := s.event(actor, "staff.refuse", id, map[string]any{"status": string(st), "ward": ward})
	if err != nil {
		return err
	}
	ev.Outcome = "error"
	if err := s.cfg.Store.AppendAudit(ctx, ev); err != nil {
		return fmt.Errorf("staff: auditing a refusal: %w", err)
	}
	return nil
}

// AppURL is the citizen app's public base URL (Config.AppURL), which
// the links handed to citizens start with.
func (s *Service) AppURL() string { return s.cfg.AppURL }

// Authorised is the registry's verdict, now, on the staff member id
// enrolling in ward (empty: any of theirs): Valid, or why not (Unknown
// for an ID the registry does not hold).
func (s *Service) Authorised(ctx context.Context, id, ward string) (Status, error) {
	m, err := s.cfg.Store.GetStaff(ctx, id)
	if errors.Is(err, store.ErrNotFound) {
		return Unknown, nil
	}
	if err != nil {
		return "", err
	}
	return status(m, s.cfg.Now(), ward), nil
}

// status is the registry's verdict on m at now in ward.
func status(m *store.Staff, now time.Time, ward string) Status {
	switch {
	case !m.RevokedAt.IsZero() && !now.Before(m.RevokedAt):
		return Revoked
	case now.Before(m.AuthorisedFrom):
		return NotYet
	case !now.Before(m.AuthorisedUntil):
		return Expired
	case ward != "" && len(m.Wards) > 0 && !slices.Contains(m.Wards, ward):
		return OutsideWard
	}
	return Valid
}

// CheckPhoto returns the media type of a staff photo: a JPEG or PNG of at
// most store.MaxStaffPhoto bytes and MaxPhotoPixels a side, that decodes
// whole. Anything else is refused with ErrInvalid.
func CheckPhoto(b []byte) (string, error) {
	if len(b) == 0 || len(b) > store.MaxStaffPhoto {
		return "", fmt.Errorf("%w: the photo is %d bytes, not 1 to %d", ErrInvalid, len(b), store.MaxStaffPhoto)
	}
	cfg, format, err := image.DecodeConfig(bytes.NewReader(b))
	if err != nil {
		return "", fmt.Errorf("%w: the photo is not a JPEG or PNG image: %v", ErrInvalid, err)
	}
	if cfg.Width < 1 || cfg.Height < 1 || cfg.Width > MaxPhotoPixels || cfg.Height > MaxPhotoPixels {
		return "", fmt.Errorf("%w: the photo is %dx%d pixels, more than %d a side", ErrInvalid, cfg.Width, cfg.Height, MaxPhotoPixels)
	}
	switch format {
	case "jpeg":
		_, err = jpeg.Decode(bytes.NewReader(b))
	case "png":
		_, err = png.Decode(bytes.NewReader(b))
	default:
		return "", fmt.Errorf("%w: the photo is a %s image, not a JPEG or PNG", ErrInvalid, format)
	}
	if err != nil {
		return "", fmt.Errorf("%w: the photo does not decode: %v", ErrInvalid, err)
	}
	return "image/" + format, nil
}

// CheckText refuses a name, a position or a reason that is empty, too
// long, or that display.Text refuses: invalid UTF-8, control,
// bidirectional and invisible characters, long runs of combining marks
// (what could make the check page show one name and mean another).
func CheckText(field, v string) error {
	switch {
	case strings.TrimSpace(v) == "":
		return fmt.Errorf("%w: the %s is empty", ErrInvalid, field)
	case utf8.RuneCountInString(v) > MaxNameRunes:
		return fmt.Errorf("%w: the %s is longer than %d characters", ErrInvalid, field, MaxNameRunes)
	}
	if err := display.Text("the "+field, v); err != nil {
		return fmt.Errorf("%w: %v", ErrInvalid, err)
	}
	return nil
}

// event makes an audit event of a change by actor.
func (s *Service) event(actor, action, subject string, details map[string]any) (*store.AuditEvent, error) {
	if actor == "" {
		actor = "kyso"
	}
	d, err := json.Marshal(details)
	if err != nil {
		return nil, err
	}
	return &store.AuditEvent{Time: s.cfg.Now(), Actor: actor, Action: action, Subject: subject, Outcome: "ok", Details: d}, nil
}
