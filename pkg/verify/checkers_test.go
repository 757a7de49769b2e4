package verify_test

import (
	"bytes"
	"encoding/json"
	"encoding/pem"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"crypto/x509"

	"github.com/kyso-pki/kyso/internal/testenv"
	"github.com/kyso-pki/kyso/pkg/verify"
)

// verdict is a checker's judgement of one signature, brought down to the
// three main indications of ETSI EN 319 102-1 clause 5.1.2 so that
// validators with different vocabularies can be compared.
type verdict string

const (
	vPass  verdict = "pass"
	vIndet verdict = "indeterminate"
	vFail  verdict = "fail"
	// vAbsent: the checker did not report this signature at all.
	vAbsent verdict = "absent"
)

// kysoVerdict maps kyso's indication.
func kysoVerdict(s *verify.Signature) verdict {
	switch s.Indication {
	case verify.TotalPassed:
		return vPass
	case verify.TotalFailed:
		return vFail
	}
	return vIndet
}

// writeFile writes data to dir/name and returns the path.
func writeFile(t *testing.T, dir, name string, data []byte) string {
	t.Helper()
	p := filepath.Join(dir, name)
	if err := os.WriteFile(p, data, 0o600); err != nil {
		t.Fatal(err)
	}
	return p
}

// writePEM writes certificates to a PEM file under dir.
func writePEM(t *testing.T, dir, name string, certs ...*x509.Certificate) string {
	t.Helper()
	var b bytes.Buffer
	for _, c := range certs {
		pem.Encode(&b, &pem.Block{Type: "CERTIFICATE", Bytes: c.Raw})
	}
	return writeFile(t, dir, name, b.Bytes())
}

// pyhankoValidate is run by pyHanko's own interpreter. `pyhanko sign
// validate` cannot be given CRLs or OCSP responses from files (its
// validation contexts take trust roots and certificates only, and its
// fetchers cannot be pointed at the test CA's host), so the script calls
// what that command calls — validate_pdf_signature and
// validate_pdf_timestamp with a ValidationContext — with the revocation
// data handed to it, fetching nothing, hard-failing on missing revocation
// data, and prints what pyHanko found of each signature as JSON. A file
// its strict reader refuses (poppler's pdfsig writes an object of
// generation 1 with no free generation 0 before it, legal but refused) is
// read again non-strictly, as `pyhanko sign validate --no-strict-syntax`
// does, and the refusal kept as nonstrict. An encrypted file is opened
// with the empty user password.
const pyhankoValidate = `
import json, sys
from pyhanko.keys import load_certs_from_pemder
from pyhanko.pdf_utils.misc import PdfStrictReadError
from pyhanko.pdf_utils.reader import PdfFileReader
from pyhanko.sign.validation import validate_pdf_signature, validate_pdf_timestamp
from pyhanko_certvalidator import ValidationContext

req = json.load(sys.stdin)
roots = list(load_certs_from_pemder(req['trust']))
crls = [open(p, 'rb').read() for p in req['crls']]
ocsps = [open(p, 'rb').read() for p in req['ocsps']]

def vc():
    return ValidationContext(trust_roots=roots, crls=crls, ocsps=ocsps,
                             allow_fetching=False, revocation_mode='hard-fail')

def name(e):
    return None if e is None else type(e).__name__ + '.' + e.name

def tst(s):
    if s is None:
        return None
    return {'intact': s.intact, 'valid': s.valid, 'trusted': s.trusted,
            'trust_problem': name(s.trust_problem_indic)}

out = []
for path in req['files']:
    res = {'file': path, 'signatures': []}
    out.append(res)
    try:
        def read(strict):
            r = PdfFileReader(open(path, 'rb'), strict=strict)
            if r.encrypted:
                r.decrypt(b'')  # the empty user password, as validate's prompt takes
            return list(r.embedded_signatures)
        try:
            sigs = read(True)
        except PdfStrictReadError as e:
            # What "pyhanko sign validate --no-strict-syntax" does.
            res['nonstrict'] = str(e)
            sigs = read(False)
    except Exception as e:
        res['error'] = '%s: %s' % (type(e).__name__, e)
        continue
    for sig in sigs:
        d = {'field': sig.field_name}
        res['signatures'].append(d)
        try:
            if sig.sig_object_type == '/DocTimeStamp':
                d['kind'] = 'timestamp'
                st = validate_pdf_timestamp(sig, validation_context=vc())
                d['bottom_line'] = st.intact and st.valid and st.trusted
            else:
                d['kind'] = 'signature'
                st = validate_pdf_signature(sig, signer_validation_context=vc())
                d['bottom_line'] = st.bottom_line
                d['timestamp'] = tst(st.timestamp_validity)
            d.update(intact=st.intact, valid=st.valid, trusted=st.trusted,
                     revoked=st.revoked, trust_problem=name(st.trust_problem_indic),
                     coverage=name(st.coverage), docmdp_ok=st.docmdp_ok,
                     modification_level=name(st.modification_level))
            if st.diff_result is not None and not hasattr(st.diff_result, 'modification_level'):
                d['suspicious'] = str(st.diff_result)
        except Exception as e:
            d['error'] = '%s: %s' % (type(e).__name__, e)
json.dump(out, sys.stdout)
`

// pySig is what the script prints of one signature.
type pySig struct {
	Field             string `json:"field"`
	Kind              string `json:"kind"`
	Error             string `json:"error"`
	BottomLine        bool   `json:"bottom_line"`
	Intact            bool   `json:"intact"`
	Valid             bool   `json:"valid"`
	Trusted           bool   `json:"trusted"`
	Revoked           bool   `json:"revoked"`
	TrustProblem      string `json:"trust_problem"`
	Coverage          string `json:"coverage"`
	DocMDPOK          *bool  `json:"docmdp_ok"`
	ModificationLevel string `json:"modification_level"`
	Suspicious        string `json:"suspicious"`
	Timestamp         *struct {
		Intact, Valid, Trusted bool
		TrustProblem           string `json:"trust_problem"`
	} `json:"timestamp"`
}

type pyFile struct {
	File       string  `json:"file"`
	Error      string  `json:"error"`
	NonStrict  string  `json:"nonstrict"`
	Signatures []pySig `json:"signatures"`
}

// runPyhanko validates files with pyHanko against the PEM trust anchors
// in trust and the DER CRLs and OCSP responses given, offline.
func runPyhanko(t *testing.T, trust, crls, ocsps, files []string) []pyFile {
	t.Helper()
	py := testenv.PyHankoPython(t)
	script := filepath.Join(t.TempDir(), "validate.py")
	if err := os.WriteFile(script, []byte(pyhankoValidate), 0o600); err != nil {
		t.Fatal(err)
	}
	req, _ := json.Marshal(map[string][]string{"trust": trust, "crls": crls, "ocsps": ocsps, "files": files})
	cmd := testenv.Command(t, py, script)
	cmd.Stdin = bytes.NewReader(req)
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	if err := cmd.Run(); err != nil {
		t.Fatalf("pyHanko: %v\n%s", err, stderr.Bytes())
	}
	var out []pyFile
	if err := json.Unmarshal(stdout.Bytes(), &out); err != nil || len(out) != len(files) {
		t.Fatalf("pyHanko printed no report for %d files (%v):\n%s\n%s", len(files), err, stdout.Bytes(), stderr.Bytes())
	}
	return out
}

// pyhankoVerdict maps pyHanko's status of a signature: not intact or not
// valid (the CMS signature), coverage that is neither the entire file nor
// the entire revision, or modifications its difference analysis finds
// against the document's modification policy (docmdp_ok false) fail; an
// error while validating it fails (the signature cannot be read); a trust
// problem is the AdES sub-indication pyHanko gives (AdESFailure fails,
// AdESIndeterminate is indeterminate); a signature time-stamp that is not
// valid and trusted, or a bottom line that is not VALID for another
// reason, is indeterminate.
func pyhankoVerdict(s pySig) (verdict, string) {
	switch {
	case s.Error != "":
		return vFail, "error: " + s.Error
	case !s.Intact:
		return vFail, "not intact"
	case !s.Valid:
		return vFail, "signature not valid"
	case s.Coverage != "SignatureCoverageLevel.ENTIRE_FILE" && s.Coverage != "SignatureCoverageLevel.ENTIRE_REVISION":
		return vFail, "coverage " + s.Coverage
	case s.DocMDPOK != nil && !*s.DocMDPOK:
		why := "illegal modifications: " + s.ModificationLevel
		if s.Suspicious != "" {
			why += " (" + s.Suspicious + ")"
		}
		return vFail, why
	case strings.HasPrefix(s.TrustProblem, "AdESFailure."):
		return vFail, s.TrustProblem
	case s.TrustProblem != "":
		return vIndet, s.TrustProblem
	case s.Revoked:
		return vFail, "revoked"
	case s.Timestamp != nil && !(s.Timestamp.Intact && s.Timestamp.Valid && s.Timestamp.Trusted):
		return vIndet, "signature time-stamp not valid: " + s.Timestamp.TrustProblem
	case !s.BottomLine:
		return vIndet, "bottom line INVALID"
	case !s.Trusted:
		return vIndet, "untrusted"
	}
	why := "intact, valid, trusted"
	if s.Coverage == "SignatureCoverageLevel.ENTIRE_REVISION" {
		why += "; " + s.ModificationLevel
	}
	return vPass, why
}

// dssVerdict maps DSS's indication.
func dssVerdict(ind string) verdict {
	switch ind {
	case testenv.DSSTotalPassed, testenv.DSSPassed:
		return vPass
	case testenv.DSSTotalFailed, testenv.DSSFailed:
		return vFail
	case testenv.DSSIndeterminate:
		return vIndet
	}
	return vAbsent
}

// newNSSDB makes an NSS database trusting the PEM roots and holding the
// DER CRLs, for pdfsig.
func newNSSDB(t *testing.T, roots, crls []string) string {
	t.Helper()
	certutil := testenv.LookPath(t, "certutil", "apt-get install libnss3-tools")
	db := filepath.Join(t.TempDir(), "nss")
	if err := os.MkdirAll(db, 0o700); err != nil {
		t.Fatal(err)
	}
	args := [][]string{{"-N", "-d", "sql:" + db, "--empty-password"}}
	for i, r := range roots {
		args = append(args, []string{"-A", "-n", fmt.Sprintf("root-%d", i), "-t", "CT,C,C", "-i", r, "-d", "sql:" + db})
	}
	for _, a := range args {
		cmd := exec.Command(certutil, a...)
		cmd.Stdin = strings.NewReader("")
		if out, err := cmd.CombinedOutput(); err != nil {
			t.Fatalf("certutil %s: %v\n%s", strings.Join(a, " "), err, out)
		}
	}
	crlutil := testenv.LookPath(t, "crlutil", "apt-get install libnss3-tools")
	for _, c := range crls {
		a := []string{"-I", "-i", c, "-d", "sql:" + db, "-B"}
		cmd := exec.Command(crlutil, a...)
		cmd.Stdin = strings.NewReader("")
		if out, err := cmd.CombinedOutput(); err != nil {
			t.Fatalf("crlutil %s: %v\n%s", strings.Join(a, " "), err, out)
		}
	}
	return "sql:" + db
}

// pdfsigSig is what pdfsig says of one signature.
type pdfsigSig struct {
	field string
	text  string
}

var pdfsigField = regexp.MustCompile(`(?m)^\s*- Signature Field Name: (.*)$`)

// runPdfsig runs pdfsig with the NSS database (its trust anchors and
// CRLs) and no OCSP (its client cannot reach the test CA's host), and
// splits its report per signature; err is set when pdfsig gave up on the
// file.
func runPdfsig(t *testing.T, nssdb, path string) ([]pdfsigSig, string) {
	t.Helper()
	bin := testenv.LookPath(t, "pdfsig", "apt-get install poppler-utils")
	out, errOut, err := testenv.Run(exec.Command(bin, "-nssdir", nssdb, "-no-ocsp", path))
	parts := regexp.MustCompile(`(?m)^Signature #\d+:`).Split(out, -1)
	var sigs []pdfsigSig
	for _, p := range parts[1:] {
		s := pdfsigSig{text: p}
		if m := pdfsigField.FindStringSubmatch(p); m != nil {
			s.field = strings.TrimSpace(m[1])
		}
		sigs = append(sigs, s)
	}
	if err != nil || len(sigs) == 0 {
		return sigs, fmt.Sprintf("%v: %s\nstderr: %s", err, strings.TrimSpace(out), strings.TrimSpace(errOut))
	}
	return sigs, ""
}

// pdfsigVerdict maps pdfsig's two lines: a signature it did not verify is
// indeterminate; one that is not valid (digest mismatch, invalid, unknown
// failure) fails; a valid one whose
// certificate is revoked fails; one whose certificate is not trusted,
// expired or otherwise unverifiable is indeterminate.
func pdfsigVerdict(s pdfsigSig) (verdict, string) {
	line := func(prefix string) string {
		for _, l := range strings.Split(s.text, "\n") {
			if v, ok := strings.CutPrefix(strings.TrimSpace(l), prefix); ok {
				return strings.TrimSpace(v)
			}
		}
		return ""
	}
	sig, cert := line("- Signature Validation:"), line("- Certificate Validation:")
	why := sig + " / " + cert
	if strings.Contains(s.text, "Total document signed") {
		why += " / total document signed"
	} else if strings.Contains(s.text, "Not total document signed") {
		why += " / not total document signed"
	}
	switch {
	case sig == "Signature has not yet been verified.":
		return vIndet, why
	case sig != "Signature is Valid.":
		return vFail, why
	case cert == "Certificate is Trusted.":
		return vPass, why
	case strings.Contains(cert, "Revoked"):
		return vFail, why
	}
	return vIndet, why
}
