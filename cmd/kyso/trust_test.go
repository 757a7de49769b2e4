package main

import (
	"context"
	"encoding/json"
	"encoding/pem"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/kyso-pki/kyso/cmd/internal/datadir"
	"github.com/kyso-pki/kyso/internal/testenv"
	"github.com/kyso-pki/kyso/pkg/ca/catest"
	"github.com/kyso-pki/kyso/pkg/store/storeopen"
)

// TestTrustStore adds another CA's root (as an operator adds NEAC's from
// its official file), lists it beside the provider's own root with the
// fingerprint openssl computes, refuses to remove the provider's root,
// removes the added one, and finds both changes in the audit trail.
func TestTrustStore(t *testing.T) {
	ctx := context.Background()
	dir, data, run := initData(t)

	list := func() []anchorJSON {
		t.Helper()
		out, _ := run(0, "trust", "list", "--data", data, "--output", "json")
		var js []anchorJSON
		if err := json.Unmarshal([]byte(out), &js); err != nil {
			t.Fatalf("trust list --output json: %v\n%s", err, out)
		}
		return js
	}
	js := list()
	if len(js) != 1 || !js[0].Provider {
		t.Fatalf("a new data directory trusts %+v, want the provider's root only", js)
	}
	providerFP := js[0].SHA256

	other, err := catest.New(ctx, filepath.Join(dir, "other"))
	if err != nil {
		t.Fatal(err)
	}
	defer other.Close()
	rootPEM := filepath.Join(dir, "neac-root.pem")
	if err := os.WriteFile(rootPEM, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: other.Hierarchy.Root.Raw}), 0o644); err != nil {
		t.Fatal(err)
	}
	leafDER := filepath.Join(dir, "leaf.der")
	os.WriteFile(leafDER, other.Hierarchy.OCSP.Raw, 0o644)
	// A certificate that is not a CA's is refused, and nothing is added.
	if _, errOut := run(2, "trust", "add", "--data", data, leafDER); !strings.Contains(errOut, "not a CA certificate") {
		t.Errorf("adding an end-entity certificate: %s", errOut)
	}
	out, _ := run(0, "trust", "add", "--data", data, rootPEM)
	ssl, err := exec.Command(testenv.LookPath(t, "openssl", "apt-get install openssl"), "x509", "-in", rootPEM, "-noout", "-fingerprint", "-sha256").Output()
	if err != nil {
		t.Fatalf("openssl x509 -fingerprint: %v", err)
	}
	// "sha256 Fingerprint=AB:CD:…" (openssl 3) — kyso prints the same digits without colons.
	_, fp, _ := strings.Cut(strings.TrimSpace(string(ssl)), "=")
	fp = strings.ReplaceAll(fp, ":", "")
	if len(fp) != 64 || !strings.HasPrefix(out, "added "+fp) {
		t.Fatalf("trust add printed %q; openssl's fingerprint is %s", out, fp)
	}
	if _, errOut := run(2, "trust", "add", "--data", data, rootPEM); !strings.Contains(errOut, "already in the trust store") {
		t.Errorf("adding it twice: %s", errOut)
	}
	js = list()
	if len(js) != 2 || js[1].SHA256 != fp || js[1].Provider || js[1].Source != "neac-root.pem" || !strings.HasPrefix(js[1].AddedBy, "cli:") {
		t.Fatalf("after add: %+v", js)
	}
	text, _ := run(0, "trust", "list", "--data", data)
	if !strings.Contains(text, providerFP) || !strings.Contains(text, "the provider's own root") || !strings.Contains(text, fp) {
		t.Errorf("trust list:\n%s", text)
	}

	if _, errOut := run(2, "trust", "remove", "--data", data, providerFP); !strings.Contains(errOut, "provider's own root CA cannot be removed") {
		t.Errorf("removing the provider's root: %s", errOut)
	}
	if _, errOut := run(2, "trust", "remove", "--data", data, "00"); !strings.Contains(errOut, "not a SHA-256 fingerprint") {
		t.Errorf("removing a bad fingerprint: %s", errOut)
	}
	// Lower case with colons, as openssl prints it, is accepted.
	colon := strings.ToLower(strings.TrimSpace(strings.SplitN(string(ssl), "=", 2)[1]))
	run(0, "trust", "remove", "--data", data, colon)
	if js := list(); len(js) != 1 || js[0].SHA256 != providerFP {
		t.Fatalf("after remove: %+v", js)
	}

	d, err := datadir.Load(data)
	if err != nil {
		t.Fatal(err)
	}
	st, err := storeopen.Open(ctx, d.Config.DB)
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	evs, err := st.ListAudit(ctx, 0, 0)
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, e := range evs {
		if strings.HasPrefix(e.Action, "trust.") {
			got = append(got, e.Action+" "+e.Outcome+" "+e.Subject)
		}
	}
	want := []string{"trust.add ok trust/" + fp, "trust.remove error trust/" + providerFP, "trust.remove ok trust/" + fp}
	if strings.Join(got, "\n") != strings.Join(want, "\n") {
		t.Errorf("audit trail:\n%s\nwant:\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
}
