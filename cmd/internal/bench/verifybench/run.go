package verifybench

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"sort"
	"strings"
	"time"

	"github.com/kyso-pki/kyso/pkg/verify"
)

// Names of Result rows.
const (
	// RowKyso is verify.Verify in this process, offline, on the file.
	RowKyso = "kyso"
	// RowKysoCLI is `kyso verify --offline` in a child process.
	RowKysoCLI = "kyso-cli"
	// RowPdfsig is poppler's `pdfsig -nssdir … -no-ocsp`.
	RowPdfsig = "pdfsig"
	// RowPyhanko is `pyhanko sign validate`.
	RowPyhanko = "pyhanko"
)

// Rows lists the row names in the order they are measured and printed.
var Rows = []string{RowKyso, RowKysoCLI, RowPdfsig, RowPyhanko}

// Tools are the programs the child rows run; empty ones are looked up in
// PATH (Kyso is not: without it the kyso-cli row fails).
type Tools struct {
	Kyso, Pdfsig, Pyhanko string
	// Certutil (libnss3-tools) makes pdfsig's NSS database.
	Certutil string
}

func (t *Tools) lookPath() {
	for _, p := range []struct {
		path *string
		name string
	}{{&t.Pyhanko, "pyhanko"}, {&t.Pdfsig, "pdfsig"}, {&t.Certutil, "certutil"}} {
		if *p.path == "" {
			*p.path, _ = exec.LookPath(p.name)
		}
	}
}

// Options configure Run.
type Options struct {
	// Signatures are the documents, by their number of signatures; nil
	// means DefaultSignatures.
	Signatures []int
	// Runs is how many times each row is timed, round-robin; zero means 5.
	Runs int
	// Dir receives the CA, the documents and pdfsig's NSS database.
	// Required; the caller removes it.
	Dir string
	// Tools are the outside programs.
	Tools Tools
	// Progress, when set, is called with each row once it is measured.
	Progress func(Result)
}

// Result is one row: one validator on one document.
type Result struct {
	// Doc names the document ("1sig", "5sig"); Signatures and FileBytes
	// describe it.
	Doc        string `json:"doc"`
	Signatures int    `json:"signatures"`
	FileBytes  int64  `json:"file_bytes"`
	// Name is the row: RowKyso, RowKysoCLI, RowPdfsig or RowPyhanko.
	Name  string `json:"name"`
	Child bool   `json:"child"`
	// Runs is how many times the row was timed; Best and Median are the
	// fastest and the median wall time, seconds.
	Runs   int     `json:"runs"`
	Best   float64 `json:"best_seconds"`
	Median float64 `json:"median_seconds"`
	// Ratios holds Best over the Best of other rows of the same document,
	// keyed by the other row: kyso-cli over kyso; a peer over kyso-cli
	// (both child processes) and over kyso. Set by Ratios.
	Ratios map[string]float64 `json:"ratios,omitempty"`
	// Verdict is what the validator said of the document, checked: every
	// signature valid.
	Verdict string `json:"verdict,omitempty"`
	// Note says what the row runs.
	Note string `json:"note,omitempty"`
	// Err is why the row failed: the command's error and output, or a
	// verdict that is not every signature valid.
	Err string `json:"error,omitempty"`
}

func (r *Result) ok() bool { return r.Err == "" && r.Best > 0 }

// Report is what Run returns and `kyso bench verify --output json` prints.
type Report struct {
	CPUs     int      `json:"cpus"`
	Platform string   `json:"platform"`
	Go       string   `json:"go"`
	Runs     int      `json:"runs"`
	Rows     []Result `json:"rows"`
	Notes    []string `json:"notes,omitempty"`
}

// runner is one row being measured.
type runner struct {
	name, note string
	child      bool
	// in runs the row once in this process and returns its verdict; argv
	// builds the command line and check reads the verdict from its output.
	in    func(ctx context.Context, d Doc) (string, error)
	argv  func(d Doc) []string
	check func(d Doc, out []byte) (string, error)

	times   []float64
	verdict string
	errMsg  string
}

// Run makes the documents and measures every row on each. Rows that
// cannot run are in the report with their error; Run itself fails only
// when there is nothing to measure (no CA, no document).
func Run(ctx context.Context, o *Options) (*Report, error) {
	opts := *o
	if opts.Dir == "" {
		return nil, errors.New("verifybench: Options.Dir is required")
	}
	if opts.Signatures == nil {
		opts.Signatures = DefaultSignatures
	}
	if opts.Runs <= 0 {
		opts.Runs = 5
	}
	opts.Tools.lookPath()
	p, docs, err := MakeDocs(ctx, opts.Dir, opts.Signatures)
	if err != nil {
		return nil, err
	}
	nss, nssErr := nssDB(opts.Dir, opts.Tools.Certutil, p.RootFile)
	rep := &Report{CPUs: runtime.NumCPU(), Platform: runtime.GOOS + "/" + runtime.GOARCH, Go: runtime.Version(), Runs: opts.Runs}
	rep.Notes = []string{
		"Every document is a one-page form signed at PAdES B-T by P-256 citizens of one throwaway CA (ECDSA P-384 root and issuing CA), one incremental update per signature, then extended to B-LT: its DSS holds the chain's certificates and OCSP responses, and every row validates offline against the root alone.",
		"Times are wall clock on whatever else the machine is running; the best of the runs is what the ratios compare.",
	}
	for _, d := range docs {
		rows := runners(p, &opts.Tools, nss, nssErr)
		for range opts.Runs {
			if err := ctx.Err(); err != nil {
				return nil, fmt.Errorf("verifybench: %w", err)
			}
			for _, r := range rows {
				if r.errMsg == "" {
					r.measure(ctx, d)
				}
			}
		}
		for _, r := range rows {
			res := r.result(d)
			if opts.Progress != nil {
				opts.Progress(res)
			}
			rep.Rows = append(rep.Rows, res)
		}
	}
	Ratios(rep.Rows)
	return rep, nil
}

func runners(p *PKI, t *Tools, nss string, nssErr error) []*runner {
	rs := []*runner{
		{name: RowKyso, note: "in this process: verify.Verify on the *os.File, Options.Fetcher nil (offline)",
			in: func(ctx context.Context, d Doc) (string, error) { return kysoVerify(ctx, p, d) }},
		{name: RowKysoCLI, child: true, note: "kyso verify --offline --trust ROOT.pem --output json: process start-up included",
			argv: func(d Doc) []string {
				return []string{t.Kyso, "verify", "--offline", "--trust", p.RootFile, "--output", "json", d.Path}
			},
			check: checkKysoCLI},
		{name: RowPdfsig, child: true,
			note: "pdfsig -nssdir DB -no-ocsp, the root trusted in DB: checks integrity and the chain; it reads no DSS and checks no revocation without OCSP",
			argv: func(d Doc) []string { return []string{t.Pdfsig, "-nssdir", nss, "-no-ocsp", d.Path} }, check: checkPdfsig},
		{name: RowPyhanko, child: true,
			note: "pyhanko sign validate --trust ROOT.pem --trust-replace --no-revocation-check: Python start-up and imports included; " +
				"its validate reads no revocation data from the DSS and cannot fetch it from the test CA's host, so it runs without revocation checking — less work than kyso",
			argv: func(d Doc) []string {
				return []string{t.Pyhanko, "sign", "validate", "--trust", p.RootFile, "--trust-replace", "--no-revocation-check", d.Path}
			},
			check: checkPyhanko},
	}
	for _, r := range rs {
		switch {
		case r.name == RowKysoCLI && t.Kyso == "":
			r.errMsg = "no kyso binary to run"
		case r.name == RowPyhanko && t.Pyhanko == "":
			r.errMsg = "pyhanko not found: set KYSO_PYHANKO or put pyhanko in PATH (pip install pyhanko pyhanko-cli; scripts/test.sh does)"
		case r.name == RowPdfsig && t.Pdfsig == "":
			r.errMsg = "pdfsig not found (apt-get install poppler-utils)"
		case r.name == RowPdfsig && nssErr != nil:
			r.errMsg = nssErr.Error()
		}
	}
	return rs
}

// measure runs r once on d, timing it, and checks its verdict.
func (r *runner) measure(ctx context.Context, d Doc) {
	var verdict string
	var el time.Duration
	var err error
	if !r.child {
		start := time.Now()
		verdict, err = r.in(ctx, d)
		el = time.Since(start)
	} else {
		argv := r.argv(d)
		cmd := exec.CommandContext(ctx, argv[0], argv[1:]...)
		// The verdict is read from stdout alone: a library's warning on
		// stderr must not change it.
		var out, stderr bytes.Buffer
		cmd.Stdout, cmd.Stderr = &out, &stderr
		start := time.Now()
		err = cmd.Run()
		el = time.Since(start)
		if err != nil {
			err = fmt.Errorf("%s: %v\n%s\nstderr: %s", filepath.Base(argv[0]), err, tail(out.Bytes()), tail(stderr.Bytes()))
		} else {
			verdict, err = r.check(d, out.Bytes())
		}
	}
	if err != nil {
		r.errMsg = err.Error()
		return
	}
	r.times = append(r.times, el.Seconds())
	r.verdict = verdict
}

func (r *runner) result(d Doc) Result {
	res := Result{Doc: d.Name, Signatures: d.Signatures, FileBytes: d.Bytes, Name: r.name, Child: r.child,
		Runs: len(r.times), Verdict: r.verdict, Note: r.note, Err: r.errMsg}
	if len(r.times) > 0 {
		ts := append([]float64(nil), r.times...)
		sort.Float64s(ts)
		res.Best = ts[0]
		if n := len(ts); n%2 == 1 {
			res.Median = ts[n/2]
		} else {
			res.Median = (ts[n/2-1] + ts[n/2]) / 2
		}
	}
	return res
}

// kysoVerify validates d offline and requires every signature to pass at
// level B-LT.
func kysoVerify(ctx context.Context, p *PKI, d Doc) (string, error) {
	f, err := os.Open(d.Path)
	if err != nil {
		return "", err
	}
	defer f.Close()
	fi, err := f.Stat()
	if err != nil {
		return "", err
	}
	rep, err := verify.Verify(ctx, f, fi.Size(), &verify.Options{Roots: p.Roots})
	if err != nil {
		return "", err
	}
	if len(rep.Signatures) != d.Signatures {
		return "", fmt.Errorf("kyso found %d signatures, want %d", len(rep.Signatures), d.Signatures)
	}
	for i, s := range rep.Signatures {
		if s.Indication != verify.TotalPassed || s.Level != verify.LevelBLT {
			return "", fmt.Errorf("kyso: signature %d is %s %s at level %q, want TOTAL-PASSED at %s: %s",
				i+1, s.Indication, s.SubIndication, s.Level, verify.LevelBLT, strings.Join(s.Reasons, "; "))
		}
	}
	return fmt.Sprintf("%d× %s %s", d.Signatures, verify.TotalPassed, verify.LevelBLT), nil
}

func checkKysoCLI(d Doc, out []byte) (string, error) {
	var rep verify.Report
	if err := json.Unmarshal(out, &rep); err != nil {
		return "", fmt.Errorf("kyso verify --output json: %v:\n%s", err, tail(out))
	}
	n := 0
	for _, s := range rep.Signatures {
		if s.Indication == verify.TotalPassed && s.Level == verify.LevelBLT {
			n++
		}
	}
	if n != d.Signatures || len(rep.Signatures) != n {
		return "", fmt.Errorf("kyso verify: %d of %d signatures TOTAL-PASSED at %s, want %d:\n%s", n, len(rep.Signatures), verify.LevelBLT, d.Signatures, tail(out))
	}
	return fmt.Sprintf("%d× %s %s", n, verify.TotalPassed, verify.LevelBLT), nil
}

func checkPdfsig(d Doc, out []byte) (string, error) {
	valid := bytes.Count(out, []byte("Signature Validation: Signature is Valid."))
	trusted := bytes.Count(out, []byte("Certificate Validation: Certificate is Trusted."))
	if valid != d.Signatures || trusted != d.Signatures {
		return "", fmt.Errorf("pdfsig: %d valid and %d trusted signatures, want %d:\n%s", valid, trusted, d.Signatures, tail(out))
	}
	return fmt.Sprintf("%d× valid, trusted", d.Signatures), nil
}

func checkPyhanko(d Doc, out []byte) (string, error) {
	// Exit status 0 already means every signature validated; one summary
	// line per signature, INTACT:TRUSTED,… for each.
	n := bytes.Count(out, []byte(":INTACT:TRUSTED"))
	if n != d.Signatures {
		return "", fmt.Errorf("pyhanko: %d signatures INTACT:TRUSTED, want %d:\n%s", n, d.Signatures, tail(out))
	}
	return fmt.Sprintf("%d× INTACT:TRUSTED", d.Signatures), nil
}

// nssDB makes pdfsig's NSS database in dir, trusting the root.
func nssDB(dir, certutil, root string) (string, error) {
	if certutil == "" {
		return "", errors.New("verifybench: certutil not found (apt-get install libnss3-tools)")
	}
	db := filepath.Join(dir, "nss")
	if err := os.MkdirAll(db, 0o700); err != nil {
		return "", fmt.Errorf("verifybench: %w", err)
	}
	for _, args := range [][]string{
		{"-N", "-d", "sql:" + db, "--empty-password"},
		{"-A", "-n", "kyso-bench-root", "-t", "CT,C,C", "-i", root, "-d", "sql:" + db},
	} {
		cmd := exec.Command(certutil, args...)
		cmd.Stdin = strings.NewReader("")
		if out, err := cmd.CombinedOutput(); err != nil {
			return "", fmt.Errorf("verifybench: certutil %s: %v\n%s", args[0], err, out)
		}
	}
	return "sql:" + db, nil
}

// tail is the end of a command's output, for an error message.
func tail(b []byte) string {
	const n = 2000
	b = bytes.TrimSpace(b)
	if len(b) > n {
		b = append([]byte("…"), b[len(b)-n:]...)
	}
	return string(b)
}
