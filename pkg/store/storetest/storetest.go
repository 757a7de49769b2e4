// Package storetest is the one behavioural suite every store.Store
// implementation runs: each method, each sentinel, ordering, the campaign
// rule, key reuse, input bounds, and what many goroutines writing at once
// must not break.
package storetest

import (
	"bytes"
	"context"
	"crypto/rand"
	"crypto/sha256"
	"errors"
	"fmt"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/kyso-pki/kyso/pkg/store"
)

// BulkReserver is implemented by stores that can reserve many serials in
// one transaction; Run uses it for the 100,000-serial test when present.
type BulkReserver interface {
	ReserveSerials(ctx context.Context, rs []*store.SerialReservation) error
}

// Run runs the suite. newStore returns a new, empty store for each subtest
// and arranges (with t.Cleanup) for it to be closed.
func Run(t *testing.T, newStore func(t *testing.T) store.Store) {
	tests := []struct {
		name string
		fn   func(t *testing.T, s store.Store)
	}{
		{"CA", testCA},
		{"Serial", testSerial},
		{"Certificate", testCertificate},
		{"KeyReuse", testKeyReuse},
		{"ListCertificates", testListCertificates},
		{"CountCertificates", testCountCertificates},
		{"Revoke", testRevoke},
		{"GetRevocation", testGetRevocation},
		{"ReleaseHold", testReleaseHold},
		{"PublicKeyCertified", testPublicKeyCertified},
		{"CampaignHolders", testCampaignHolders},
		{"Campaign", testCampaign},
		{"Renewal", testRenewal},
		{"Upkeep", testUpkeep},
		{"Settle", testSettle},
		{"Registration", testRegistration},
		{"RegistrationRecovery", testRegistrationRecovery},
		{"CRL", testCRL},
		{"CRLShards", testCRLShards},
		{"TrustAnchors", testTrustAnchors},
		{"Audit", testAudit},
		{"AuditBatch", testAuditBatch},
		{"OwnerSignatures", testOwnerSignatures},
		{"Transition", testTransition},
		{"Receipts", testReceipts},
		{"Staff", testStaff},
		{"CampaignRegistry", testCampaignRegistry},
		{"Bounds", testBounds},
		{"Times", testTimes},
		{"ConcurrentIssue", testConcurrentIssue},
		{"ConcurrentSameSerial", testConcurrentSameSerial},
		{"ConcurrentSameKey", testConcurrentSameKey},
		{"ConcurrentCampaign", testConcurrentCampaign},
		{"ConcurrentRevoke", testConcurrentRevoke},
		{"ReportState", testReportState},
		{"ConcurrentReportState", testConcurrentReportState},
		{"ConcurrentCRLNumber", testConcurrentCRLNumber},
		{"ConcurrentSequence", testConcurrentSequence},
		{"ConcurrentAudit", testConcurrentAudit},
		{"RandomSerials", testRandomSerials},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			s := newStore(t)
			if err := s.Ping(context.Background()); err != nil {
				t.Fatalf("Ping: %v", err)
			}
			tc.fn(t, s)
		})
	}
}

// NewSerial returns a serial number as a CA should make one: 16 octets
// from crypto/rand with the top bit cleared so it is positive, drawn again
// in the 1 case in 128 where the first octet is then zero (a leading zero
// byte is not allowed, and stripping it could leave a top bit set). That
// keeps just under 127 random bits, in 16 octets.
func NewSerial(t testing.TB) []byte {
	b := make([]byte, 16)
	for {
		if _, err := rand.Read(b); err != nil {
			t.Fatal(err)
		}
		b[0] &= 0x7f
		if b[0] != 0 {
			return b
		}
	}
}

func randomBytes(t testing.TB, n int) []byte {
	b := make([]byte, n)
	if _, err := rand.Read(b); err != nil {
		t.Fatal(err)
	}
	return b
}

// NewCertificate returns a certificate record for issuer under a fresh
// serial with a fresh public key, valid for a year from now.
func NewCertificate(t testing.TB, issuer string) *store.Certificate {
	der := randomBytes(t, 300)
	spki := sha256.Sum256(randomBytes(t, 32))
	nb := time.Now().UTC().Truncate(time.Microsecond)
	return &store.Certificate{
		Issuer:          issuer,
		Serial:          NewSerial(t),
		DER:             der,
		Profile:         "citizen",
		Subject:         "CN=Nguyễn Văn A,UID=CCCD:079203001234,C=VN",
		PublicKeySHA256: spki[:],
		NotBefore:       nb,
		NotAfter:        nb.Add(365 * 24 * time.Hour),
		Status:          store.StatusGood,
	}
}

// issue reserves c's serial and stores c.
func issue(ctx context.Context, s store.Store, c *store.Certificate) error {
	if err := s.ReserveSerial(ctx, &store.SerialReservation{Issuer: c.Issuer, Serial: c.Serial}); err != nil {
		return err
	}
	return s.PutCertificate(ctx, c)
}

// testCountCertificates: the counts by status follow issuance, revocation
// and suspension.
func testCountCertificates(t *testing.T, s store.Store) {
	ctx := context.Background()
	count := func(want map[string]int64) {
		t.Helper()
		got, err := s.CountCertificates(ctx)
		if err != nil {
			t.Fatalf("CountCertificates: %v", err)
		}
		for _, st := range []string{store.StatusGood, store.StatusRevoked, store.StatusHold} {
			if got[st] != want[st] {
				t.Fatalf("CountCertificates = %v, want %v", got, want)
			}
		}
	}
	count(map[string]int64{})
	var cs []*store.Certificate
	for range 4 {
		c := NewCertificate(t, "issuing")
		mustIssue(t, s, c)
		cs = append(cs, c)
	}
	count(map[string]int64{store.StatusGood: 4})
	now := time.Now().UTC().Truncate(time.Second)
	if err := s.Revoke(ctx, &store.Revocation{Issuer: "issuing", Serial: cs[0].Serial, Reason: store.ReasonKeyCompromise, RevokedAt: now}); err != nil {
		t.Fatal(err)
	}
	if err := s.Revoke(ctx, &store.Revocation{Issuer: "issuing", Serial: cs[1].Serial, Reason: store.ReasonCertificateHold, RevokedAt: now}); err != nil {
		t.Fatal(err)
	}
	count(map[string]int64{store.StatusGood: 2, store.StatusRevoked: 1, store.StatusHold: 1})
	// The counts follow a release, a held certificate revoked, refused
	// changes (none), a refused issuance (none) and concurrent issuances.
	noErr(t, "ReleaseHold", s.ReleaseHold(ctx, "issuing", cs[1].Serial))
	count(map[string]int64{store.StatusGood: 3, store.StatusRevoked: 1})
	noErr(t, "Revoke", s.Revoke(ctx, &store.Revocation{Issuer: "issuing", Serial: cs[2].Serial, Reason: store.ReasonCertificateHold, RevokedAt: now}))
	noErr(t, "Revoke", s.Revoke(ctx, &store.Revocation{Issuer: "issuing", Serial: cs[2].Serial, Reason: store.ReasonKeyCompromise, RevokedAt: now}))
	wantErr(t, "Revoke again", s.Revoke(ctx, &store.Revocation{Issuer: "issuing", Serial: cs[2].Serial, Reason: store.ReasonKeyCompromise, RevokedAt: now}), store.ErrAlreadyRevoked)
	wantErr(t, "ReleaseHold of a good one", s.ReleaseHold(ctx, "issuing", cs[3].Serial), store.ErrNotOnHold)
	dup := NewCertificate(t, "issuing")
	dup.PublicKeySHA256 = cs[3].PublicKeySHA256
	wantErr(t, "a key certified twice", issue(ctx, s, dup), store.ErrDuplicatePublicKey)
	count(map[string]int64{store.StatusGood: 2, store.StatusRevoked: 2})
	var wg sync.WaitGroup
	for range 20 {
		wg.Go(func() {
			if err := issue(ctx, s, NewCertificate(t, "issuing")); err != nil {
				t.Errorf("issuing: %v", err)
			}
		})
	}
	wg.Wait()
	count(map[string]int64{store.StatusGood: 22, store.StatusRevoked: 2})
}

func mustIssue(t testing.TB, s store.Store, c *store.Certificate) {
	t.Helper()
	if err := issue(context.Background(), s, c); err != nil {
		t.Fatalf("issuing %x: %v", c.Serial, err)
	}
}

func wantErr(t testing.TB, what string, err, want error) {
	t.Helper()
	if !errors.Is(err, want) {
		t.Fatalf("%s: got %v, want %v", what, err, want)
	}
}

func noErr(t testing.TB, what string, err error) {
	t.Helper()
	if err != nil {
		t.Fatalf("%s: %v", what, err)
	}
}

func testCA(t *testing.T, s store.Store) {
	ctx := context.Background()
	_, err := s.GetCA(ctx, "root")
	wantErr(t, "GetCA of unknown", err, store.ErrNotFound)
	if cas, err := s.ListCAs(ctx); err != nil || len(cas) != 0 {
		t.Fatalf("ListCAs on empty store: %v, %v", cas, err)
	}
	t0 := time.Date(2026, 1, 2, 3, 4, 5, 6007, time.UTC)
	root := &store.CA{Name: "root", Kind: "root", KeyURI: "softkey:root.key", CertDER: []byte{0x30, 1}, Created: t0}
	issuing := &store.CA{Name: "issuing", Kind: "issuing", KeyURI: "pkcs11:token=kyso;object=issuing",
		CertDER: []byte{0x30, 2}, ChainDER: [][]byte{{0x30, 1}, {0x30, 3}}, Created: t0.Add(time.Second)}
	noErr(t, "PutCA root", s.PutCA(ctx, root))
	noErr(t, "PutCA issuing", s.PutCA(ctx, issuing))
	wantErr(t, "PutCA again", s.PutCA(ctx, &store.CA{Name: "root", Kind: "root", CertDER: []byte{1}}), store.ErrExists)
	wantErr(t, "PutCA bad kind", s.PutCA(ctx, &store.CA{Name: "x", Kind: "leaf", CertDER: []byte{1}}), store.ErrInvalid)
	wantErr(t, "PutCA no cert", s.PutCA(ctx, &store.CA{Name: "x", Kind: "root"}), store.ErrInvalid)

	got, err := s.GetCA(ctx, "issuing")
	noErr(t, "GetCA", err)
	if got.Name != "issuing" || got.Kind != "issuing" || got.KeyURI != issuing.KeyURI || !bytes.Equal(got.CertDER, issuing.CertDER) ||
		len(got.ChainDER) != 2 || !bytes.Equal(got.ChainDER[1], []byte{0x30, 3}) || !got.Created.Equal(t0.Add(time.Second).Truncate(time.Microsecond)) {
		t.Fatalf("GetCA = %+v, want %+v", got, issuing)
	}
	got, err = s.GetCA(ctx, "root")
	noErr(t, "GetCA root", err)
	if len(got.ChainDER) != 0 {
		t.Errorf("root chain = %x, want none", got.ChainDER)
	}
	noErr(t, "PutCA later", s.PutCA(ctx, &store.CA{Name: "sub", Kind: "imported-subordinate", CertDER: []byte{4}, Created: t0.Add(-time.Hour)}))
	cas, err := s.ListCAs(ctx)
	noErr(t, "ListCAs", err)
	var names []string
	for _, ca := range cas {
		names = append(names, ca.Name)
	}
	if strings.Join(names, ",") != "sub,root,issuing" {
		t.Errorf("ListCAs order = %v, want oldest first: sub,root,issuing", names)
	}
}

func testSerial(t *testing.T, s store.Store) {
	ctx := context.Background()
	serial := NewSerial(t)
	noErr(t, "ReserveSerial", s.ReserveSerial(ctx, &store.SerialReservation{Issuer: "a", Serial: serial, Reserved: time.Now()}))
	wantErr(t, "ReserveSerial again", s.ReserveSerial(ctx, &store.SerialReservation{Issuer: "a", Serial: serial}), store.ErrDuplicateSerial)
	noErr(t, "same serial, other issuer", s.ReserveSerial(ctx, &store.SerialReservation{Issuer: "b", Serial: serial}))
	noErr(t, "20 octets", s.ReserveSerial(ctx, &store.SerialReservation{Issuer: "a", Serial: append([]byte{0x7f}, randomBytes(t, 19)...)}))
	noErr(t, "one octet", s.ReserveSerial(ctx, &store.SerialReservation{Issuer: "a", Serial: []byte{1}}))
	for _, tc := range []struct {
		name   string
		serial []byte
	}{
		{"empty", nil},
		{"21 octets", append([]byte{1}, make([]byte, 20)...)},
		{"leading zero", []byte{0, 1}},
		{"zero", []byte{0}},
		{"negative", []byte{0x80, 1}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			err := s.ReserveSerial(ctx, &store.SerialReservation{Issuer: "a", Serial: tc.serial})
			wantErr(t, "ReserveSerial", err, store.ErrInvalid)
		})
	}
	wantErr(t, "no issuer", s.ReserveSerial(ctx, &store.SerialReservation{Serial: []byte{5}}), store.ErrInvalid)
	wantErr(t, "nil", s.ReserveSerial(ctx, nil), store.ErrInvalid)

	// With the issuance's intent: the serial and the event together, and
	// a taken serial appends nothing.
	fresh := NewSerial(t)
	intent := &store.AuditEvent{Actor: "ca", Action: "cert.issue", Subject: "reserved", Outcome: "intent", Details: []byte("{}")}
	noErr(t, "ReserveSerial with an intent", s.ReserveSerial(ctx, &store.SerialReservation{Issuer: "a", Serial: fresh}, intent))
	refused := &store.AuditEvent{Actor: "ca", Action: "cert.issue", Subject: "taken", Outcome: "intent", Details: []byte("{}")}
	wantErr(t, "ReserveSerial taken, with an intent", s.ReserveSerial(ctx, &store.SerialReservation{Issuer: "a", Serial: fresh}, refused), store.ErrDuplicateSerial)
	bad := &store.AuditEvent{Action: "cert.issue", Outcome: "intent", Details: []byte("not json")}
	wantErr(t, "ReserveSerial with a bad intent", s.ReserveSerial(ctx, &store.SerialReservation{Issuer: "a", Serial: NewSerial(t)}, bad), store.ErrInvalid)
	evs, err := s.ListAudit(ctx, 0, 1000)
	noErr(t, "ListAudit", err)
	subjects := map[string]int{}
	for _, ev := range evs {
		subjects[ev.Subject]++
	}
	if intent.ID == 0 || len(intent.Hash) == 0 || subjects["reserved"] != 1 || subjects["taken"] != 0 || refused.ID != 0 || len(evs) != 1 {
		t.Fatalf("audit events of ReserveSerial: %v (IDs %d, %d); want the reserved one's alone", subjects, intent.ID, refused.ID)
	}
}

func equalCert(t testing.TB, got, want *store.Certificate) {
	t.Helper()
	if got.Issuer != want.Issuer || !bytes.Equal(got.Serial, want.Serial) || !bytes.Equal(got.DER, want.DER) ||
		got.Profile != want.Profile || got.Subject != want.Subject || got.NationalID != want.NationalID ||
		!bytes.Equal(got.PublicKeySHA256, want.PublicKeySHA256) || got.KeyURI != want.KeyURI ||
		!got.NotBefore.Equal(want.NotBefore) || !got.NotAfter.Equal(want.NotAfter) || got.Status != want.Status ||
		got.Campaign != want.Campaign || got.AllowKeyReuse != want.AllowKeyReuse {
		t.Fatalf("certificate = %+v\nwant %+v", got, want)
	}
	if got.Created.IsZero() || got.NotBefore.Location() != time.UTC || got.Created.Location() != time.UTC {
		t.Fatalf("certificate times not set or not UTC: %+v", got)
	}
}

func testCertificate(t *testing.T, s store.Store) {
	ctx := context.Background()
	c := NewCertificate(t, "issuing")
	c.NationalID, c.KeyURI = "CCCD:079203001234", "softkey:k1"
	wantErr(t, "PutCertificate unreserved", s.PutCertificate(ctx, c), store.ErrNotReserved)
	noErr(t, "reserve for other issuer", s.ReserveSerial(ctx, &store.SerialReservation{Issuer: "other", Serial: c.Serial}))
	wantErr(t, "PutCertificate reserved for other issuer", s.PutCertificate(ctx, c), store.ErrNotReserved)
	mustIssue(t, s, c)
	got, err := s.GetCertificate(ctx, c.Issuer, c.Serial)
	noErr(t, "GetCertificate", err)
	equalCert(t, got, c)
	wantErr(t, "PutCertificate again", s.PutCertificate(ctx, c), store.ErrExists)
	// With the issuance's audit event: both stored, or neither.
	a := NewCertificate(t, "issuing")
	noErr(t, "ReserveSerial", s.ReserveSerial(ctx, &store.SerialReservation{Issuer: a.Issuer, Serial: a.Serial}))
	stored := &store.AuditEvent{Actor: "ca", Action: "cert.issue", Subject: "stored", Outcome: "ok", Details: []byte("{}")}
	noErr(t, "PutCertificate with an audit event", s.PutCertificate(ctx, a, stored))
	refused := &store.AuditEvent{Actor: "ca", Action: "cert.issue", Subject: "refused", Outcome: "ok", Details: []byte("{}")}
	wantErr(t, "PutCertificate again with an audit event", s.PutCertificate(ctx, a, refused), store.ErrExists)
	evs, err := s.ListAudit(ctx, 0, 1000)
	noErr(t, "ListAudit", err)
	subjects := map[string]int{}
	for _, ev := range evs {
		subjects[ev.Subject]++
	}
	if stored.ID == 0 || subjects["stored"] != 1 || subjects["refused"] != 0 || refused.ID != 0 {
		t.Fatalf("audit events of PutCertificate: %v (IDs %d, %d); want the stored one's alone", subjects, stored.ID, refused.ID)
	}
	_, err = s.GetCertificate(ctx, c.Issuer, NewSerial(t))
	wantErr(t, "GetCertificate unknown", err, store.ErrNotFound)
	_, err = s.GetCertificate(ctx, "other", c.Serial)
	wantErr(t, "GetCertificate other issuer", err, store.ErrNotFound)

	// Same key, new serial: refused, and the refusal leaves nothing behind.
	d := NewCertificate(t, "issuing")
	d.PublicKeySHA256 = c.PublicKeySHA256
	wantErr(t, "same key", issue(ctx, s, d), store.ErrDuplicatePublicKey)
	_, err = s.GetCertificate(ctx, d.Issuer, d.Serial)
	wantErr(t, "refused certificate", err, store.ErrNotFound)
	// The key is refused under another issuer too.
	e := NewCertificate(t, "issuing-2")
	e.PublicKeySHA256 = c.PublicKeySHA256
	wantErr(t, "same key, other issuer", issue(ctx, s, e), store.ErrDuplicatePublicKey)

	// An empty status means good.
	f := NewCertificate(t, "issuing")
	f.Status = ""
	mustIssue(t, s, f)
	got, err = s.GetCertificate(ctx, f.Issuer, f.Serial)
	noErr(t, "GetCertificate", err)
	if got.Status != store.StatusGood {
		t.Errorf("status = %q, want good", got.Status)
	}
}

func testKeyReuse(t *testing.T, s store.Store) {
	ctx := context.Background()
	ca := NewCertificate(t, "root")
	ca.Profile = "issuing-ca"
	mustIssue(t, s, ca)
	again := NewCertificate(t, "root")
	again.Profile, again.PublicKeySHA256, again.AllowKeyReuse = "issuing-ca", ca.PublicKeySHA256, true
	mustIssue(t, s, again)
	got, err := s.GetCertificate(ctx, again.Issuer, again.Serial)
	noErr(t, "GetCertificate", err)
	equalCert(t, got, again)
	// Without the option, the key is still taken.
	third := NewCertificate(t, "root")
	third.PublicKeySHA256 = ca.PublicKeySHA256
	wantErr(t, "reuse without AllowKeyReuse", issue(ctx, s, third), store.ErrDuplicatePublicKey)

	// A key first certified with AllowKeyReuse is taken too.
	first := NewCertificate(t, "root")
	first.AllowKeyReuse = true
	mustIssue(t, s, first)
	fourth := NewCertificate(t, "root")
	fourth.PublicKeySHA256 = first.PublicKeySHA256
	wantErr(t, "after a reuse certificate", issue(ctx, s, fourth), store.ErrDuplicatePublicKey)
}

func testListCertificates(t *testing.T, s store.Store) {
	ctx := context.Background()
	base := time.Now().UTC().Add(-time.Hour)
	var all []*store.Certificate
	for i := 0; i < 6; i++ {
		c := NewCertificate(t, []string{"i1", "i2"}[i%2])
		c.Created = base.Add(time.Duration(i) * time.Minute)
		c.Profile = []string{"citizen", "organisation", "tls"}[i%3]
		c.NationalID = fmt.Sprintf("CCCD:%012d", i%2)
		mustIssue(t, s, c)
		all = append(all, c)
	}
	noErr(t, "Revoke", s.Revoke(ctx, &store.Revocation{Issuer: all[5].Issuer, Serial: all[5].Serial, Reason: store.ReasonSuperseded}))
	serials := func(cs []*store.Certificate) string {
		var out []string
		for _, c := range cs {
			for i, a := range all {
				if bytes.Equal(a.Serial, c.Serial) {
					out = append(out, fmt.Sprint(i))
				}
			}
		}
		return strings.Join(out, ",")
	}
	for _, tc := range []struct {
		name string
		f    *store.CertificateFilter
		want string
	}{
		{"nil", nil, "5,4,3,2,1,0"},
		{"all", &store.CertificateFilter{}, "5,4,3,2,1,0"},
		{"issuer", &store.CertificateFilter{Issuer: "i2"}, "5,3,1"},
		{"national ID", &store.CertificateFilter{NationalID: "CCCD:000000000000"}, "4,2,0"},
		{"profile", &store.CertificateFilter{Profile: "tls"}, "5,2"},
		{"status", &store.CertificateFilter{Status: store.StatusRevoked}, "5"},
		{"good", &store.CertificateFilter{Status: store.StatusGood, Issuer: "i2"}, "3,1"},
		{"limit", &store.CertificateFilter{Limit: 2}, "5,4"},
		{"none", &store.CertificateFilter{Issuer: "nobody"}, ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got, err := s.ListCertificates(ctx, tc.f)
			noErr(t, "ListCertificates", err)
			if g := serials(got); g != tc.want {
				t.Errorf("ListCertificates(%+v) = %s, want %s (newest first)", tc.f, g, tc.want)
			}
		})
	}
}

func testRevoke(t *testing.T, s store.Store) {
	ctx := context.Background()
	wantErr(t, "Revoke unknown", s.Revoke(ctx, &store.Revocation{Issuer: "i", Serial: []byte{1}}), store.ErrNotFound)
	var cs []*store.Certificate
	for _, serial := range [][]byte{{0x01, 0x00}, {0x02}, {0x01}, {0x7f, 0xff, 0xff}, {0x03}} {
		c := NewCertificate(t, "i")
		c.Serial = serial
		mustIssue(t, s, c)
		cs = append(cs, c)
	}
	wantErr(t, "reason 7", s.Revoke(ctx, &store.Revocation{Issuer: "i", Serial: cs[0].Serial, Reason: 7}), store.ErrInvalid)
	wantErr(t, "removeFromCRL", s.Revoke(ctx, &store.Revocation{Issuer: "i", Serial: cs[0].Serial, Reason: store.ReasonRemoveFromCRL}), store.ErrInvalid)

	at := time.Date(2026, 5, 6, 7, 8, 9, 123456789, time.FixedZone("ICT", 7*3600))
	status := func(c *store.Certificate) string {
		got, err := s.GetCertificate(ctx, c.Issuer, c.Serial)
		noErr(t, "GetCertificate", err)
		return got.Status
	}
	// good → hold → hold (refused) → revoked → anything (refused)
	noErr(t, "hold", s.Revoke(ctx, &store.Revocation{Issuer: "i", Serial: cs[0].Serial, Reason: store.ReasonCertificateHold, RevokedAt: at}))
	if st := status(cs[0]); st != store.StatusHold {
		t.Fatalf("status after hold = %q", st)
	}
	wantErr(t, "hold again", s.Revoke(ctx, &store.Revocation{Issuer: "i", Serial: cs[0].Serial, Reason: store.ReasonCertificateHold}), store.ErrAlreadyRevoked)
	noErr(t, "hold → revoked", s.Revoke(ctx, &store.Revocation{Issuer: "i", Serial: cs[0].Serial, Reason: store.ReasonKeyCompromise, RevokedAt: at}))
	if st := status(cs[0]); st != store.StatusRevoked {
		t.Fatalf("status after revoke = %q", st)
	}
	for _, reason := range []int{store.ReasonKeyCompromise, store.ReasonCertificateHold, store.ReasonUnspecified} {
		wantErr(t, "revoked again", s.Revoke(ctx, &store.Revocation{Issuer: "i", Serial: cs[0].Serial, Reason: reason}), store.ErrAlreadyRevoked)
	}
	noErr(t, "revoke", s.Revoke(ctx, &store.Revocation{Issuer: "i", Serial: cs[1].Serial, Reason: store.ReasonSuperseded}))
	noErr(t, "revoke", s.Revoke(ctx, &store.Revocation{Issuer: "i", Serial: cs[2].Serial}))
	noErr(t, "revoke", s.Revoke(ctx, &store.Revocation{Issuer: "i", Serial: cs[3].Serial, Reason: store.ReasonCertificateHold}))
	if st := status(cs[4]); st != store.StatusGood {
		t.Errorf("untouched certificate status = %q", st)
	}

	revs, err := s.ListRevoked(ctx, "i", 0, time.Time{})
	noErr(t, "ListRevoked", err)
	var got []string
	for _, r := range revs {
		got = append(got, fmt.Sprintf("%x:%d", r.Serial, r.Reason))
		if r.Issuer != "i" || r.RevokedAt.IsZero() || r.RevokedAt.Location() != time.UTC {
			t.Errorf("revocation %+v: issuer or time wrong", r)
		}
	}
	if want := "01:0,02:4,0100:1,7fffff:6"; strings.Join(got, ",") != want {
		t.Errorf("ListRevoked = %s, want %s (numeric serial order, holds included)", strings.Join(got, ","), want)
	}
	if !revs[2].RevokedAt.Equal(at.Truncate(time.Microsecond)) {
		t.Errorf("RevokedAt = %v, want %v", revs[2].RevokedAt, at)
	}
	if revs, err := s.ListRevoked(ctx, "other", 0, time.Time{}); err != nil || len(revs) != 0 {
		t.Errorf("ListRevoked(other) = %v, %v", revs, err)
	}
}

// testGetRevocation checks the one-row lookup OCSP uses against what
// Revoke wrote: holds included, a hold made permanent updated in place,
// other issuers and unrevoked certificates not found.
func testGetRevocation(t *testing.T, s store.Store) {
	ctx := context.Background()
	at := time.Date(2026, 5, 6, 7, 8, 9, 123456789, time.FixedZone("ICT", 7*3600))
	good, held, revoked := NewCertificate(t, "i"), NewCertificate(t, "i"), NewCertificate(t, "i")
	for _, c := range []*store.Certificate{good, held, revoked} {
		mustIssue(t, s, c)
	}
	noErr(t, "hold", s.Revoke(ctx, &store.Revocation{Issuer: "i", Serial: held.Serial, Reason: store.ReasonCertificateHold, RevokedAt: at}))
	noErr(t, "revoke", s.Revoke(ctx, &store.Revocation{Issuer: "i", Serial: revoked.Serial, Reason: store.ReasonCertificateHold, RevokedAt: at}))
	later := at.Add(time.Hour)
	noErr(t, "hold → revoked", s.Revoke(ctx, &store.Revocation{Issuer: "i", Serial: revoked.Serial, Reason: store.ReasonKeyCompromise, RevokedAt: later}))

	for _, tc := range []struct {
		name   string
		issuer string
		serial []byte
		reason int
		at     time.Time
		err    error
	}{
		{"hold", "i", held.Serial, store.ReasonCertificateHold, at, nil},
		{"revoked after hold", "i", revoked.Serial, store.ReasonKeyCompromise, later, nil},
		{"good", "i", good.Serial, 0, time.Time{}, store.ErrNotFound},
		{"unknown serial", "i", NewSerial(t), 0, time.Time{}, store.ErrNotFound},
		{"other issuer", "other", held.Serial, 0, time.Time{}, store.ErrNotFound},
		{"no issuer", "", held.Serial, 0, time.Time{}, store.ErrInvalid},
		{"empty serial", "i", nil, 0, time.Time{}, store.ErrInvalid},
		{"serial leading zero", "i", append([]byte{0}, held.Serial...), 0, time.Time{}, store.ErrInvalid},
		{"serial over 20 octets", "i", make([]byte, 21), 0, time.Time{}, store.ErrInvalid},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r, err := s.GetRevocation(ctx, tc.issuer, tc.serial)
			if tc.err != nil {
				wantErr(t, "GetRevocation", err, tc.err)
				return
			}
			noErr(t, "GetRevocation", err)
			if r.Issuer != tc.issuer || !bytes.Equal(r.Serial, tc.serial) || r.Reason != tc.reason {
				t.Errorf("GetRevocation = %s %x reason %d, want %s %x reason %d", r.Issuer, r.Serial, r.Reason, tc.issuer, tc.serial, tc.reason)
			}
			if want := tc.at.UTC().Truncate(time.Microsecond); r.RevokedAt != want {
				t.Errorf("RevokedAt = %v, want %v (UTC, microseconds)", r.RevokedAt, want)
			}
		})
	}
}

// testReleaseHold checks the end of a suspension (Decree 23/2025): a held
// certificate is good again and gone from ListRevoked and GetRevocation; a
// certificate revoked for good stays revoked; releasing a good or unknown
// certificate is an error naming why; a campaign certificate keeps its
// national ID through hold and release; the certificate may be held again.
func testReleaseHold(t *testing.T, s store.Store) {
	ctx := context.Background()
	at := time.Date(2026, 5, 6, 7, 8, 9, 0, time.UTC)
	held, revoked, good := NewCertificate(t, "i"), NewCertificate(t, "i"), NewCertificate(t, "i")
	held.Campaign, held.NationalID = true, "CCCD:079203001234"
	for _, c := range []*store.Certificate{held, revoked, good} {
		mustIssue(t, s, c)
	}
	status := func(c *store.Certificate) string {
		got, err := s.GetCertificate(ctx, c.Issuer, c.Serial)
		noErr(t, "GetCertificate", err)
		return got.Status
	}
	noErr(t, "hold", s.Revoke(ctx, &store.Revocation{Issuer: "i", Serial: held.Serial, Reason: store.ReasonCertificateHold, RevokedAt: at}))
	noErr(t, "hold", s.Revoke(ctx, &store.Revocation{Issuer: "i", Serial: revoked.Serial, Reason: store.ReasonCertificateHold, RevokedAt: at}))
	noErr(t, "hold → revoked", s.Revoke(ctx, &store.Revocation{Issuer: "i", Serial: revoked.Serial, Reason: store.ReasonKeyCompromise, RevokedAt: at}))

	wantErr(t, "release revoked", s.ReleaseHold(ctx, "i", revoked.Serial), store.ErrAlreadyRevoked)
	wantErr(t, "release good", s.ReleaseHold(ctx, "i", good.Serial), store.ErrNotOnHold)
	wantErr(t, "release unknown", s.ReleaseHold(ctx, "i", NewSerial(t)), store.ErrNotFound)
	wantErr(t, "release other issuer", s.ReleaseHold(ctx, "other", held.Serial), store.ErrNotFound)
	wantErr(t, "release no issuer", s.ReleaseHold(ctx, "", held.Serial), store.ErrInvalid)
	wantErr(t, "release bad serial", s.ReleaseHold(ctx, "i", append([]byte{0}, held.Serial...)), store.ErrInvalid)

	noErr(t, "release", s.ReleaseHold(ctx, "i", held.Serial))
	if st := status(held); st != store.StatusGood {
		t.Errorf("status after release = %q, want good", st)
	}
	if st := status(revoked); st != store.StatusRevoked {
		t.Errorf("revoked certificate's status = %q after a refused release", st)
	}
	_, err := s.GetRevocation(ctx, "i", held.Serial)
	wantErr(t, "GetRevocation after release", err, store.ErrNotFound)
	revs, err := s.ListRevoked(ctx, "i", 0, time.Time{})
	noErr(t, "ListRevoked", err)
	if len(revs) != 1 || !bytes.Equal(revs[0].Serial, revoked.Serial) {
		t.Errorf("ListRevoked after release: %d entries, want only the revoked certificate", len(revs))
	}
	wantErr(t, "release twice", s.ReleaseHold(ctx, "i", held.Serial), store.ErrNotOnHold)
	// The campaign certificate was active throughout.
	other := NewCertificate(t, "i")
	other.Campaign, other.NationalID = true, held.NationalID
	wantErr(t, "second campaign certificate after release", issue(ctx, s, other), store.ErrCampaignHolder)
	// A released certificate can be held again, then revoked for good.
	later := at.Add(time.Hour)
	noErr(t, "hold again", s.Revoke(ctx, &store.Revocation{Issuer: "i", Serial: held.Serial, Reason: store.ReasonCertificateHold, RevokedAt: later}))
	r, err := s.GetRevocation(ctx, "i", held.Serial)
	noErr(t, "GetRevocation", err)
	if r.Reason != store.ReasonCertificateHold || !r.RevokedAt.Equal(later) {
		t.Errorf("second hold recorded as reason %d at %v, want certificateHold at %v", r.Reason, r.RevokedAt, later)
	}
	noErr(t, "revoke", s.Revoke(ctx, &store.Revocation{Issuer: "i", Serial: held.Serial, Reason: store.ReasonSuperseded}))
	wantErr(t, "release after revoke", s.ReleaseHold(ctx, "i", held.Serial), store.ErrAlreadyRevoked)
}

// testCampaignHolders: ListCampaignHolders walks the campaign
// certificates in force, by national ID — not a revoked or an expired
// one, nor a certificate outside the campaign — in pages after a
// national ID.
func testCampaignHolders(t *testing.T, s store.Store) {
	ctx := context.Background()
	now := time.Now()
	prefix := fmt.Sprintf("CCCD:9%05d", time.Now().UnixNano()%100000)
	mk := func(n int, campaign bool, notAfter time.Time) *store.Certificate {
		c := NewCertificate(t, "i")
		c.Campaign, c.NationalID = campaign, fmt.Sprintf("%s%06d", prefix, n)
		c.NotBefore, c.NotAfter = notAfter.Add(-365*24*time.Hour), notAfter
		mustIssue(t, s, c)
		return c
	}
	good1, revoked, expired, good2 := mk(1, true, now.Add(time.Hour)), mk(2, true, now.Add(time.Hour)), mk(3, true, now.Add(-time.Hour)), mk(4, true, now.Add(time.Hour))
	mk(5, false, now.Add(time.Hour))
	noErr(t, "Revoke", s.Revoke(ctx, &store.Revocation{Issuer: "i", Serial: revoked.Serial, Reason: store.ReasonSuperseded, RevokedAt: now}))
	mine := func(after string, limit int) []string {
		t.Helper()
		hs, err := s.ListCampaignHolders(ctx, after, now, limit)
		noErr(t, "ListCampaignHolders", err)
		var out []string
		for _, h := range hs {
			if strings.HasPrefix(h.NationalID, prefix) {
				out = append(out, h.NationalID)
			}
		}
		return out
	}
	if got := mine(prefix, 100); !slices.Equal(got, []string{good1.NationalID, good2.NationalID}) {
		t.Errorf("ListCampaignHolders: %v, want %s and %s (not revoked %s, expired %s)", got, good1.NationalID, good2.NationalID,
			revoked.NationalID, expired.NationalID)
	}
	if got := mine(good1.NationalID, 1); !slices.Equal(got, []string{good2.NationalID}) {
		t.Errorf("ListCampaignHolders after %s, one: %v, want %s", good1.NationalID, got, good2.NationalID)
	}
}

// testPublicKeyCertified checks the pre-signing question against what
// PutCertificate refuses: a key is certified once it is stored, under any
// issuer, with or without AllowKeyReuse; a refused certificate certifies
// nothing.
func testPublicKeyCertified(t *testing.T, s store.Store) {
	ctx := context.Background()
	certified := func(h []byte) bool {
		t.Helper()
		ok, err := s.PublicKeyCertified(ctx, h)
		noErr(t, "PublicKeyCertified", err)
		return ok
	}
	c := NewCertificate(t, "issuing")
	if certified(c.PublicKeySHA256) {
		t.Fatal("key certified before any certificate")
	}
	noErr(t, "ReserveSerial", s.ReserveSerial(ctx, &store.SerialReservation{Issuer: c.Issuer, Serial: c.Serial}))
	if certified(c.PublicKeySHA256) {
		t.Fatal("key certified by a serial reservation alone")
	}
	noErr(t, "PutCertificate", s.PutCertificate(ctx, c))
	if !certified(c.PublicKeySHA256) {
		t.Fatal("key not certified after PutCertificate")
	}
	// Whatever PublicKeyCertified says, PutCertificate agrees.
	d := NewCertificate(t, "issuing-2")
	d.PublicKeySHA256 = c.PublicKeySHA256
	wantErr(t, "same key", issue(ctx, s, d), store.ErrDuplicatePublicKey)

	// A refused certificate (here: a campaign holder exists) leaves its key
	// uncertified.
	holder := NewCertificate(t, "issuing")
	holder.Campaign, holder.NationalID = true, "CCCD:079203005555"
	mustIssue(t, s, holder)
	refused := NewCertificate(t, "issuing")
	refused.Campaign, refused.NationalID = true, holder.NationalID
	wantErr(t, "second campaign certificate", issue(ctx, s, refused), store.ErrCampaignHolder)
	if certified(refused.PublicKeySHA256) {
		t.Error("key of a refused certificate is certified")
	}

	// A key first certified with AllowKeyReuse counts, and revocation does
	// not free a key.
	reuse := NewCertificate(t, "root")
	reuse.AllowKeyReuse = true
	mustIssue(t, s, reuse)
	noErr(t, "Revoke", s.Revoke(ctx, &store.Revocation{Issuer: reuse.Issuer, Serial: reuse.Serial, Reason: store.ReasonKeyCompromise}))
	if !certified(reuse.PublicKeySHA256) {
		t.Error("revoked key certified with AllowKeyReuse is not reported")
	}

	for _, h := range [][]byte{nil, c.PublicKeySHA256[:20], append(c.PublicKeySHA256, 0)} {
		_, err := s.PublicKeyCertified(ctx, h)
		wantErr(t, fmt.Sprintf("%d-byte hash", len(h)), err, store.ErrInvalid)
	}
}

func testCampaign(t *testing.T, s store.Store) {
	ctx := context.Background()
	const nid = "CCCD:079203001234"
	campaign := func(nb time.Time, validity time.Duration) *store.Certificate {
		c := NewCertificate(t, "issuing")
		c.Campaign, c.NationalID = true, nid
		c.NotBefore, c.NotAfter = nb.UTC().Truncate(time.Microsecond), nb.Add(validity).UTC().Truncate(time.Microsecond)
		return c
	}
	now := time.Now()
	first := campaign(now, 365*24*time.Hour)
	mustIssue(t, s, first)
	wantErr(t, "second campaign certificate", issue(ctx, s, campaign(now, time.Hour)), store.ErrCampaignHolder)
	// A certificate outside the campaign does not count.
	paid := NewCertificate(t, "issuing")
	paid.NationalID = nid
	mustIssue(t, s, paid)
	// Another national ID is free.
	other := campaign(now, time.Hour)
	other.NationalID = "CCCD:000000000001"
	mustIssue(t, s, other)
	// On hold is still active.
	noErr(t, "hold", s.Revoke(ctx, &store.Revocation{Issuer: first.Issuer, Serial: first.Serial, Reason: store.ReasonCertificateHold}))
	wantErr(t, "while holder on hold", issue(ctx, s, campaign(now, time.Hour)), store.ErrCampaignHolder)
	// Revoked frees the ID.
	noErr(t, "revoke", s.Revoke(ctx, &store.Revocation{Issuer: first.Issuer, Serial: first.Serial, Reason: store.ReasonCessationOfOperation}))
	second := campaign(now, 24*time.Hour)
	mustIssue(t, s, second)
	wantErr(t, "after new holder", issue(ctx, s, campaign(now, time.Hour)), store.ErrCampaignHolder)
	// A certificate starting when the holder's notAfter is: the holder is
	// still valid then (notAfter is inclusive).
	wantErr(t, "at holder's notAfter", issue(ctx, s, campaign(second.NotAfter, time.Hour)), store.ErrCampaignHolder)
	// Expired at the new certificate's notBefore frees the ID.
	third := campaign(second.NotAfter.Add(time.Microsecond), time.Hour)
	mustIssue(t, s, third)
	wantErr(t, "after expired holder replaced", issue(ctx, s, campaign(third.NotBefore, time.Hour)), store.ErrCampaignHolder)
	// The refused ones left nothing behind.
	cs, err := s.ListCertificates(ctx, &store.CertificateFilter{NationalID: nid})
	noErr(t, "ListCertificates", err)
	if len(cs) != 4 { // first, paid, second, third
		t.Errorf("%d certificates for %s, want 4", len(cs), nid)
	}
	wantErr(t, "campaign without national ID", issue(ctx, s, func() *store.Certificate {
		c := NewCertificate(t, "issuing")
		c.Campaign = true
		return c
	}()), store.ErrInvalid)
}

func testCRL(t *testing.T, s store.Store) {
	ctx := context.Background()
	_, err := s.LatestCRL(ctx, "i", 0)
	wantErr(t, "LatestCRL of none", err, store.ErrNotFound)
	for want := int64(1); want <= 3; want++ {
		n, err := s.NextCRLNumber(ctx, "i")
		noErr(t, "NextCRLNumber", err)
		if n != want {
			t.Fatalf("NextCRLNumber = %d, want %d", n, want)
		}
	}
	if n, err := s.NextCRLNumber(ctx, "j"); err != nil || n != 1 {
		t.Fatalf("NextCRLNumber(j) = %d, %v; want 1 (numbers are per issuer)", n, err)
	}
	tu := time.Date(2026, 3, 4, 5, 6, 7, 891011000, time.UTC)
	for _, n := range []int64{2, 10, 3} {
		noErr(t, "PutCRL", s.PutCRL(ctx, &store.CRL{Issuer: "i", Number: n, DER: []byte{0x30, byte(n)}, ThisUpdate: tu, NextUpdate: tu.Add(24 * time.Hour)}))
	}
	wantErr(t, "PutCRL again", s.PutCRL(ctx, &store.CRL{Issuer: "i", Number: 3, DER: []byte{1}, ThisUpdate: tu}), store.ErrExists)
	wantErr(t, "PutCRL number 0", s.PutCRL(ctx, &store.CRL{Issuer: "i", Number: 0, DER: []byte{1}, ThisUpdate: tu}), store.ErrInvalid)
	got, err := s.LatestCRL(ctx, "i", 0)
	noErr(t, "LatestCRL", err)
	if got.Number != 10 || !bytes.Equal(got.DER, []byte{0x30, 10}) || !got.ThisUpdate.Equal(tu) || !got.NextUpdate.Equal(tu.Add(24*time.Hour)) || got.Issuer != "i" {
		t.Errorf("LatestCRL = %+v", got)
	}
	_, err = s.LatestCRL(ctx, "j", 0)
	wantErr(t, "LatestCRL other issuer", err, store.ErrNotFound)
	// Pruning keeps the newest by number, and only the issuer's.
	noErr(t, "PutCRL j", s.PutCRL(ctx, &store.CRL{Issuer: "j", Number: 1, DER: []byte{1}, ThisUpdate: tu, NextUpdate: tu.Add(time.Hour)}))
	if n, err := s.PruneCRLs(ctx, "i", 0, 2); err != nil || n != 1 {
		t.Fatalf("PruneCRLs(i, 2) = %d, %v; want 1 deleted (number 2)", n, err)
	}
	if got, err := s.LatestCRL(ctx, "i", 0); err != nil || got.Number != 10 {
		t.Errorf("LatestCRL after pruning = %+v, %v", got, err)
	}
	if n, err := s.PruneCRLs(ctx, "i", 0, 2); err != nil || n != 0 {
		t.Errorf("PruneCRLs again = %d, %v; want none", n, err)
	}
	if _, err := s.LatestCRL(ctx, "j", 0); err != nil {
		t.Errorf("pruning i touched j: %v", err)
	}
	_, err = s.PruneCRLs(ctx, "i", 0, 0)
	wantErr(t, "PruneCRLs keeping none", err, store.ErrInvalid)
}

// testCRLShards: a certificate keeps the CRL shard it was stored with;
// revocations, latest CRLs and pruning are per shard; the shards in use
// are listed.
func testCRLShards(t *testing.T, s store.Store) {
	ctx := context.Background()
	if got, err := s.CRLShards(ctx, "i"); err != nil || len(got) != 0 {
		t.Fatalf("CRLShards before any = %v, %v", got, err)
	}
	byShard := map[int]*store.Certificate{}
	for _, shard := range []int{0, 7, 3, 7} {
		c := NewCertificate(t, "i")
		c.CRLShard = shard
		mustIssue(t, s, c)
		byShard[shard] = c
		noErr(t, "Revoke", s.Revoke(ctx, &store.Revocation{Issuer: "i", Serial: c.Serial, Reason: store.ReasonSuperseded}))
	}
	bad := NewCertificate(t, "i")
	bad.CRLShard = -1
	wantErr(t, "negative shard", issue(ctx, s, bad), store.ErrInvalid)
	if got, err := s.CRLShards(ctx, "i"); err != nil || fmt.Sprint(got) != "[3 7]" {
		t.Errorf("CRLShards = %v, %v; want [3 7]", got, err)
	}
	if got, err := s.CRLShards(ctx, "other"); err != nil || len(got) != 0 {
		t.Errorf("CRLShards(other) = %v, %v", got, err)
	}
	if got, err := s.GetCertificate(ctx, "i", byShard[3].Serial); err != nil || got.CRLShard != 3 {
		t.Errorf("GetCertificate CRLShard = %+v, %v; want 3", got, err)
	}
	for shard, want := range map[int]int{0: 1, 3: 1, 7: 2, 5: 0} {
		revs, err := s.ListRevoked(ctx, "i", shard, time.Time{})
		noErr(t, "ListRevoked", err)
		if len(revs) != want {
			t.Errorf("ListRevoked(shard %d) has %d, want %d", shard, len(revs), want)
		}
		for _, r := range revs {
			if got, _ := s.GetCertificate(ctx, "i", r.Serial); got == nil || got.CRLShard != shard {
				t.Errorf("ListRevoked(shard %d) lists %x of another shard", shard, r.Serial)
			}
		}
	}
	tu := time.Date(2026, 3, 4, 5, 6, 7, 0, time.UTC)
	for i, shard := range []int{0, 3, 3, 3, 0} {
		noErr(t, "PutCRL", s.PutCRL(ctx, &store.CRL{Issuer: "i", Shard: shard, Number: int64(i + 1), DER: []byte{0x30, byte(i)}, ThisUpdate: tu, NextUpdate: tu.Add(time.Hour)}))
	}
	wantErr(t, "PutCRL shard -1", s.PutCRL(ctx, &store.CRL{Issuer: "i", Shard: -1, Number: 9, DER: []byte{1}, ThisUpdate: tu}), store.ErrInvalid)
	for shard, want := range map[int]int64{0: 5, 3: 4} {
		if got, err := s.LatestCRL(ctx, "i", shard); err != nil || got.Number != want || got.Shard != shard {
			t.Errorf("LatestCRL(shard %d) = %+v, %v; want number %d", shard, got, err, want)
		}
	}
	_, err := s.LatestCRL(ctx, "i", 7)
	wantErr(t, "LatestCRL of a shard without one", err, store.ErrNotFound)
	if n, err := s.PruneCRLs(ctx, "i", 3, 1); err != nil || n != 2 {
		t.Errorf("PruneCRLs(shard 3, keep 1) = %d, %v; want 2", n, err)
	}
	if n, err := s.PruneCRLs(ctx, "i", 0, 2); err != nil || n != 0 {
		t.Errorf("PruneCRLs(shard 0, keep 2) = %d, %v; want 0: shard 3's pruning left shard 0 alone", n, err)
	}
}

func testAudit(t *testing.T, s store.Store) {
	ctx := context.Background()
	if evs, err := s.ListAudit(ctx, 0, 0); err != nil || len(evs) != 0 {
		t.Fatalf("ListAudit on empty store = %v, %v", evs, err)
	}
	at := time.Date(2026, 7, 8, 9, 10, 11, 121314000, time.UTC)
	var ids []int64
	for i := 0; i < 5; i++ {
		e := &store.AuditEvent{Time: at, Actor: "cli:root", Action: "cert.issue", Subject: fmt.Sprintf("issuing/%d", i),
			Outcome: "ok", Details: []byte(fmt.Sprintf(`{"n": %d, "name": "Nguyễn"}`, i))}
		noErr(t, "AppendAudit", s.AppendAudit(ctx, e))
		if len(ids) > 0 && e.ID <= ids[len(ids)-1] {
			t.Fatalf("audit ID %d not above %d", e.ID, ids[len(ids)-1])
		}
		ids = append(ids, e.ID)
	}
	noErr(t, "AppendAudit no details", s.AppendAudit(ctx, &store.AuditEvent{Actor: "kysod", Action: "start", Outcome: "intent"}))
	evs, err := s.ListAudit(ctx, 0, 0)
	noErr(t, "ListAudit", err)
	if len(evs) != 6 {
		t.Fatalf("ListAudit: %d events, want 6", len(evs))
	}
	e := evs[2]
	if e.ID != ids[2] || !e.Time.Equal(at) || e.Time.Location() != time.UTC || e.Actor != "cli:root" || e.Subject != "issuing/2" ||
		e.Outcome != "ok" || string(e.Details) != `{"n": 2, "name": "Nguyễn"}` {
		t.Errorf("event = %+v", e)
	}
	if string(evs[5].Details) != "{}" || evs[5].Time.IsZero() {
		t.Errorf("event without details or time = %+v; want details {} and a time", evs[5])
	}
	evs, err = s.ListAudit(ctx, ids[1], 2)
	noErr(t, "ListAudit after", err)
	if len(evs) != 2 || evs[0].ID != ids[2] || evs[1].ID != ids[3] {
		t.Errorf("ListAudit(after %d, 2) = %v", ids[1], evs)
	}
	for _, tc := range []struct {
		name string
		e    *store.AuditEvent
	}{
		{"array details", &store.AuditEvent{Actor: "a", Action: "b", Outcome: "ok", Details: []byte(`[1]`)}},
		{"null details", &store.AuditEvent{Actor: "a", Action: "b", Outcome: "ok", Details: []byte(`null`)}},
		{"bad JSON", &store.AuditEvent{Actor: "a", Action: "b", Outcome: "ok", Details: []byte(`{"a":`)}},
		{"large details", &store.AuditEvent{Actor: "a", Action: "b", Outcome: "ok",
			Details: []byte(`{"a":"` + strings.Repeat("x", 16<<10) + `"}`)}},
		{"no actor", &store.AuditEvent{Action: "b", Outcome: "ok"}},
		{"bad outcome", &store.AuditEvent{Actor: "a", Action: "b", Outcome: "maybe"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			wantErr(t, "AppendAudit", s.AppendAudit(ctx, tc.e), store.ErrInvalid)
		})
	}
	if evs, _ := s.ListAudit(ctx, 0, 0); len(evs) != 6 {
		t.Errorf("refused events were stored: %d events", len(evs))
	}
}

// testOwnerSignatures: ListOwnerSignatures gives the signature.create
// events naming the owner, in order and paged, and nothing else: not
// another owner's, not the owner's other events, not an owner named in
// another field or spelled like SQL.
func testOwnerSignatures(t *testing.T, s store.Store) {
	ctx := context.Background()
	sig := func(owner, outcome string) *store.AuditEvent {
		return &store.AuditEvent{Actor: "client:portal", Action: "signature.create", Subject: "cred-" + owner, Outcome: outcome,
			Details: []byte(fmt.Sprintf(`{"owner":%q,"activation":"a","digest":"AAAA","hash":"SHA-256"}`, owner))}
	}
	var want []int64
	for i := range 7 {
		mine := sig("own-a", "intent")
		if i%3 == 2 {
			mine = sig("own-a", "ok")
		}
		noErr(t, "AppendAudit", s.AppendAudit(ctx, mine,
			sig("own-b", "intent"),
			&store.AuditEvent{Actor: "owner:own-a", Action: "owner.disown", Subject: "cred-own-a", Outcome: "intent", Details: []byte(`{"owner":"own-a"}`)},
			&store.AuditEvent{Actor: "client:portal", Action: "signature.create", Subject: "cred-c", Outcome: "intent", Details: []byte(`{"owner":"own-c","client":"own-a"}`)},
			&store.AuditEvent{Actor: "client:portal", Action: "signature.create", Subject: "cred-d", Outcome: "intent", Details: []byte(`{"digest":"AAAA"}`)}))
		want = append(want, mine.ID)
	}
	var got []int64
	for after := int64(0); ; {
		es, err := s.ListOwnerSignatures(ctx, "own-a", after, 3)
		noErr(t, "ListOwnerSignatures", err)
		for _, e := range es {
			if e.Action != "signature.create" || e.Subject != "cred-own-a" || len(e.Hash) == 0 {
				t.Errorf("ListOwnerSignatures(own-a) gave %+v", e)
			}
			got = append(got, e.ID)
		}
		if len(es) < 3 {
			break
		}
		after = es[len(es)-1].ID
	}
	if fmt.Sprint(got) != fmt.Sprint(want) {
		t.Errorf("ListOwnerSignatures(own-a) paged by 3 = %v, want %v", got, want)
	}
	// Details escaping a NUL (json.Marshal writes \u0000) are stored and
	// indexed like any other: PostgreSQL's ->> refuses to give such a
	// string as text, and the index must not make the write fail.
	for _, d := range []string{`{"owner":"own-e","doc":"a\u0000b"}`, `{"owner":"own-\u0000"}`} {
		e := &store.AuditEvent{Actor: "client:portal", Action: "signature.create", Subject: "cred-e", Outcome: "intent", Details: []byte(d)}
		noErr(t, "AppendAudit "+d, s.AppendAudit(ctx, e))
	}
	if es, err := s.ListOwnerSignatures(ctx, "own-e", 0, 0); err != nil || len(es) != 1 {
		t.Errorf("ListOwnerSignatures(own-e) = %d events, %v; want 1", len(es), err)
	}
	for _, owner := range []string{"", "own-", "OWN-A", "own-a' OR '1'='1", "nobody"} {
		if es, err := s.ListOwnerSignatures(ctx, owner, 0, 0); err != nil || len(es) != 0 {
			t.Errorf("ListOwnerSignatures(%q) = %d events, %v; want none", owner, len(es), err)
		}
	}
}

func testBounds(t *testing.T, s store.Store) {
	ctx := context.Background()
	for _, tc := range []struct {
		name   string
		change func(c *store.Certificate)
	}{
		{"subject over 1024", func(c *store.Certificate) { c.Subject = strings.Repeat("a", 1025) }},
		{"DER over 64 KiB", func(c *store.Certificate) { c.DER = make([]byte, 64<<10+1) }},
		{"no DER", func(c *store.Certificate) { c.DER = nil }},
		{"key hash not 32 bytes", func(c *store.Certificate) { c.PublicKeySHA256 = c.PublicKeySHA256[:20] }},
		{"no profile", func(c *store.Certificate) { c.Profile = "" }},
		{"NUL in subject", func(c *store.Certificate) { c.Subject = "CN=a\x00b" }},
		{"bad UTF-8", func(c *store.Certificate) { c.Subject = "CN=\xff" }},
		{"national ID over 64", func(c *store.Certificate) { c.NationalID = strings.Repeat("9", 65) }},
		{"no validity", func(c *store.Certificate) { c.NotAfter = time.Time{} }},
		{"notAfter before notBefore", func(c *store.Certificate) { c.NotAfter = c.NotBefore.Add(-time.Second) }},
		{"bad status", func(c *store.Certificate) { c.Status = "expired" }},
		{"serial leading zero", func(c *store.Certificate) { c.Serial = []byte{0, 1} }},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c := NewCertificate(t, "i")
			noErr(t, "ReserveSerial", s.ReserveSerial(ctx, &store.SerialReservation{Issuer: c.Issuer, Serial: c.Serial}))
			tc.change(c)
			wantErr(t, "PutCertificate", s.PutCertificate(ctx, c), store.ErrInvalid)
		})
	}
	c := NewCertificate(t, "i")
	c.Subject, c.DER = strings.Repeat("a", 1024), make([]byte, 64<<10)
	c.DER[0] = 0x30
	mustIssue(t, s, c)
	wantErr(t, "nil certificate", s.PutCertificate(ctx, nil), store.ErrInvalid)
	wantErr(t, "nil revocation", s.Revoke(ctx, nil), store.ErrInvalid)
	wantErr(t, "nil CRL", s.PutCRL(ctx, nil), store.ErrInvalid)
	wantErr(t, "nil CA", s.PutCA(ctx, nil), store.ErrInvalid)
	wantErr(t, "nil audit", s.AppendAudit(ctx, nil), store.ErrInvalid)
	wantErr(t, "long CA name", s.PutCA(ctx, &store.CA{Name: strings.Repeat("n", 129), Kind: "root", CertDER: []byte{1}}), store.ErrInvalid)
	_, err := s.NextCRLNumber(ctx, "")
	wantErr(t, "NextCRLNumber no issuer", err, store.ErrInvalid)
	if cs, err := s.ListCertificates(ctx, &store.CertificateFilter{Limit: 1 << 40}); err != nil || len(cs) != 1 {
		t.Errorf("ListCertificates with a huge limit = %d, %v", len(cs), err)
	}
	_, err = s.ListCertificates(ctx, &store.CertificateFilter{Issuer: "i\x00"})
	wantErr(t, "ListCertificates NUL", err, store.ErrInvalid)
}

// testAuditBatch: several events appended in one call get increasing IDs
// in order; one bad event leaves none of them stored.
func testAuditBatch(t *testing.T, s store.Store) {
	ctx := context.Background()
	mk := func(i int) *store.AuditEvent {
		return &store.AuditEvent{Time: time.Now(), Actor: "test", Action: "signature.create", Subject: fmt.Sprintf("cred-%d", i), Outcome: "ok", Details: []byte(`{}`)}
	}
	es := []*store.AuditEvent{mk(1), mk(2), mk(3)}
	if err := s.AppendAudit(ctx, es...); err != nil {
		t.Fatal(err)
	}
	if !(es[0].ID > 0 && es[1].ID > es[0].ID && es[2].ID > es[1].ID) {
		t.Fatalf("IDs %d %d %d, want increasing", es[0].ID, es[1].ID, es[2].ID)
	}
	bad := mk(5)
	bad.Actor = ""
	if err := s.AppendAudit(ctx, mk(4), bad); err == nil {
		t.Fatal("a batch with an invalid event was stored")
	}
	got, err := s.ListAudit(ctx, 0, 0)
	if err != nil || len(got) != 3 {
		t.Fatalf("after the refused batch: %d events, %v", len(got), err)
	}
}

func testTrustAnchors(t *testing.T, s store.Store) {
	ctx := context.Background()
	list := func() []*store.TrustAnchor {
		t.Helper()
		as, err := s.ListTrustAnchors(ctx)
		noErr(t, "ListTrustAnchors", err)
		return as
	}
	if as := list(); len(as) != 0 {
		t.Fatalf("a new store lists %d trust anchors", len(as))
	}
	mk := func(der []byte, added time.Time) *store.TrustAnchor {
		sum := sha256.Sum256(der)
		return &store.TrustAnchor{SHA256: sum[:], DER: der, Subject: "CN=Root CA – Bộ Khoa học và Công nghệ,C=VN",
			Source: "neac-root.pem", AddedBy: "cli:operator", Added: added}
	}
	t0 := time.Date(2025, 8, 15, 9, 0, 0, 123456000, time.UTC)
	a, b := mk(randomBytes(t, 700), t0), mk(randomBytes(t, 900), t0.Add(time.Second))
	noErr(t, "PutTrustAnchor b", s.PutTrustAnchor(ctx, b))
	noErr(t, "PutTrustAnchor a", s.PutTrustAnchor(ctx, a))
	wantErr(t, "PutTrustAnchor again", s.PutTrustAnchor(ctx, mk(a.DER, t0)), store.ErrExists)
	as := list()
	if len(as) != 2 || !bytes.Equal(as[0].SHA256, a.SHA256) || !bytes.Equal(as[1].SHA256, b.SHA256) {
		t.Fatalf("ListTrustAnchors gave %d, want a then b (oldest first)", len(as))
	}
	got := as[0]
	if !bytes.Equal(got.DER, a.DER) || got.Subject != a.Subject || got.Source != a.Source || got.AddedBy != a.AddedBy || !got.Added.Equal(t0) {
		t.Errorf("ListTrustAnchors()[0] = %+v, want %+v", got, a)
	}
	wantErr(t, "PutTrustAnchor with a short hash", s.PutTrustAnchor(ctx, &store.TrustAnchor{SHA256: []byte{1}, DER: a.DER}), store.ErrInvalid)
	wantErr(t, "PutTrustAnchor without DER", s.PutTrustAnchor(ctx, &store.TrustAnchor{SHA256: a.SHA256}), store.ErrInvalid)
	noErr(t, "DeleteTrustAnchor a", s.DeleteTrustAnchor(ctx, a.SHA256))
	wantErr(t, "DeleteTrustAnchor a again", s.DeleteTrustAnchor(ctx, a.SHA256), store.ErrNotFound)
	wantErr(t, "DeleteTrustAnchor short", s.DeleteTrustAnchor(ctx, []byte{1, 2}), store.ErrInvalid)
	if as := list(); len(as) != 1 || !bytes.Equal(as[0].SHA256, b.SHA256) {
		t.Fatalf("after removing a, ListTrustAnchors gave %d anchors, want b only", len(as))
	}
	// Added zero means now.
	c := mk(randomBytes(t, 500), time.Time{})
	noErr(t, "PutTrustAnchor c", s.PutTrustAnchor(ctx, c))
	if as := list(); len(as) != 2 || as[1].Added.IsZero() {
		t.Fatalf("a zero Added was stored as zero")
	}
}
