package testenv

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// DSSRunner runs the EU Digital Signature Service (DSS) validator that
// tools/dss-validate wraps: one JVM validates every PDF handed to one
// Validate call, with DSS's default validation policy, offline.
type DSSRunner struct {
	// argv is the command before the tool's own arguments: the launcher
	// script, or java -jar and the jar.
	argv []string
}

// DSS returns the DSS validator named by $KYSO_DSS (a launcher script, or
// the jar itself, run with java -jar), else (outside CI) the launcher in
// the cache; a missing one is Missing. scripts/test.sh builds the tool from
// tools/dss-validate into $KYSO_CACHE/dss and exports KYSO_DSS.
func DSS(t testing.TB) *DSSRunner {
	t.Helper()
	p := installed(t, "KYSO_DSS", "bin/kyso-dss-validate", "the EU DSS validator (tools/dss-validate)")
	if strings.HasSuffix(p, ".jar") {
		return &DSSRunner{argv: []string{LookPath(t, "java", "apt-get install openjdk-17-jre-headless"), "-jar", p}}
	}
	return &DSSRunner{argv: []string{p}}
}

// DSS indications (ETSI EN 319 102-1 section 5.1.3) as the tool prints
// them: signatures get the TOTAL_ ones, time-stamps the plain ones.
const (
	DSSTotalPassed   = "TOTAL_PASSED"
	DSSTotalFailed   = "TOTAL_FAILED"
	DSSIndeterminate = "INDETERMINATE"
	DSSPassed        = "PASSED"
	DSSFailed        = "FAILED"
)

// DSSReport is the tool's whole output.
type DSSReport struct {
	DSSVersion string          `json:"dssVersion"`
	Online     bool            `json:"online"`
	Files      []DSSFileReport `json:"files"`
}

// DSSFileReport is what DSS says of one PDF: its signatures, the document
// time-stamps, and the revocation data it used.
type DSSFileReport struct {
	File string `json:"file"`
	// Error is set when DSS could not validate the file at all.
	Error              string          `json:"error"`
	ValidationTime     time.Time       `json:"validationTime"`
	Policy             string          `json:"policy"`
	Signatures         []DSSSignature  `json:"signatures"`
	DocumentTimestamps []DSSTimestamp  `json:"documentTimestamps"`
	Revocation         []DSSRevocation `json:"revocation"`
}

// DSSToken is what signatures and time-stamps share in DSS's simple report:
// the verdict, the messages of the AdES validation (ETSI EN 319 102-1), the
// certificate chain, and the PDF signature field(s) holding the token.
type DSSToken struct {
	ID               string           `json:"id"`
	Indication       string           `json:"indication"`
	SubIndication    string           `json:"subIndication"`
	Errors           []DSSMessage     `json:"errors"`
	Warnings         []DSSMessage     `json:"warnings"`
	Infos            []DSSMessage     `json:"infos"`
	CertificateChain []DSSCertificate `json:"certificateChain"`
	FieldNames       []string         `json:"fieldNames"`
	SubFilter        string           `json:"subFilter"`
	// DocMDP is the certification permission, for a certification
	// signature (e.g. "MINIMAL_CHANGES_PERMITTED").
	DocMDP string `json:"docMDP"`
}

// DSSSignature is one signature: its token, the format DSS recognises
// (e.g. "PAdES-BASELINE-B") and its signature time-stamps.
type DSSSignature struct {
	DSSToken
	SignatureFormat   string         `json:"signatureFormat"`
	SignedBy          string         `json:"signedBy"`
	SigningTime       time.Time      `json:"signingTime"`
	BestSignatureTime time.Time      `json:"bestSignatureTime"`
	Scopes            []DSSScope     `json:"scopes"`
	Timestamps        []DSSTimestamp `json:"timestamps"`
}

// DSSTimestamp is a signature or document time-stamp.
type DSSTimestamp struct {
	DSSToken
	Type           string    `json:"type"`
	ProductionTime time.Time `json:"productionTime"`
	ProducedBy     string    `json:"producedBy"`
}

// DSSMessage is one error, warning or information, with DSS's message key
// (e.g. "BBB_XCV_ISCR_ANS").
type DSSMessage struct {
	Key  string `json:"key"`
	Text string `json:"text"`
}

func (m DSSMessage) String() string { return m.Key + ": " + m.Text }

// DSSCertificate is one certificate of a token's chain.
type DSSCertificate struct {
	ID      string `json:"id"`
	Name    string `json:"name"`
	Trusted bool   `json:"trusted"`
}

// DSSScope is what part of the document a signature covers.
type DSSScope struct {
	Name        string `json:"name"`
	Scope       string `json:"scope"`
	Description string `json:"description"`
}

// DSSRevocation is a CRL or OCSP response DSS used, and where it came from
// ("EXTERNAL" for one handed to it with --crl or --ocsp).
type DSSRevocation struct {
	ID         string    `json:"id"`
	Type       string    `json:"type"`
	Origin     string    `json:"origin"`
	ThisUpdate time.Time `json:"thisUpdate"`
	ProducedBy string    `json:"producedBy"`
}

// Validate runs DSS once over pdfs with the PEM files trustPEMs as trust
// anchors, and crls and ocsps (DER CRLs and OCSP responses) as the only
// revocation data DSS can find beyond what the PDFs embed. It returns one
// report per PDF, in order, and fails t if DSS cannot run or validate a
// file at all; the verdicts are the caller's to assert.
func (d *DSSRunner) Validate(t testing.TB, trustPEMs []string, crls, ocsps [][]byte, pdfs ...string) []DSSFileReport {
	t.Helper()
	dir := t.TempDir()
	var args []string
	for _, p := range trustPEMs {
		args = append(args, "--trust", p)
	}
	for i, b := range crls {
		args = append(args, "--crl", writeFile(t, dir, fmt.Sprintf("crl-%d.crl", i), b))
	}
	for i, b := range ocsps {
		args = append(args, "--ocsp", writeFile(t, dir, fmt.Sprintf("ocsp-%d.der", i), b))
	}
	args = append(args, pdfs...)
	argv := append(append([]string{}, d.argv...), args...)
	cmd := Command(t, argv[0], argv[1:]...)
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	start := time.Now()
	err := cmd.Run()
	t.Logf("DSS validated %d PDF(s) in %v", len(pdfs), time.Since(start).Round(time.Millisecond))
	var exit *exec.ExitError
	if err != nil && !(errors.As(err, &exit) && exit.ExitCode() == 1) {
		t.Fatalf("%s: %v\n%s", strings.Join(argv, " "), err, stderr.Bytes())
	}
	var rep DSSReport
	if err := json.Unmarshal(stdout.Bytes(), &rep); err != nil {
		t.Fatalf("DSS printed no report (%v):\nstdout: %s\nstderr: %s", err, stdout.Bytes(), stderr.Bytes())
	}
	if len(rep.Files) != len(pdfs) {
		t.Fatalf("DSS reported %d files, want %d", len(rep.Files), len(pdfs))
	}
	for _, f := range rep.Files {
		if f.Error != "" {
			t.Errorf("DSS could not validate %s: %s\nstderr: %s", f.File, f.Error, stderr.Bytes())
		}
	}
	return rep.Files
}

func writeFile(t testing.TB, dir, name string, b []byte) string {
	t.Helper()
	p := filepath.Join(dir, name)
	if err := os.WriteFile(p, b, 0o600); err != nil {
		t.Fatal(err)
	}
	return p
}

// AssertDSSPassed asserts that DSS judges every signature in r TOTAL_PASSED
// with no error, in the format wantFormat (e.g. "PAdES-BASELINE-B"), and
// every time-stamp PASSED; it logs DSS's warnings. It reports what DSS
// said, message keys included, for each that did not pass.
func AssertDSSPassed(t testing.TB, r DSSFileReport, wantFormat string) {
	t.Helper()
	if r.Error != "" {
		t.Errorf("%s: DSS could not validate it: %s", r.File, r.Error)
		return
	}
	if len(r.Signatures) == 0 {
		t.Errorf("%s: DSS found no signature", r.File)
	}
	for _, s := range r.Signatures {
		if s.Indication != DSSTotalPassed || len(s.Errors) > 0 {
			t.Errorf("%s: DSS: signature %s (fields %v, by %s) is %s/%s, want %s:\n%s",
				r.File, s.ID, s.FieldNames, s.SignedBy, s.Indication, s.SubIndication, DSSTotalPassed, s.Describe())
		}
		if s.SignatureFormat != wantFormat {
			t.Errorf("%s: DSS: signature %s (fields %v) has format %s, want %s", r.File, s.ID, s.FieldNames, s.SignatureFormat, wantFormat)
		}
		if s.Indication == DSSTotalPassed && len(s.Warnings) > 0 {
			t.Logf("%s: DSS warns of signature %s (fields %v):\n%s", r.File, s.ID, s.FieldNames, s.Describe())
		}
		for _, ts := range s.Timestamps {
			assertTimestamp(t, r.File, ts)
		}
	}
	for _, ts := range r.DocumentTimestamps {
		assertTimestamp(t, r.File, ts)
	}
}

func assertTimestamp(t testing.TB, file string, ts DSSTimestamp) {
	t.Helper()
	if ts.Indication != DSSPassed || len(ts.Errors) > 0 {
		t.Errorf("%s: DSS: %s time-stamp %s is %s/%s, want %s:\n%s", file, ts.Type, ts.ID, ts.Indication, ts.SubIndication, DSSPassed, ts.Describe())
	} else if len(ts.Warnings) > 0 {
		t.Logf("%s: DSS warns of %s time-stamp %s:\n%s", file, ts.Type, ts.ID, ts.Describe())
	}
}

// Describe lists the token's errors, warnings and information, one a line.
func (tok DSSToken) Describe() string {
	var b strings.Builder
	for _, l := range []struct {
		kind string
		ms   []DSSMessage
	}{{"error", tok.Errors}, {"warning", tok.Warnings}, {"info", tok.Infos}} {
		for _, m := range l.ms {
			fmt.Fprintf(&b, "  %s %s\n", l.kind, m)
		}
	}
	return b.String()
}
