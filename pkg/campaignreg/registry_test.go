package campaignreg

import (
	"bytes"
	"context"
	"crypto"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/sha256"
	"crypto/tls"
	"crypto/x509"
	"encoding/json"
	"encoding/pem"
	"errors"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/kyso-pki/kyso/pkg/store"
	"github.com/kyso-pki/kyso/pkg/store/sqlite"
)

func openStore(t *testing.T) *sqlite.Store {
	t.Helper()
	st, err := sqlite.Open(context.Background(), filepath.Join(t.TempDir(), "registry.db"), nil)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	return st
}

// party is a provider as the tests play it: its keys and its client.
type party struct {
	Provider
	tlsKey, signKey *ecdsa.PrivateKey
	cert            tls.Certificate
}

func newParty(t *testing.T, id, name string) *party {
	t.Helper()
	p := &party{Provider: Provider{ID: id, Name: name}}
	var err error
	if p.tlsKey, err = ecdsa.GenerateKey(elliptic.P256(), rand.Reader); err != nil {
		t.Fatal(err)
	}
	if p.signKey, err = ecdsa.GenerateKey(elliptic.P256(), rand.Reader); err != nil {
		t.Fatal(err)
	}
	if p.cert, err = ClientCertificate(p.tlsKey, id, time.Now()); err != nil {
		t.Fatal(err)
	}
	return p
}

func (p *party) member() Member {
	return Member{Provider: p.Provider, TLSKeySHA256: sha256.Sum256(p.cert.Leaf.RawSubjectPublicKeyInfo), SigningKey: &p.signKey.PublicKey}
}

// served is a registry served over real TLS, asking for client
// certificates as kysod's listener does.
type served struct {
	srv  *httptest.Server
	st   *sqlite.Store
	book *Book
}

func serve(t *testing.T, members ...Member) *served {
	t.Helper()
	st := openStore(t)
	book := NewBook(st, nil, nil)
	h, err := NewHandler(&HandlerOptions{Book: book, Members: members})
	if err != nil {
		t.Fatal(err)
	}
	mux := http.NewServeMux()
	mux.Handle(Path, h)
	srv := httptest.NewUnstartedServer(mux)
	srv.TLS = &tls.Config{ClientAuth: tls.RequestClientCert}
	srv.StartTLS()
	t.Cleanup(srv.Close)
	return &served{srv: srv, st: st, book: book}
}

// client returns p's client of s, presenting cert and signing with key.
func (s *served) client(t *testing.T, p Provider, cert *tls.Certificate, key crypto.Signer) *Client {
	t.Helper()
	roots := x509.NewCertPool()
	roots.AddCert(s.srv.Certificate())
	tc := &tls.Config{RootCAs: roots}
	if cert != nil {
		tc.Certificates = []tls.Certificate{*cert}
	}
	c, err := NewClient(ClientConfig{URL: s.srv.URL, Provider: p, TLS: tc, Signer: key})
	if err != nil {
		t.Fatal(err)
	}
	return c
}

func (s *served) events(t *testing.T, action string) []*store.AuditEvent {
	t.Helper()
	es, err := s.st.ListAudit(context.Background(), 0, 1000)
	if err != nil {
		t.Fatal(err)
	}
	var out []*store.AuditEvent
	for _, e := range es {
		if e.Action == action {
			out = append(out, e)
		}
	}
	return out
}

const nid = "CCCD:079203001111"

// TestServedRegistry: two providers over mutual TLS: the second is
// refused with the first's name, registering again is idempotent, a
// switch needs the citizen's consent and tells the first provider, which
// acknowledges; every decision is audited with the signed request.
func TestServedRegistry(t *testing.T) {
	ctx := context.Background()
	a, b := newParty(t, "prov-a", "Nhà cung cấp A"), newParty(t, "prov-b", "Nhà cung cấp B")
	s := serve(t, a.member(), b.member())
	ca, cb := s.client(t, a.Provider, &a.cert, a.signKey), s.client(t, b.Provider, &b.cert, b.signKey)

	if _, err := ca.Lookup(ctx, nid); !errors.Is(err, ErrNotHeld) {
		t.Fatalf("lookup before: %v, want ErrNotHeld", err)
	}
	h, err := ca.Register(ctx, nid, "")
	if err != nil || h.ProviderID != "prov-a" || h.ProviderName != "Nhà cung cấp A" {
		t.Fatalf("A registers: %+v, %v", h, err)
	}
	// A crash between registering and issuing: A registers again, with
	// the serial this time.
	if h, err = ca.Register(ctx, nid, "7f01ab"); err != nil || h.Serial != "7F01AB" {
		t.Fatalf("A registers again: %+v, %v", h, err)
	}
	_, err = cb.Register(ctx, nid, "")
	var held *HeldError
	if !errors.As(err, &held) || held.Holding.ProviderName != "Nhà cung cấp A" || !strings.Contains(err.Error(), "Nhà cung cấp A") {
		t.Fatalf("B registers: %v, want held at Nhà cung cấp A", err)
	}
	// B may not release A's holding, nor switch without the consent.
	if err := cb.Release(ctx, nid, ""); !errors.Is(err, ErrNotHeld) {
		t.Fatalf("B releases A's holding: %v, want ErrNotHeld", err)
	}
	if _, err := cb.Switch(ctx, nid, nil); !errors.Is(err, ErrInvalid) {
		t.Fatalf("B switches without consent: %v, want ErrInvalid", err)
	}
	if _, err := cb.Switch(ctx, nid, &Consent{Kind: "cccd-chip", Ref: "x", At: time.Now().Add(time.Hour)}); !errors.Is(err, ErrInvalid) {
		t.Fatalf("B switches with a consent dated tomorrow: %v, want ErrInvalid", err)
	}
	if h, _ := ca.Lookup(ctx, nid); h == nil || h.ProviderID != "prov-a" {
		t.Fatalf("after refused switches the holder is %+v", h)
	}
	old, err := cb.Switch(ctx, nid, &Consent{Kind: "cccd-chip", Ref: "079203001111/NFC", At: time.Now()})
	if err != nil || old.ProviderID != "prov-a" || old.Serial != "7F01AB" || old.MonthsUsed != 0 {
		t.Fatalf("B switches: %+v, %v", old, err)
	}
	if _, err := ca.Register(ctx, nid, ""); !errors.As(err, &held) || held.Holding.ProviderID != "prov-b" {
		t.Fatalf("A registers after the switch: %v, want held at B", err)
	}
	rel, err := ca.Released(ctx)
	if err != nil || len(rel) != 1 || rel[0].Serial != "7F01AB" || rel[0].ReleasedTo != "prov-b" {
		t.Fatalf("A's released: %+v, %v", rel, err)
	}
	if rel, _ := cb.Released(ctx); len(rel) != 0 {
		t.Fatalf("B sees %d released holdings of A's", len(rel))
	}
	if err := cb.Ack(ctx, []int64{rel[0].ID}); err != nil {
		t.Fatal(err)
	}
	if rel, _ := ca.Released(ctx); len(rel) != 1 {
		t.Fatal("B's acknowledgement counted for A's release")
	}
	if err := ca.Ack(ctx, []int64{rel[0].ID}); err != nil {
		t.Fatal(err)
	}
	if rel, _ := ca.Released(ctx); len(rel) != 0 {
		t.Fatalf("after A's ack: %+v", rel)
	}
	for action, n := range map[string]int{"registry.lookup": 2, "registry.register": 2, "registry.refuse": 2, "registry.switch": 3, "registry.release": 1, "registry.ack": 2} {
		es := s.events(t, action)
		if len(es) != n {
			t.Errorf("%d %s events, want %d", len(es), action, n)
		}
		for _, e := range es {
			var d map[string]any
			json.Unmarshal(e.Details, &d)
			if r, _ := d["request"].(string); strings.Count(r, ".") != 2 {
				t.Errorf("%s event without its signed request: %s", action, e.Details)
			}
		}
	}
}

// TestServedRegistryRefuses: the attacker's requests.
func TestServedRegistryRefuses(t *testing.T) {
	ctx := context.Background()
	a, b := newParty(t, "prov-a", "Nhà cung cấp A"), newParty(t, "prov-b", "Nhà cung cấp B")
	s := serve(t, a.member(), b.member())
	stranger := newParty(t, "prov-x", "Kẻ lạ")
	for _, c := range []struct {
		name string
		cl   *Client
	}{
		{"no client certificate", s.client(t, a.Provider, nil, a.signKey)},
		{"an unregistered client certificate", s.client(t, a.Provider, &stranger.cert, a.signKey)},
		{"a body signed by another provider's key", s.client(t, a.Provider, &a.cert, b.signKey)},
		{"B's certificate claiming to be A", s.client(t, a.Provider, &b.cert, b.signKey)},
	} {
		if _, err := c.cl.Register(ctx, nid, ""); !errors.Is(err, ErrDenied) {
			t.Errorf("%s: %v, want ErrDenied", c.name, err)
		}
	}
	if _, err := s.st.GetHolding(ctx, nid); !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("a refused request registered: %v", err)
	}
	if n := len(s.events(t, "registry.deny")); n != 4 {
		t.Errorf("%d registry.deny events, want 4", n)
	}

	// A replayed signed request: the same body again.
	ca := s.client(t, a.Provider, &a.cert, a.signKey)
	body, err := ca.sign(OpRegister, &payload{NationalID: nid})
	if err != nil {
		t.Fatal(err)
	}
	resp, _, err := ca.post(ctx, OpRegister, body)
	if err != nil || resp.StatusCode != http.StatusOK {
		t.Fatalf("first: %v %v", resp, err)
	}
	resp, ans, err := ca.post(ctx, OpRegister, body)
	if err != nil || resp.StatusCode != http.StatusConflict || !strings.Contains(string(ans), `"replay"`) {
		t.Fatalf("replay: %v %s %v, want 409 replay", resp.Status, ans, err)
	}
	// A request signed for one operation posted to another.
	body, _ = ca.sign(OpLookup, &payload{NationalID: nid})
	if resp, ans, _ := ca.post(ctx, OpRelease, body); resp.StatusCode != http.StatusForbidden {
		t.Fatalf("lookup's request at release: %s %s", resp.Status, ans)
	}
	// A stale request: signed three minutes ago.
	old := s.client(t, a.Provider, &a.cert, a.signKey)
	old.cfg.Now = func() time.Time { return time.Now().Add(-3 * time.Minute) }
	if _, err := old.Lookup(ctx, nid); !errors.Is(err, ErrDenied) {
		t.Fatalf("stale: %v, want ErrDenied", err)
	}
	// An oversized body.
	resp, ans, err = ca.post(ctx, OpRegister, strings.Repeat("A", MaxBody+1))
	if err != nil || resp.StatusCode != http.StatusRequestEntityTooLarge {
		t.Fatalf("oversized: %v %s %v", resp, ans, err)
	}
	// Not a national ID, hostile text in it.
	if _, err := ca.Lookup(ctx, "CCCD:12\x1b[31m"); !errors.Is(err, ErrInvalid) || strings.Contains(err.Error(), "\x1b") {
		t.Fatalf("hostile national ID: %q", err)
	}
}

// TestHostileNames: a provider name with controls or bidirectional
// overrides is refused in the registry's configuration, and one that a
// registry sends anyway is shown escaped.
func TestHostileNames(t *testing.T) {
	for _, name := range []string{"A\u202eB", "A\x1b[2J", "", strings.Repeat("x", MaxProviderName+1)} {
		if err := (Provider{ID: "p", Name: name}).Check(); !errors.Is(err, ErrInvalid) {
			t.Errorf("name %q accepted", name)
		}
	}
	for _, id := range []string{"", "a b", "a/b", strings.Repeat("a", MaxProviderID+1)} {
		if err := (Provider{ID: id, Name: "n"}).Check(); !errors.Is(err, ErrInvalid) {
			t.Errorf("ID %q accepted", id)
		}
	}
	e := &HeldError{Holding: &Holding{NationalID: nid, ProviderID: "p", ProviderName: safeName("Evil\u202e\x1b[2J" + strings.Repeat("x", 500))}}
	if msg := e.Error(); strings.ContainsAny(msg, "\u202e\x1b") || len(msg) > 600 {
		t.Fatalf("hostile name shown as %q", msg)
	}
}

// TestLocal: the embedded registry of one provider.
func TestLocal(t *testing.T) {
	ctx := context.Background()
	st := openStore(t)
	book := NewBook(st, nil, nil)
	a, err := NewLocal(book, Provider{ID: "prov-a", Name: "A"})
	if err != nil {
		t.Fatal(err)
	}
	b, _ := NewLocal(book, Provider{ID: "prov-b", Name: "B"})
	if _, err := a.Register(ctx, nid, ""); err != nil {
		t.Fatal(err)
	}
	if _, err := b.Register(ctx, nid, ""); !errors.Is(err, ErrHeld) {
		t.Fatalf("B: %v", err)
	}
	if err := a.Release(ctx, nid, "switch"); !errors.Is(err, ErrInvalid) {
		t.Fatalf("A releases as a switch: %v", err)
	}
	if err := a.Release(ctx, nid, ""); err != nil {
		t.Fatal(err)
	}
	if _, err := b.Register(ctx, nid, ""); err != nil {
		t.Fatalf("B after A released: %v", err)
	}
}

func (p *party) entry(t *testing.T) []byte {
	t.Helper()
	pin, _ := KeySHA256(&p.tlsKey.PublicKey)
	der, _ := x509.MarshalPKIXPublicKey(&p.signKey.PublicKey)
	e := &MemberEntry{ID: p.ID, Name: p.Name, TLSKeySHA256: pin, SigningKey: string(pem.EncodeToMemory(&pem.Block{Type: "PUBLIC KEY", Bytes: der}))}
	b, err := e.Entry()
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// TestMembersFile: the members file is read again when it changes, and
// one that no longer parses keeps the members before.
func TestMembersFile(t *testing.T) {
	ctx := context.Background()
	a, b := newParty(t, "prov-a", "Nhà cung cấp A"), newParty(t, "prov-b", "Nhà cung cấp B")
	path := filepath.Join(t.TempDir(), "members.yaml")
	if err := os.WriteFile(path, a.entry(t), 0o600); err != nil {
		t.Fatal(err)
	}
	st := openStore(t)
	h, err := NewHandler(&HandlerOptions{Book: NewBook(st, nil, nil), MembersFile: path})
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewUnstartedServer(h)
	srv.TLS = &tls.Config{ClientAuth: tls.RequestClientCert}
	srv.StartTLS()
	defer srv.Close()
	s := &served{srv: srv, st: st}
	cb := s.client(t, b.Provider, &b.cert, b.signKey)
	if _, err := cb.Lookup(ctx, nid); !errors.Is(err, ErrDenied) {
		t.Fatalf("B before it is a member: %v", err)
	}
	both := append(a.entry(t), bytes.TrimPrefix(b.entry(t), []byte("members:\n"))...)
	if _, err := ParseMembers(both); err != nil {
		t.Fatalf("%v\n%s", err, both)
	}
	if err := os.WriteFile(path, both, 0o600); err != nil {
		t.Fatal(err)
	}
	if _, err := cb.Lookup(ctx, nid); !errors.Is(err, ErrNotHeld) {
		t.Fatalf("B once a member: %v", err)
	}
	if err := os.WriteFile(path, []byte("members: [{id: x, nope: 1}]\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	if _, err := cb.Lookup(ctx, nid); !errors.Is(err, ErrNotHeld) {
		t.Fatalf("B after the file broke: %v", err)
	}
	for name, text := range map[string]string{
		"unknown key":  "members: [{id: x, nope: 1}]",
		"hostile name": strings.Replace(string(a.entry(t)), "Nhà cung cấp A", "\"A\\u202eB\"", 1),
		"bad pin":      strings.Replace(string(a.entry(t)), "tls_key_sha256: ", "tls_key_sha256: zz", 1),
		"twice":        string(both) + strings.TrimPrefix(string(a.entry(t)), "members:\n"),
	} {
		if _, err := ParseMembers([]byte(text)); err == nil {
			t.Errorf("members file with %s accepted", name)
		}
	}
}

// TestServedRegistryRace: providers registering one citizen at once over
// HTTP: exactly one holds it, every other is told who.
func TestServedRegistryRace(t *testing.T) {
	ctx := context.Background()
	var parties []*party
	var members []Member
	for _, id := range []string{"p1", "p2", "p3", "p4"} {
		p := newParty(t, id, "Nhà cung cấp "+id)
		parties = append(parties, p)
		members = append(members, p.member())
	}
	s := serve(t, members...)
	errs := make(chan error, len(parties))
	for _, p := range parties {
		c := s.client(t, p.Provider, &p.cert, p.signKey)
		go func() {
			_, err := c.Register(ctx, nid, "")
			errs <- err
		}()
	}
	won := 0
	for range parties {
		err := <-errs
		var held *HeldError
		switch {
		case err == nil:
			won++
		case errors.As(err, &held) && strings.HasPrefix(held.Holding.ProviderName, "Nhà cung cấp p"):
		default:
			t.Errorf("racing register: %v", err)
		}
	}
	if won != 1 {
		t.Fatalf("%d providers hold the citizen, want 1", won)
	}
}
