// Package trust is kyso's trust store: the CA certificates whose chains
// signing checks (pkg/signercheck) and validation (pkg/verify) accept.
// It holds the provider's own root CA — always, as long as the CA
// hierarchy exists — and the roots and intermediates an operator adds from
// official files: the NEAC national root, other public CAs, recognised
// foreign trust lists (Circular 15/2025 Art. 5: "install and update the
// NEAC root, public CA and foreign trust certificates"). Nothing is
// downloaded: an anchor is added from a file and stays until removed.
//
// Every addition and removal is audited (trust.add, trust.remove) with who
// did it and the certificate's SHA-256 fingerprint.
//
// The provider's root cannot be removed: every certificate the provider
// issues chains to it, so removing it would make kyso refuse its own
// citizens' signatures. It is not a row of the trust store but the root
// the CA hierarchy holds, and it goes only with the hierarchy.
package trust

import (
	"context"
	"crypto/sha256"
	"crypto/x509"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/kyso-pki/kyso/pkg/display"
	"github.com/kyso-pki/kyso/pkg/store"
)

// Errors callers test with errors.Is.
var (
	// ErrProviderRoot: the provider's own root cannot be removed.
	ErrProviderRoot = errors.New("trust: the provider's own root CA cannot be removed from the trust store")
	// ErrNotCA: the certificate is not a CA certificate.
	ErrNotCA = errors.New("trust: not a CA certificate")
	// ErrNotFound: no anchor has that fingerprint.
	ErrNotFound = errors.New("trust: no trust anchor with that fingerprint")
	// ErrExists: the anchor is in the trust store already.
	ErrExists = errors.New("trust: already in the trust store")
	// ErrNoAnchors: the trust store is empty (no CA hierarchy, nothing
	// added).
	ErrNoAnchors = errors.New("trust: the trust store holds no anchor")
)

// Anchor is one trusted CA certificate.
type Anchor struct {
	Certificate *x509.Certificate
	// SHA256 is the certificate's SHA-256 fingerprint.
	SHA256 [32]byte
	// Provider marks the provider's own root (from the CA hierarchy).
	Provider bool
	// Source, AddedBy and Added say where an added anchor came from, who
	// added it and when; for the provider's root Source is "ca:NAME".
	Source, AddedBy string
	Added           time.Time
}

// Fingerprint is the anchor's SHA-256 as `kyso` prints fingerprints:
// upper-case hex without separators.
func (a *Anchor) Fingerprint() string { return Fingerprint(a.SHA256[:]) }

// Fingerprint formats a SHA-256 as upper-case hex.
func Fingerprint(sum []byte) string { return strings.ToUpper(hex.EncodeToString(sum)) }

// ParseFingerprint reads a SHA-256 fingerprint in hex, upper or lower
// case, with or without ':' separators.
func ParseFingerprint(s string) ([]byte, error) {
	b, err := hex.DecodeString(strings.ReplaceAll(strings.TrimSpace(s), ":", ""))
	if err != nil || len(b) != sha256.Size {
		return nil, fmt.Errorf("trust: %q is not a SHA-256 fingerprint (64 hex digits, ':' allowed)", s)
	}
	return b, nil
}

// Store is the trust store over a kyso database.
type Store struct {
	st store.Store
}

// New returns the trust store kept in st.
func New(st store.Store) *Store { return &Store{st: st} }

// List returns the anchors: the provider's roots first, then those added,
// oldest first.
func (s *Store) List(ctx context.Context) ([]*Anchor, error) {
	cas, err := s.st.ListCAs(ctx)
	if err != nil {
		return nil, fmt.Errorf("trust: %w", err)
	}
	var out []*Anchor
	seen := map[[32]byte]bool{}
	for _, c := range cas {
		if c.Kind != "root" {
			continue
		}
		cert, err := x509.ParseCertificate(c.CertDER)
		if err != nil {
			return nil, fmt.Errorf("trust: the certificate of CA %q: %w", c.Name, err)
		}
		a := &Anchor{Certificate: cert, SHA256: sha256.Sum256(c.CertDER), Provider: true, Source: "ca:" + c.Name, Added: c.Created}
		seen[a.SHA256] = true
		out = append(out, a)
	}
	rows, err := s.st.ListTrustAnchors(ctx)
	if err != nil {
		return nil, fmt.Errorf("trust: %w", err)
	}
	for _, r := range rows {
		cert, err := x509.ParseCertificate(r.DER)
		if err != nil {
			return nil, fmt.Errorf("trust: the anchor %s: %w", Fingerprint(r.SHA256), err)
		}
		a := &Anchor{Certificate: cert, Source: r.Source, AddedBy: r.AddedBy, Added: r.Added}
		copy(a.SHA256[:], r.SHA256)
		if seen[a.SHA256] {
			continue
		}
		out = append(out, a)
	}
	return out, nil
}

// Certificates returns the anchors' certificates, or ErrNoAnchors.
func (s *Store) Certificates(ctx context.Context) ([]*x509.Certificate, error) {
	as, err := s.List(ctx)
	if err != nil {
		return nil, err
	}
	if len(as) == 0 {
		return nil, ErrNoAnchors
	}
	out := make([]*x509.Certificate, len(as))
	for i, a := range as {
		out[i] = a.Certificate
	}
	return out, nil
}

// Pool returns the anchors as a pool for chain building, or ErrNoAnchors.
func (s *Store) Pool(ctx context.Context) (*x509.CertPool, error) {
	certs, err := s.Certificates(ctx)
	if err != nil {
		return nil, err
	}
	p := x509.NewCertPool()
	for _, c := range certs {
		p.AddCert(c)
	}
	return p, nil
}

// Add adds a CA certificate (a root, or an intermediate to trust as an
// anchor) from source (a file name), audited as actor's trust.add. A
// certificate that is not a CA's (basicConstraints cA) gives ErrNotCA;
// one already trusted, ErrExists.
func (s *Store) Add(ctx context.Context, der []byte, source, actor string) (*Anchor, error) {
	cert, err := x509.ParseCertificate(der)
	if err != nil {
		return nil, fmt.Errorf("trust: %s: %w", source, err)
	}
	if !cert.BasicConstraintsValid || !cert.IsCA {
		return nil, fmt.Errorf("%w: %s (%s) has no basicConstraints cA=true", ErrNotCA, cert.Subject, source)
	}
	a := &Anchor{Certificate: cert, SHA256: sha256.Sum256(der), Source: source, AddedBy: actor}
	as, err := s.List(ctx)
	if err != nil {
		return nil, err
	}
	for _, o := range as {
		if o.SHA256 == a.SHA256 {
			return nil, fmt.Errorf("%w: %s (%s)", ErrExists, cert.Subject, a.Fingerprint())
		}
	}
	err = s.st.PutTrustAnchor(ctx, &store.TrustAnchor{SHA256: a.SHA256[:], DER: der, Subject: display.SubjectDN(cert), Source: source, AddedBy: actor})
	if errors.Is(err, store.ErrExists) {
		return nil, fmt.Errorf("%w: %s (%s)", ErrExists, cert.Subject, a.Fingerprint())
	}
	if err != nil {
		return nil, fmt.Errorf("trust: %w", err)
	}
	if err := s.audit(ctx, actor, "trust.add", a, nil); err != nil {
		return nil, err
	}
	return a, nil
}

// Remove removes the anchor with SHA-256 fingerprint sum, audited as
// actor's trust.remove, and returns it. The provider's root gives
// ErrProviderRoot (and an audited refusal); an unknown fingerprint,
// ErrNotFound.
func (s *Store) Remove(ctx context.Context, sum []byte, actor string) (*Anchor, error) {
	as, err := s.List(ctx)
	if err != nil {
		return nil, err
	}
	var a *Anchor
	for _, o := range as {
		if string(o.SHA256[:]) == string(sum) {
			a = o
		}
	}
	if a == nil {
		return nil, fmt.Errorf("%w: %s", ErrNotFound, Fingerprint(sum))
	}
	if a.Provider {
		err := fmt.Errorf("%w: %s is the root of the provider's CA hierarchy", ErrProviderRoot, a.Certificate.Subject)
		return nil, errors.Join(err, s.audit(ctx, actor, "trust.remove", a, err))
	}
	if err := s.st.DeleteTrustAnchor(ctx, sum); errors.Is(err, store.ErrNotFound) {
		return nil, fmt.Errorf("%w: %s", ErrNotFound, Fingerprint(sum))
	} else if err != nil {
		return nil, fmt.Errorf("trust: %w", err)
	}
	if err := s.audit(ctx, actor, "trust.remove", a, nil); err != nil {
		return nil, err
	}
	return a, nil
}

func (s *Store) audit(ctx context.Context, actor, action string, a *Anchor, failure error) error {
	d := map[string]any{"sha256": a.Fingerprint(), "subject": display.SubjectDN(a.Certificate), "source": a.Source,
		"not_after": a.Certificate.NotAfter.UTC()}
	outcome := "ok"
	if failure != nil {
		outcome, d["error"] = "error", failure.Error()
	}
	b, err := json.Marshal(d)
	if err != nil {
		return err
	}
	if err := s.st.AppendAudit(ctx, &store.AuditEvent{Time: time.Now().UTC(), Actor: actor, Action: action,
		Subject: "trust/" + a.Fingerprint(), Outcome: outcome, Details: b}); err != nil {
		return fmt.Errorf("trust: auditing %s: %w", action, err)
	}
	return nil
}
