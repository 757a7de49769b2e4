package cabench

import (
	"crypto"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/asn1"
	"math/big"
	"strings"
	"testing"
	"time"

	xocsp "golang.org/x/crypto/ocsp"
)

func TestIndexLine(t *testing.T) {
	na := time.Date(2027, 1, 2, 3, 4, 5, 0, time.UTC)
	at := time.Date(2026, 5, 6, 7, 8, 9, 0, time.UTC)
	for _, tc := range []struct {
		name string
		e    IndexEntry
		want string
	}{
		{"good, leading zero nibble", IndexEntry{Cert: &x509.Certificate{SerialNumber: big.NewInt(0x0abc), NotAfter: na}},
			"V\t270102030405Z\t\t0ABC\tunknown\t/CN=kyso bench 0ABC\n"},
		{"revoked", IndexEntry{Cert: &x509.Certificate{SerialNumber: big.NewInt(0x1f), NotAfter: na}, Revoked: true, RevokedAt: at, Reason: "keyCompromise"},
			"R\t270102030405Z\t260506070809Z,keyCompromise\t1F\tunknown\t/CN=kyso bench 1F\n"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if got := tc.e.line(); got != tc.want {
				t.Errorf("line() = %q, want %q", got, tc.want)
			}
		})
	}
}

func TestCCCDs(t *testing.T) {
	var c CCCDs
	a, b := c.Next(), c.Next()
	if a == b || len(a) != 12 || !strings.HasPrefix(a, "001") {
		t.Errorf("Next gave %q then %q", a, b)
	}
}

// TestAddExtension checks the nonce request is the x/crypto request plus a
// requestExtensions holding the nonce, and still parses as a request.
func TestAddExtension(t *testing.T) {
	req := xocsp.Request{HashAlgorithm: crypto.SHA1, IssuerNameHash: make([]byte, 20), IssuerKeyHash: make([]byte, 20), SerialNumber: big.NewInt(42)}
	der, err := req.Marshal()
	if err != nil {
		t.Fatal(err)
	}
	value, _ := asn1.Marshal([]byte("0123456789abcdef"))
	out, err := addExtension(der, pkix.Extension{Id: oidNonce, Value: value})
	if err != nil {
		t.Fatal(err)
	}
	got, err := xocsp.ParseRequest(out)
	if err != nil || got.SerialNumber.Int64() != 42 {
		t.Fatalf("ParseRequest: %v, %+v", err, got)
	}
	var outer struct {
		TBS struct {
			RequestList []asn1.RawValue
			Extensions  []pkix.Extension `asn1:"explicit,tag:2"`
		}
	}
	if _, err := asn1.Unmarshal(out, &outer); err != nil || len(outer.TBS.Extensions) != 1 || !outer.TBS.Extensions[0].Id.Equal(oidNonce) {
		t.Fatalf("requestExtensions: %v, %+v", err, outer.TBS.Extensions)
	}
}

func TestRatios(t *testing.T) {
	rs := []Result{
		{Kind: KindIssue, Name: IssueCSR, Database: "sqlite", PerSecond: 100},
		{Kind: KindIssue, Name: IssueKeyMade, Database: "sqlite", PerSecond: 25},
		{Kind: KindIssue, Name: IssueCSR, Database: "postgres", PerSecond: 50},
		{Kind: KindIssue, Name: IssueKeyMade, Database: "postgres", Err: "boom"},
		{Kind: KindOCSP, Name: OCSPKyso, Database: "sqlite", PerSecond: 1000},
		{Kind: KindOCSP, Name: OCSPOpenSSL, Database: "sqlite", PerSecond: 250},
		{Kind: KindOCSP, Name: OCSPOpenSSLMulti, Database: "sqlite", Err: "no openssl"},
	}
	Ratios(rs)
	for i, want := range []map[string]float64{nil, {"csr": 0.25}, {"sqlite": 0.5}, nil, {"openssl": 4}, nil, nil} {
		if len(rs[i].Ratios) != len(want) {
			t.Errorf("row %d: ratios %v, want %v", i, rs[i].Ratios, want)
		}
		for k, v := range want {
			if rs[i].Ratios[k] != v {
				t.Errorf("row %d: ratio to %s %v, want %v", i, k, rs[i].Ratios[k], v)
			}
		}
	}
	var b strings.Builder
	if err := Print(&b, rs); err != nil || !strings.Contains(b.String(), "4.00× openssl") || !strings.Contains(b.String(), "2. ocsp openssl-multi on sqlite: no openssl") {
		t.Errorf("Print: %v\n%s", err, b.String())
	}
}
