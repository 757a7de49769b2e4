package main

import (
	"context"
	"encoding/json"
	"path/filepath"
	"strings"
	"testing"

	"github.com/kyso-pki/kyso/hsm"
	"github.com/kyso-pki/kyso/pkg/admin"
	"github.com/kyso-pki/kyso/pkg/ca"
	"github.com/kyso-pki/kyso/pkg/signing"
)

// TestCertRenew: `kyso cert renew` records the operator's request once
// (the owner's app then shows it), issues nothing, and refuses an
// unknown credential and a second request with a clear error.
func TestCertRenew(t *testing.T) {
	ctx := context.Background()
	dir := filepath.Join(t.TempDir(), "data")
	if _, stderr, code := kyso(t, "ca", "init", "--data", dir); code != 0 {
		t.Fatalf("ca init: %s", stderr)
	}
	svc, o := openService(t, dir)
	en, err := svc.Enrol(ctx, &signing.EnrolRequest{CCCD: "079203005555", Name: "Phạm Thị Hoa", Province: "Huế", PIN: "271828",
		Algorithm: hsm.ECDSAP256, Actor: "test"})
	o.Close()
	if err != nil {
		t.Fatal(err)
	}
	out, stderr, code := kyso(t, "cert", "renew", en.CredentialID, "--data", dir, "--output", "json")
	var r admin.Renewal
	if code != 0 || json.Unmarshal([]byte(out), &r) != nil || r.CredentialID != en.CredentialID ||
		r.Serial != ca.FormatSerialInt(en.Certificate.SerialNumber) || !strings.HasPrefix(r.RequestedBy, "cli:") || r.Metered {
		t.Fatalf("cert renew: %d %s%s", code, out, stderr)
	}
	if _, stderr, code := kyso(t, "cert", "renew", en.CredentialID, "--data", dir); code == 0 || !strings.Contains(stderr, "already") {
		t.Errorf("a second request: %d %s", code, stderr)
	}
	if _, stderr, code := kyso(t, "cert", "renew", "no-such", "--data", dir); code == 0 || !strings.Contains(stderr, "no such credential") {
		t.Errorf("an unknown credential: %d %s", code, stderr)
	}
	svc, o = openService(t, dir)
	defer o.Close()
	st, err := svc.RenewalState(ctx, en.OwnerID, en.CredentialID)
	if err != nil || st.Requested != r.RequestedBy || st.Serial != r.Serial {
		t.Errorf("the owner's state after the request: %+v %v", st, err)
	}
}
