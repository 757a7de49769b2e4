package main

import (
	"bytes"
	"crypto/tls"
	"crypto/x509"
	"database/sql"
	"encoding/json"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	_ "modernc.org/sqlite"

	"github.com/kyso-pki/kyso/internal/testenv"
)

// TestTwoProvidersOneCampaignSignature: two kysod, two providers, each
// its own CA and database; provider A also serves the shared campaign
// registry (--registry), provider B is its client over mutual TLS with
// signed requests. B refuses a citizen A holds, naming A; after the
// citizen's switch to B, A revokes its certificate superseded (openssl
// reads A's OCSP and CRL) and B's free period is 12 less the 3 whole
// months used at A.
func TestTwoProvidersOneCampaignSignature(t *testing.T) {
	openssl := testenv.LookPath(t, "openssl", "apt-get install openssl")
	kysod, kyso := binaries(t)
	dir := t.TempDir()
	dataA, dataB := filepath.Join(dir, "a"), filepath.Join(dir, "b")
	members := filepath.Join(dir, "members.yaml")
	writeFile(t, members, "members: []\n")
	writeFile(t, filepath.Join(dataA, "kyso.json"), `{"campaign_registry": {"provider_id": "prov-a", "provider_name": "Nhà cung cấp A"}}`)
	configA := filepath.Join(dir, "a.yaml")
	writeFile(t, configA, "crl_batch: 1s\ncampaign:\n  registry_sync: 1s\nregistry:\n  members_file: "+members+"\n")
	a := startKysod(t, kysod, dataA, "KYSO_CONFIG="+configA, "KYSO_REGISTRY=true")
	if !strings.Contains(a.out.String(), "/registry/v1/ for the providers in "+members) {
		t.Fatalf("A does not say it serves the registry:\n%s", a.out.String())
	}
	rootA := fetchPEM(t, "http://"+a.pk+"/ca/root.crt", filepath.Join(dir, "root-a.pem"))
	issuingA := fetchPEM(t, "http://"+a.pk+"/ca/issuing.crt", filepath.Join(dir, "issuing-a.pem"))

	// B: a client of A's registry, trusting A's root for its HTTPS.
	rb, _ := os.ReadFile(rootA)
	writeFile(t, filepath.Join(dataB, "registry-root.pem"), string(rb))
	writeFile(t, filepath.Join(dataB, "kyso.json"), `{"campaign_registry": {"provider_id": "prov-b", "provider_name": "Nhà cung cấp B",
		"url": "https://`+a.https+`", "ca_file": "registry-root.pem"}}`)
	configB := filepath.Join(dir, "b.yaml")
	writeFile(t, configB, "campaign:\n  registry_sync: 1s\n")
	b := startKysod(t, kysod, dataB, "KYSO_CONFIG="+configB)
	// B's sync is refused until A's operator adds B to the members file.
	entry := runKyso(t, kyso, dataB, nil, "registry", "member")
	for _, want := range []string{"id: prov-b", "name: Nhà cung cấp B", "tls_key_sha256: ", "BEGIN PUBLIC KEY"} {
		if !strings.Contains(entry, want) {
			t.Fatalf("kyso registry member lacks %q:\n%s", want, entry)
		}
	}
	writeFile(t, members, entry)

	const cccd = "079203005151"
	enrol := func(data string, extra ...string) (map[string]any, string, error) {
		t.Helper()
		cmd := exec.Command(kyso, append([]string{"enroll", "--cccd", cccd, "--name", "Lê Văn Tám", "--province", "Hồ Chí Minh",
			"--pin", "271828", "--output", "json"}, extra...)...)
		cmd.Env = append(os.Environ(), "KYSO_DATA="+data, "KYSO_KEYSTORE=", "KYSO_DB=")
		var stdout, stderr bytes.Buffer
		cmd.Stdout, cmd.Stderr = &stdout, &stderr
		err := cmd.Run()
		var out map[string]any
		if err == nil {
			if jerr := json.Unmarshal(stdout.Bytes(), &out); jerr != nil {
				t.Fatalf("kyso enroll --output json: %v\n%s", jerr, stdout.String())
			}
		}
		return out, stderr.String(), err
	}
	atA, _, err := enrol(dataA)
	if err != nil {
		t.Fatalf("A enrols: %v", err)
	}
	if _, stderr, err := enrol(dataB); err == nil || !strings.Contains(stderr, "Nhà cung cấp A") {
		t.Fatalf("B enrols the citizen A holds: %v, stderr %q; want a refusal naming Nhà cung cấp A", err, stderr)
	}

	// The registry's attacker: no client certificate, refused and audited.
	roots := x509.NewCertPool()
	roots.AppendCertsFromPEM(rb)
	anon := &http.Client{Transport: &http.Transport{TLSClientConfig: &tls.Config{RootCAs: roots}}}
	resp, err := anon.Post("https://"+a.https+"/registry/v1/register", "application/jose", strings.NewReader("x.y.z"))
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != http.StatusUnauthorized || !strings.Contains(string(body), "client_certificate") {
		t.Fatalf("a request without a client certificate: %d %s", resp.StatusCode, body)
	}

	// A stranger's flood is limited per source before it is read or
	// audited.
	limited := false
	for i := 0; i < 150 && !limited; i++ {
		resp, err := anon.Post("https://"+a.https+"/registry/v1/lookup", "application/jose", strings.NewReader("x.y.z"))
		if err != nil {
			t.Fatal(err)
		}
		io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
		limited = resp.StatusCode == http.StatusTooManyRequests && resp.Header.Get("Retry-After") != ""
	}
	if !limited {
		t.Fatal("150 requests without a client certificate from one address were never answered 429")
	}
	time.Sleep(2 * time.Second) // the bucket refills before B's requests (another address would do)

	// The holding began three months and five days ago: the registry's
	// record says so (A's database is the registry's).
	db, err := sql.Open("sqlite", filepath.Join(dataA, "kyso.db"))
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	res, err := db.Exec(`UPDATE campaign_holdings SET since = ? WHERE national_id = ? AND released_at IS NULL`,
		time.Now().AddDate(0, -3, -5).UnixMicro(), "CCCD:"+cccd)
	if n, _ := res.RowsAffected(); err != nil || n != 1 {
		t.Fatalf("dating A's holding: %v, %d rows", err, n)
	}
	db.Close()

	atB, stderr, err := enrol(dataB, "--switch-consent", "signed-form:HS-2026-0042")
	if err != nil {
		t.Fatalf("B enrols with the citizen's switch: %v\n%s", err, stderr)
	}
	if atB["switched_from"] != "Nhà cung cấp A" || atB["months_used"] != float64(3) || atB["free_months"] != float64(9) {
		t.Fatalf("B's enrolment after the switch: from %v, %v months used, %v free; want Nhà cung cấp A, 3, 9",
			atB["switched_from"], atB["months_used"], atB["free_months"])
	}
	// A's sync revokes its certificate, superseded: openssl asks A's OCSP
	// and reads A's CRL.
	leaf := filepath.Join(dir, "leaf-a.pem")
	writeFile(t, leaf, atA["certificate"].(string))
	serial := atA["serial"].(string)
	var out, verified string
	for deadline := time.Now().Add(30 * time.Second); ; time.Sleep(500 * time.Millisecond) {
		out, verified = opensslBoth(t, openssl, "ocsp", "-issuer", issuingA, "-cert", leaf, "-url", "http://"+a.pk+"/ocsp", "-CAfile", rootA, "-timeout", "10")
		if strings.Contains(out, leaf+": revoked") || time.Now().After(deadline) {
			break
		}
	}
	for _, want := range []string{leaf + ": revoked", "Reason: superseded"} {
		if !strings.Contains(out, want) || !strings.Contains(verified, "Response verify OK") {
			t.Fatalf("openssl ocsp of A's certificate after the switch lacks %q:\n%s\nstderr: %s", want, out, verified)
		}
	}
	crlFile := filepath.Join(dir, "issuing-a.crl")
	var crl string
	for deadline := time.Now().Add(30 * time.Second); ; time.Sleep(500 * time.Millisecond) {
		fetch(t, "http://"+a.pk+"/crl/issuing.crl", crlFile)
		crl, _ = opensslBoth(t, openssl, "crl", "-inform", "DER", "-in", crlFile, "-noout", "-text")
		if strings.Contains(crl, serial) || time.Now().After(deadline) {
			break
		}
	}
	if !strings.Contains(crl, "Serial Number: "+serial) || !strings.Contains(crl, "Superseded") {
		t.Fatalf("A's CRL does not list %s as superseded:\n%s", serial, crl)
	}
	// Both sides audited their part.
	auditA := runKyso(t, kyso, dataA, nil, "audit", "export")
	for _, want := range []string{`"registry.switch"`, `"campaign.superseded"`, `"registry.ack"`, `"registry.deny"`, `"registry.refuse"`} {
		if !strings.Contains(auditA, want) {
			t.Errorf("A's audit log lacks %s", want)
		}
	}
	auditB := runKyso(t, kyso, dataB, nil, "audit", "export")
	for _, want := range []string{`"campaign.refuse"`, `"campaign.switch"`} {
		if !strings.Contains(auditB, want) {
			t.Errorf("B's audit log lacks %s", want)
		}
	}
	if l := b.logged(); strings.Contains(l, "campaign registry sync") && strings.Contains(l, `"level":"ERROR"`) && !strings.Contains(l, "unknown_provider") {
		t.Errorf("B's registry sync failed other than before it was a member:\n%s", l)
	}
	a.stop(t)
	b.stop(t)
}

func writeFile(t *testing.T, path, text string) {
	t.Helper()
	if err := os.MkdirAll(filepath.Dir(path), 0o700); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(path, []byte(text), 0o600); err != nil {
		t.Fatal(err)
	}
}

// opensslBoth runs openssl and returns its stdout and stderr apart (it
// says "Response verify OK" on stderr).
func opensslBoth(t *testing.T, openssl string, args ...string) (string, string) {
	t.Helper()
	out, errOut, err := testenv.Run(exec.Command(openssl, args...))
	if err != nil {
		t.Fatalf("openssl %s: %v\n%s\n%s", strings.Join(args, " "), err, out, errOut)
	}
	return out, errOut
}
