package app_test

import (
	"bufio"
	"context"
	"encoding/pem"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/kyso-pki/kyso/internal/testenv"
	"github.com/kyso-pki/kyso/internal/testpdf"
)

// TestPyHankoOAuth2Code: an outside CSC client, pyHanko's CSC signer,
// signs a PDF with the owner's consent taken by oauth2code. pyHanko
// computes the hash to sign, and its authorisation manager (the one part
// pyHanko leaves to the integrator, testdata/pyhanko_oauth.py) sends the
// owner to oauth2/authorize with it; this test acts as the owner's
// browser (logs in, reads the consent page, approves with PIN and code)
// and hands back the URL the browser was sent to; pyHanko exchanges the
// code and signs with the token as the SAD. pyHanko then validates the
// signature against the test root.
func TestPyHankoOAuth2Code(t *testing.T) {
	python := testenv.PyHankoPython(t)
	o := newOAuthEnv(t)
	dir := t.TempDir()
	ca := filepath.Join(dir, "server.pem")
	os.WriteFile(ca, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: o.srv.Certificate().Raw}), 0o644)
	root := filepath.Join(dir, "root.pem")
	os.WriteFile(root, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: o.root.Raw}), 0o644)
	in := filepath.Join(dir, "in.pdf")
	os.WriteFile(in, testpdf.Minimal("To khai"), 0o644)
	out := filepath.Join(dir, "out.pdf")
	tok, err := o.portal.Token(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	cmd := testenv.Command(t, python, "testdata/pyhanko_oauth.py", o.srv.URL, tok, o.citizen.CredentialID, o.portal.ClientID,
		o.portal.ClientSecret, redirectURI, ca, in, out)
	var stderr strings.Builder
	cmd.Stderr = &stderr
	stdin, _ := cmd.StdinPipe()
	stdout, _ := cmd.StdoutPipe()
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	lines := bufio.NewScanner(stdout)
	var authorize string
	for lines.Scan() {
		if u, ok := strings.CutPrefix(lines.Text(), "AUTHORIZE "); ok {
			authorize = u
			break
		}
	}
	if authorize == "" {
		cmd.Wait()
		t.Fatalf("pyHanko asked for no authorisation\nstderr: %s", stderr.String())
	}
	page, back := o.consent(t, o.browser(t), authorize, o.citizen, true)
	if !strings.Contains(page, "pyHanko: hợp đồng") || !strings.Contains(page, `<dd class="count">1</dd>`) {
		t.Errorf("the consent page for pyHanko's request:\n%s", page)
	}
	fmt.Fprintln(stdin, back.String())
	stdin.Close()
	for lines.Scan() {
	}
	if err := cmd.Wait(); err != nil {
		t.Fatalf("pyHanko's CSC signer with oauth2code: %v\nstderr: %s", err, stderr.String())
	}
	r := testenv.RunPyHanko(t, "sign", "validate", "--pretty-print", "--no-revocation-check", "--trust", root, out)
	if r.Err != nil || !strings.Contains(r.Report, "The signer's certificate is trusted.") || !strings.Contains(r.Report, "The signature is judged VALID.") {
		t.Fatalf("pyHanko validate: %v\n%s\nlog: %s\nstderr: %s", r.Err, r.Report, r.Log, r.Stderr)
	}
	t.Logf("pyHanko:\n%s", r.Report)
}
