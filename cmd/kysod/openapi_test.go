package main

import (
	"bytes"
	"context"
	"crypto/x509"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/kyso-pki/kyso/internal/testenv"
	"github.com/kyso-pki/kyso/pkg/server"
	"github.com/kyso-pki/kyso/pkg/signing"
)

// stReport is the part of schemathesis's JSON report (--report json) the
// test asserts on.
type stReport struct {
	Version    string `json:"schemathesis_version"`
	Seed       json.Number
	ExitCode   int `json:"exit_code"`
	Operations struct {
		Selected int `json:"selected"`
		Tested   int `json:"tested"`
		Errored  int `json:"errored"`
	} `json:"operations"`
	TestCases struct {
		Generated    int `json:"generated"`
		WithFailures int `json:"with_failures"`
	} `json:"test_cases"`
	Failures []struct {
		Code       string   `json:"code"`
		Title      string   `json:"title"`
		Count      int      `json:"count"`
		Operations []string `json:"operations"`
	} `json:"failures"`
	Errors []json.RawMessage `json:"errors"`
}

// runSchemathesis runs `st run` with args, reads its JSON report and fails
// t unless it found nothing: no server error, no answer outside the
// document, every selected operation tested.
func runSchemathesis(t *testing.T, st, dir, name string, minOps int, args ...string) {
	t.Helper()
	report := filepath.Join(dir, name+"-report.json")
	args = append([]string{"--config-file", filepath.Join(dir, "schemathesis.toml"), "run"}, args...)
	args = append(args, "--no-color", "--report", "json", "--report-json-path", report)
	ctx, cancel := context.WithTimeout(context.Background(), 4*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, st, args...)
	cmd.Dir = dir
	cmd.Env = append(testenv.CheckerEnv(t), "SCHEMATHESIS_HOOKS="+filepath.Join(dir, "hooks.py"))
	// The verdict is the JSON report; the summary is stdout's last line.
	out, errOut, runErr := testenv.Run(cmd)
	os.WriteFile(filepath.Join(dir, name+".log"), []byte(out), 0o644)
	summary := ""
	if lines := strings.Split(strings.TrimSpace(out), "\n"); len(lines) > 0 {
		summary = lines[len(lines)-1]
	}
	raw, err := os.ReadFile(report)
	if err != nil {
		t.Fatalf("%s: schemathesis wrote no report (%v, %v):\n%s\nstderr: %s", name, err, runErr, out, errOut)
	}
	var r stReport
	if err := json.Unmarshal(raw, &r); err != nil {
		t.Fatalf("%s: report: %v", name, err)
	}
	t.Logf("%s: schemathesis %s, seed %s: %d operations, %d test cases: %s", name, r.Version, r.Seed, r.Operations.Tested, r.TestCases.Generated, summary)
	var problems []string
	for _, f := range r.Failures {
		problems = append(problems, fmt.Sprintf("%s %s ×%d on %s", f.Code, f.Title, f.Count, strings.Join(f.Operations, ", ")))
	}
	for _, e := range r.Errors {
		problems = append(problems, "error: "+string(e))
	}
	if r.Operations.Tested < minOps || r.Operations.Tested != r.Operations.Selected || r.Operations.Errored != 0 {
		problems = append(problems, fmt.Sprintf("tested %d of %d operations (%d errored), want all of at least %d", r.Operations.Tested, r.Operations.Selected, r.Operations.Errored, minOps))
	}
	if r.TestCases.Generated == 0 {
		problems = append(problems, "no test case generated")
	}
	if r.ExitCode != 0 || runErr != nil || len(problems) > 0 {
		t.Errorf("%s: schemathesis exit %d (%v):\n  %s\n%s\nstderr: %s", name, r.ExitCode, runErr, strings.Join(problems, "\n  "), out, errOut)
	}
}

// TestOpenAPISchemathesis runs schemathesis, an outside checker, against a
// running kysod with the OpenAPI document kysod serves: every HTTPS
// operation and the PKI routes, with every check (no server error, status
// codes, content types, headers and bodies as documented, schema-valid
// requests accepted, schema-violating ones refused, 405 for undocumented
// methods, authentication enforced). It authenticates as a relying party
// (client credentials, fetched again when a revoke test ends the token)
// and as two owners (one whose token logout may end), and points the
// SmartCA calls and the CSC credential calls at an enrolled citizen so
// they get past "not found". TLS is verified against kysod's own root.
func TestOpenAPISchemathesis(t *testing.T) {
	st := testenv.Schemathesis(t)
	kysod, kyso := binaries(t)
	dir := t.TempDir()
	data := filepath.Join(dir, "data")
	d := startKysod(t, kysod, data)
	run := func(args ...string) []byte {
		t.Helper()
		cmd := exec.Command(kyso, args...)
		cmd.Env = append(os.Environ(), "KYSO_DATA="+data, "KYSO_KEYSTORE=", "KYSO_DB=")
		var stdout, stderr bytes.Buffer
		cmd.Stdout, cmd.Stderr = &stdout, &stderr
		if err := cmd.Run(); err != nil {
			t.Fatalf("kyso %s: %v\n%s", strings.Join(args, " "), err, stderr.String())
		}
		return stdout.Bytes()
	}
	type enrolment struct {
		CredentialID string `json:"credential_id"`
		NationalID   string `json:"national_id"`
		OTPAuth      string `json:"otpauth_uri"`
	}
	owners := make([]enrolment, 2)
	pins := []string{"112233", "445566"}
	for i, cccd := range []string{"079203004321", "079203004322"} {
		if err := json.Unmarshal(run("enroll", "--cccd", cccd, "--name", "Lê Văn Tám", "--province", "Hà Nội", "--pin", pins[i], "--output", "json"), &owners[i]); err != nil {
			t.Fatal(err)
		}
	}
	var cl struct {
		ID     string `json:"client_id"`
		Secret string `json:"client_secret"`
	}
	if err := json.Unmarshal(run("client", "create", "--name", "Cổng Dịch vụ công", "--output", "json"), &cl); err != nil {
		t.Fatal(err)
	}

	rootPEM := fetchPEM(t, "http://"+d.pk+"/ca/root.crt", filepath.Join(dir, "root.pem"))
	rootDER, _ := os.ReadFile(filepath.Join(dir, "root.pem"))
	roots := x509.NewCertPool()
	roots.AppendCertsFromPEM(rootDER)
	client := trusting(roots, 30*time.Second)
	base := "https://" + d.https

	// The document kysod serves is the embedded one.
	resp, err := client.Get(base + "/openapi.json")
	if err != nil {
		t.Fatal(err)
	}
	served, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != 200 || resp.Header.Get("Content-Type") != "application/json" || !bytes.Equal(served, server.OpenAPI()) {
		t.Fatalf("GET /openapi.json = %d %s, %d bytes, not the embedded document", resp.StatusCode, resp.Header.Get("Content-Type"), len(served))
	}
	docFile := filepath.Join(dir, "openapi.json")
	os.WriteFile(docFile, served, 0o644)

	ownerTokens := make([]string, len(owners))
	for i, o := range owners {
		code, err := signing.TOTPCode(o.OTPAuth, time.Now())
		if err != nil {
			t.Fatal(err)
		}
		body, _ := json.Marshal(map[string]string{"national_id": o.NationalID, "pin": pins[i], "otp": code})
		resp, err := client.Post(base+"/owner/v1/login", "application/json", bytes.NewReader(body))
		if err != nil {
			t.Fatal(err)
		}
		var lr struct {
			AccessToken string `json:"access_token"`
		}
		json.NewDecoder(resp.Body).Decode(&lr)
		resp.Body.Close()
		if resp.StatusCode != 200 || lr.AccessToken == "" {
			t.Fatalf("owner login: %d", resp.StatusCode)
		}
		ownerTokens[i] = lr.AccessToken
	}

	cccd := strings.TrimPrefix(owners[0].NationalID, "CCCD:")
	// A transaction waiting for the first owner.
	signReq, _ := json.Marshal(map[string]any{"sp_id": cl.ID, "sp_password": cl.Secret, "user_id": cccd, "transaction_id": "openapi-1",
		"transaction_desc": "Hồ sơ thử", "sign_files": []map[string]string{{"doc_id": "to-khai.pdf", "data_to_be_signed": strings.Repeat("ab", 32)}}})
	resp, err = client.Post(base+"/smartca/v1/signatures/sign", "application/json", bytes.NewReader(signReq))
	if err != nil {
		t.Fatal(err)
	}
	var signed struct {
		Data struct {
			TranCode string `json:"tran_code"`
		} `json:"data"`
	}
	json.NewDecoder(resp.Body).Decode(&signed)
	resp.Body.Close()
	tranCode := signed.Data.TranCode
	if resp.StatusCode != 200 || tranCode == "" {
		t.Fatalf("SmartCA sign: %d", resp.StatusCode)
	}
	// Per-operation settings, each for a reason:
	//   - the CSC credential and signature methods answer a well-formed
	//     request they cannot honour (an unknown credential, a wrong PIN,
	//     a SAD not issued for these hashes) with 400, as CSC API v2
	//     section 10.1 requires, and so does the owner's approve for a
	//     wrong factor: 400 is an expected answer to schema-valid data;
	//   - the SmartCA dialect bounds transaction_id, doc_id and file_type
	//     in bytes of UTF-8, which JSON Schema's maxLength (characters)
	//     cannot say: its sign call gets ASCII strings; and it wants the
	//     doc_ids of one request distinct, which JSON Schema cannot say
	//     either: 400 is an expected answer there too;
	//   - oauth2/authorize gets the test client's ID, which registered no
	//     redirect URI (a request cannot pass without one, and JSON
	//     Schema cannot name the ones registered): 400 is its expected
	//     answer to schema-valid data, never a redirect;
	//   - the verify API gets generated bytes, which are no PDF: 400 is
	//     its expected answer to schema-valid data (a real signed PDF is
	//     checked by TestVerifyAPI);
	//   - approve, reject and the SmartCA status call get a real
	//     transaction (approve then sees wrong factors, a lockout, a
	//     transaction already decided), and half the CA certificate and
	//     CRL requests name a real CA, so they do not stop at 404.
	semantic400 := `checks.positive_data_acceptance.expected-statuses = ["2xx", "400", "401", "403", "404", "409", "429", "5xx"]`
	config := fmt.Sprintf(`tls-verify = %q
request-timeout = 20

[generation]
database = "none"

[auth]
auto-signup = false

[auth.openapi.clientBasic]
username = %[2]q
password = %[3]q

[auth.openapi.ownerToken]
bearer = %[4]q

[auth.dynamic.openapi.cscClient]
path = "/csc/v2/oauth2/token"
payload = { grant_type = "client_credentials", client_id = %[2]q, client_secret = %[3]q }
payload_content_type = "application/x-www-form-urlencoded"
extract_selector = "/access_token"

[[operations]]
include-path = "/owner/v1/logout"
headers = { Authorization = %[5]q }

[[operations]]
include-path-regex = "^/csc/v2/(credentials|signatures)/"
%[6]s
parameters = { "body.userID" = %[7]q, "body.credentialID" = %[8]q }

[[operations]]
include-path-regex = "^/owner/v1/transactions/[^/]+/approve$"
%[6]s

[[operations]]
include-path-regex = "^/smartca/"
parameters = { "body.sp_id" = %[2]q, "body.sp_password" = %[3]q, "body.user_id" = %[7]q }

[[operations]]
include-path = "/csc/v2/oauth2/authorize"
%[6]s
parameters = { "query.client_id" = %[2]q }

[[operations]]
include-path = "/verify/v1"
%[6]s

[[operations]]
include-path = "/smartca/v1/signatures/sign"
generation.codec = "ascii"
%[6]s

[dictionaries]
ca-names = { values = ["root", "issuing"] }

[[operations]]
include-path-regex = "^/(ca|crl)/"
parameters = { "path.name" = { dictionary = "ca-names", probability = 0.5 } }

[[operations]]
include-path-regex = "^/owner/v1/transactions/"
parameters = { "path.id" = %[9]q }

[[operations]]
include-path-regex = "^/smartca/v1/signatures/sign/"
parameters = { "path.tran_code" = %[9]q }
`, rootPEM, cl.ID, cl.Secret, ownerTokens[0], "Bearer "+ownerTokens[1], semantic400, cccd, owners[0].CredentialID, tranCode)
	if err := os.WriteFile(filepath.Join(dir, "schemathesis.toml"), []byte(config), 0o600); err != nil {
		t.Fatal(err)
	}
	// The PKI routes take DER bodies and the verify API a PDF: generated
	// bytes go as they are.
	hooks := `import schemathesis

schemathesis.serializer.alias(["application/ocsp-request", "application/timestamp-query", "application/pdf"], "application/octet-stream")
`
	if err := os.WriteFile(filepath.Join(dir, "hooks.py"), []byte(hooks), 0o644); err != nil {
		t.Fatal(err)
	}

	// 28: schemathesis leaves out the document's own route when it loads
	// the document from it. The registry's route is served only by kysod
	// --registry, to members with a client certificate and a signing key
	// (pkg/campaignreg's tests and TestTwoProvidersOneCampaignSignature
	// play the attacker there).
	runSchemathesis(t, st, dir, "https", 28, base+"/openapi.json", "--checks", "all", "--exclude-tag", "PKI", "--exclude-tag", "Registry", "--max-examples", "15")
	// RFC 6960 and RFC 3161 answer a malformed request with HTTP 200 and
	// an unsuccessful status in the body, not with a 4xx: schema-violating
	// requests are not expected to be refused at the HTTP level there.
	runSchemathesis(t, st, dir, "pki", 6, docFile, "--url", "http://"+d.pk, "--checks", "all", "--exclude-checks", "negative_data_rejection",
		"--include-tag", "PKI", "--max-examples", "15")

	// Still serving, and nothing failed inside.
	d.stop(t)
	if strings.Contains(d.out.String(), `"level":"ERROR"`) {
		t.Errorf("kysod logged errors under schemathesis:\n%s", d.out.String())
	}
}
