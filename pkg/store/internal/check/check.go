// Package check holds the input rules the store (internal/sqlstore)
// enforces before it touches the database, so that SQLite and PostgreSQL
// refuse the same things with the same words.
package check

import (
	"bytes"
	"encoding/json"
	"fmt"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/kyso-pki/kyso/pkg/store"
)

// Bounds on what a store accepts.
const (
	MaxName       = 128      // CA names, issuers, profiles
	MaxURI        = 2048     // key URIs
	MaxSubject    = 1024     // subject DNs, audit subjects
	MaxNationalID = 64       // "CCCD:079203001234"
	MaxActor      = 256      // audit actors
	MaxAction     = 128      // audit actions
	MaxDER        = 64 << 10 // one certificate
	MaxChain      = 16       // certificates above a CA's own
	MaxCRL        = 16 << 20 // one signed CRL
	MaxDetails    = 16 << 10 // audit details
	MaxSerial     = 20       // RFC 5280 section 4.1.2.2
	DefaultLimit  = 1000     // list limit when none is given
	MaxLimit      = 10000    // largest list limit honoured
)

// Invalid returns an error wrapping store.ErrInvalid.
func Invalid(format string, args ...any) error {
	return fmt.Errorf("%w: %s", store.ErrInvalid, fmt.Sprintf(format, args...))
}

// Limit turns a caller's limit into the one used: ≤ 0 gives DefaultLimit,
// more than MaxLimit gives MaxLimit.
func Limit(n int) int {
	if n <= 0 {
		return DefaultLimit
	}
	if n > MaxLimit {
		return MaxLimit
	}
	return n
}

// Serial checks a serial number: 1 to 20 octets, big-endian, positive (top
// bit clear) and without a leading zero byte, the one DER encoding of an RFC
// 5280 CertificateSerialNumber's magnitude.
func Serial(s []byte) error {
	switch {
	case len(s) == 0:
		return Invalid("serial number is empty")
	case len(s) > MaxSerial:
		return Invalid("serial number is %d octets, more than %d", len(s), MaxSerial)
	case s[0]&0x80 != 0:
		return Invalid("serial number %x is negative (top bit set)", s)
	case s[0] == 0:
		return Invalid("serial number %x has a leading zero byte", s)
	}
	return nil
}

// KeyHash checks a public key hash: SHA-256 over a SubjectPublicKeyInfo,
// so 32 bytes.
func KeyHash(h []byte) error {
	if len(h) != 32 {
		return Invalid("public key hash is %d bytes, not 32 (SHA-256)", len(h))
	}
	return nil
}

// String checks that s is valid UTF-8 without NUL, at most max bytes, and
// not empty when required.
func String(field, s string, max int, required bool) error {
	switch {
	case required && s == "":
		return Invalid("%s is empty", field)
	case len(s) > max:
		return Invalid("%s is %d bytes, more than %d", field, len(s), max)
	case !utf8.ValidString(s):
		return Invalid("%s is not valid UTF-8", field)
	case strings.IndexByte(s, 0) >= 0:
		return Invalid("%s contains a NUL byte", field)
	}
	return nil
}

// Bytes checks that b is not empty and at most max bytes.
func Bytes(field string, b []byte, max int) error {
	switch {
	case len(b) == 0:
		return Invalid("%s is empty", field)
	case len(b) > max:
		return Invalid("%s is %d bytes, more than %d", field, len(b), max)
	}
	return nil
}

// CA checks a CA record.
func CA(ca *store.CA) error {
	if ca == nil {
		return Invalid("CA is nil")
	}
	if err := String("CA name", ca.Name, MaxName, true); err != nil {
		return err
	}
	switch ca.Kind {
	case "root", "issuing", "imported-subordinate":
	default:
		return Invalid("CA kind %q is not root, issuing or imported-subordinate", ca.Kind)
	}
	if err := String("CA key URI", ca.KeyURI, MaxURI, false); err != nil {
		return err
	}
	if err := Bytes("CA certificate", ca.CertDER, MaxDER); err != nil {
		return err
	}
	if len(ca.ChainDER) > MaxChain {
		return Invalid("CA chain has %d certificates, more than %d", len(ca.ChainDER), MaxChain)
	}
	for i, der := range ca.ChainDER {
		if err := Bytes(fmt.Sprintf("CA chain certificate %d", i), der, MaxDER); err != nil {
			return err
		}
	}
	return nil
}

// TrustAnchor checks a trust anchor record.
func TrustAnchor(a *store.TrustAnchor) error {
	if a == nil {
		return Invalid("trust anchor is nil")
	}
	if err := KeyHash(a.SHA256); err != nil {
		return Invalid("trust anchor SHA-256 is %d bytes, not 32", len(a.SHA256))
	}
	if err := Bytes("trust anchor certificate", a.DER, MaxDER); err != nil {
		return err
	}
	if err := String("trust anchor subject", a.Subject, MaxURI, false); err != nil {
		return err
	}
	if err := String("trust anchor source", a.Source, MaxURI, false); err != nil {
		return err
	}
	return String("trust anchor added-by", a.AddedBy, MaxName, false)
}

// Reservation checks a serial reservation.
func Reservation(r *store.SerialReservation) error {
	if r == nil {
		return Invalid("serial reservation is nil")
	}
	if err := String("issuer", r.Issuer, MaxName, true); err != nil {
		return err
	}
	return Serial(r.Serial)
}

// Certificate checks a certificate record. An empty Status means
// store.StatusGood.
func Certificate(c *store.Certificate) error {
	if c != nil && (c.CRLShard < 0 || c.CRLShard > store.MaxCRLShards) {
		return Invalid("CRL shard %d is outside [0, %d]", c.CRLShard, store.MaxCRLShards)
	}
	if c == nil {
		return Invalid("certificate is nil")
	}
	if err := String("issuer", c.Issuer, MaxName, true); err != nil {
		return err
	}
	if err := Serial(c.Serial); err != nil {
		return err
	}
	if err := Bytes("certificate DER", c.DER, MaxDER); err != nil {
		return err
	}
	if err := String("profile", c.Profile, MaxName, true); err != nil {
		return err
	}
	if err := String("subject", c.Subject, MaxSubject, false); err != nil {
		return err
	}
	if err := String("national ID", c.NationalID, MaxNationalID, c.Campaign); err != nil {
		return err
	}
	if err := KeyHash(c.PublicKeySHA256); err != nil {
		return err
	}
	if err := String("key URI", c.KeyURI, MaxURI, false); err != nil {
		return err
	}
	if c.NotBefore.IsZero() || c.NotAfter.IsZero() {
		return Invalid("validity period is not set")
	}
	if c.NotAfter.Before(c.NotBefore) {
		return Invalid("notAfter %v is before notBefore %v", c.NotAfter, c.NotBefore)
	}
	switch c.Status {
	case "", store.StatusGood, store.StatusRevoked, store.StatusHold:
	default:
		return Invalid("status %q is not good, revoked or hold", c.Status)
	}
	return nil
}

// Filter checks a certificate filter; nil matches everything.
func Filter(f *store.CertificateFilter) error {
	if f == nil {
		return nil
	}
	for _, s := range []struct{ field, v string }{
		{"issuer", f.Issuer}, {"national ID", f.NationalID}, {"profile", f.Profile}, {"status", f.Status},
	} {
		if err := String(s.field, s.v, MaxSubject, false); err != nil {
			return err
		}
	}
	return nil
}

// Revocation checks a revocation. Reason must be an RFC 5280 CRLReason a
// CA may assign to a certificate: not 7 (unused) and not removeFromCRL (8),
// which only appears in delta CRLs.
func Revocation(r *store.Revocation) error {
	if r == nil {
		return Invalid("revocation is nil")
	}
	if err := String("issuer", r.Issuer, MaxName, true); err != nil {
		return err
	}
	if err := Serial(r.Serial); err != nil {
		return err
	}
	switch r.Reason {
	case 0, 1, 2, 3, 4, 5, 6, 9, 10:
	default:
		return Invalid("revocation reason %d is not one a certificate can be revoked for (RFC 5280 section 5.3.1)", r.Reason)
	}
	return nil
}

// CRL checks a CRL record.
func CRL(c *store.CRL) error {
	if c == nil {
		return Invalid("CRL is nil")
	}
	if err := String("issuer", c.Issuer, MaxName, true); err != nil {
		return err
	}
	if c.Number < 1 {
		return Invalid("CRL number %d is not positive", c.Number)
	}
	if c.Shard < 0 || c.Shard > store.MaxCRLShards {
		return Invalid("CRL shard %d is outside [0, %d]", c.Shard, store.MaxCRLShards)
	}
	if err := Bytes("CRL DER", c.DER, MaxCRL); err != nil {
		return err
	}
	if c.ThisUpdate.IsZero() {
		return Invalid("CRL thisUpdate is not set")
	}
	return nil
}

// Audit checks an audit event and returns the details to store: nil or
// empty details become "{}".
func Audit(e *store.AuditEvent) ([]byte, error) {
	if e == nil {
		return nil, Invalid("audit event is nil")
	}
	if err := String("audit actor", e.Actor, MaxActor, true); err != nil {
		return nil, err
	}
	if err := String("audit action", e.Action, MaxAction, true); err != nil {
		return nil, err
	}
	if err := String("audit subject", e.Subject, MaxSubject, false); err != nil {
		return nil, err
	}
	switch e.Outcome {
	case "ok", "intent", "error", "abandoned":
	default:
		return nil, Invalid("audit outcome %q is not ok, intent, error or abandoned", e.Outcome)
	}
	if u := e.Usage; u != nil {
		if err := ID("usage owner ID", u.OwnerID); err != nil {
			return nil, err
		}
		if err := ID("usage client ID", u.ClientID); err != nil {
			return nil, err
		}
		if err := Category(u.Category); err != nil {
			return nil, err
		}
	}
	d := e.Details
	if len(bytes.TrimSpace(d)) == 0 {
		return []byte("{}"), nil
	}
	if len(d) > MaxDetails {
		return nil, Invalid("audit details are %d bytes, more than %d", len(d), MaxDetails)
	}
	if !utf8.Valid(d) || bytes.IndexByte(d, 0) >= 0 {
		return nil, Invalid("audit details are not NUL-free UTF-8")
	}
	var obj map[string]json.RawMessage
	if err := json.Unmarshal(d, &obj); err != nil || obj == nil {
		return nil, Invalid("audit details are not a JSON object")
	}
	return d, nil
}

// Time truncates t to the microsecond both databases keep and puts it in
// UTC.
func Time(t time.Time) time.Time { return t.UTC().Truncate(time.Microsecond) }

// Category checks a client category: public-service or commercial.
func Category(c string) error {
	if c != store.CategoryPublicService && c != store.CategoryCommercial {
		return Invalid("client category %q is not %s or %s", c, store.CategoryPublicService, store.CategoryCommercial)
	}
	return nil
}

// Holding checks a campaign holding: a national ID, a provider's ID and
// name, and bounded serial and evidence.
func Holding(h *store.Holding) error {
	if h == nil {
		return Invalid("no holding")
	}
	for _, f := range []struct {
		name, s  string
		max      int
		required bool
	}{{"national ID", h.NationalID, MaxNationalID, true}, {"provider ID", h.ProviderID, 128, true},
		{"provider name", h.ProviderName, 256, true}, {"serial", h.Serial, 64, false}, {"evidence", h.Evidence, 256, false}} {
		if err := String(f.name, f.s, f.max, f.required); err != nil {
			return err
		}
	}
	return nil
}
