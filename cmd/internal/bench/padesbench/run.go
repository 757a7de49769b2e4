package padesbench

import (
	"bytes"
	"context"
	"crypto"
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha256"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"runtime"
	"sort"
	"strings"
	"time"

	"github.com/kyso-pki/kyso/cmd/internal/bench"
	"github.com/kyso-pki/kyso/pkg/pades"
)

// Options configure Run.
type Options struct {
	// Sizes are the documents; nil means DefaultSizes.
	Sizes []Size
	// Runs is how many times each row is timed; zero means 3.
	Runs int
	// Key is KeyP256 (the default when empty) or KeyRSA2048.
	Key string
	// Dir receives the documents, the PKI and the outputs. Required; the
	// caller removes it.
	Dir string
	// Tools are the outside programs; empty paths are looked up in PATH,
	// and an empty Kyso fails the two child rows of kyso.
	Tools Tools
	// Progress, when set, is called with each row once it is measured.
	Progress func(Result)
}

// Run makes the PKI and the documents and measures every row on each.
// Rows that cannot run are in the report with their error; Run itself
// fails only when there is nothing to measure with (no PKI, no document).
func Run(ctx context.Context, o *Options) (*Report, error) {
	opts := *o
	if opts.Dir == "" {
		return nil, errors.New("padesbench: Options.Dir is required")
	}
	if opts.Sizes == nil {
		opts.Sizes = DefaultSizes
	}
	if opts.Runs <= 0 {
		opts.Runs = 3
	}
	if opts.Key == "" {
		opts.Key = KeyP256
	}
	opts.Tools.lookPath()
	t := &opts.Tools
	p, err := NewPKI(ctx, filepath.Join(opts.Dir, "pki"), opts.Key)
	if err != nil {
		return nil, err
	}
	nss, nssErr := p.NSS(t)
	rep := &Report{Machine: bench.ThisMachine(), Key: string(p.Alg), Runs: opts.Runs}
	rep.Notes = []string{
		"Times are wall clock on whatever else the machine is running: with other work on it they are noisy; the best of the runs is what the ratios compare.",
		fmt.Sprintf("Every row signs with an %s key and a citizen certificate from one throwaway CA (pkg/ca/catest); the CMS carries the issuing CA.", p.Alg),
		"A one-page document is smaller than any process: its RSS/file says nothing, compare peak RSS with floor-cli instead.",
	}
	if p.Alg.IsRSA() {
		rep.Notes = append(rep.Notes, "RSA: kyso and the floor sign with RSASSA-PSS, pyHanko with --prefer-pss, pdfsig (NSS) with PKCS#1 v1.5.")
	}

	for _, z := range opts.Sizes {
		in := filepath.Join(opts.Dir, z.Name+".pdf")
		size, err := WritePDF(in, z)
		if err != nil {
			return nil, err
		}
		rows := runners(p, t, nss, nssErr)
		for range opts.Runs {
			if err := ctx.Err(); err != nil {
				return nil, fmt.Errorf("padesbench: %w", err)
			}
			for _, r := range rows {
				if r.failed() {
					continue
				}
				out := filepath.Join(opts.Dir, z.Name+"-"+r.name+".pdf")
				os.Remove(out)
				r.measure(ctx, in, out)
			}
		}
		for _, r := range rows {
			res := r.result(z.Name, size)
			out := filepath.Join(opts.Dir, z.Name+"-"+r.name+".pdf")
			if res.Err == "" && r.signs {
				res.Checked, err = check(ctx, t.Pdfsig, nss, out)
				if err != nil {
					res.Err = err.Error()
				}
			}
			os.Remove(out)
			if opts.Progress != nil {
				opts.Progress(res)
			}
			rep.Rows = append(rep.Rows, res)
		}
		os.Remove(in)
	}
	Ratios(rep.Rows)
	rep.Aims = Aims(rep.Rows)
	return rep, nil
}

// runner is one row being measured.
type runner struct {
	name  string
	child bool
	signs bool // the output is a signed PDF, for pdfsig to check
	note  string
	// in runs the row once in this process; argv builds its command line.
	in   func(ctx context.Context, in, out string) error
	argv func(in, out string) []string

	// retry, when set, is output that marks a known flaky failure: the
	// attempt is not timed, counted in retried, and made again.
	retry string

	times   []float64
	rss     int64
	sampled bool
	alloc   int64
	retried int
	errMsg  string
}

func (r *runner) failed() bool { return r.errMsg != "" }

func runners(p *PKI, t *Tools, nss string, nssErr error) []*runner {
	floorNote := "read the file once, hashing (SHA-256) and writing each block (1 MiB, or the file if smaller), then one signature over the digest, appended"
	rs := []*runner{
		{name: RowFloor, note: "in this process: " + floorNote,
			in: func(_ context.Context, in, out string) error { return Floor(in, out, p.Key) }},
		{name: RowKyso, signs: true, note: "in this process: pades.Sign (B-B) from an *os.File to an *os.File",
			in: func(ctx context.Context, in, out string) error { return signFile(ctx, in, out, p) }},
		{name: RowFloorCLI, child: true, note: "a kyso child process (kyso bench pdf --floor) that does the floor and exits",
			argv: func(in, out string) []string { return []string{t.Kyso, "bench", "pdf", "--floor", p.KeyFile, in, out} }},
		{name: RowKysoCLI, child: true, signs: true,
			note: "kyso sign pdf, B-B; its key is in the CA's softkey store (Argon2id t=1, 1 MiB), certified like the others' (softkey cannot import their PEM key)",
			argv: func(in, out string) []string {
				// As in the in-process rows: the PDF work against
				// pyHanko and pdfsig, which check nothing before signing.
				return []string{t.Kyso, "sign", "pdf", in, "-o", out, "--keystore", p.Keystore, "--key", p.KysoLabel, "--cert", p.KysoCertFile, "--chain", p.ChainFile, "--skip-signer-check"}
			}},
		{name: RowPyhanko, child: true, signs: true, note: "pyhanko sign addsig --use-pades … pemder: Python start-up and imports included",
			argv: func(in, out string) []string {
				a := []string{t.Pyhanko, "sign", "addsig", "--field", "Signature1", "--use-pades"}
				if p.Alg.IsRSA() {
					a = append(a, "--prefer-pss")
				}
				return append(a, "pemder", "--key", p.KeyFile, "--cert", p.CertFile, "--chain", p.ChainFile, "--no-pass", in, out)
			}},
		{name: RowPdfsig, child: true, signs: true, retry: "unable update signature",
			note: "pdfsig -add-signature, the key in an NSS database opened each run; adbe.pkcs7.detached, as poppler 22.12 refuses -etsi with -add-signature. " +
				"With ECDSA, poppler 22.12 sizes /Contents from a trial signature and fails (\"unable update signature\") when the real one's DER length differs: such attempts are made again, untimed, and counted",
			argv: func(in, out string) []string {
				return []string{t.Pdfsig, "-add-signature", "-nssdir", nss, "-nick", nssNick, "-new-signature-field-name", "Signature1", in, out}
			}},
	}
	for _, r := range rs {
		switch {
		case r.name == RowFloorCLI || r.name == RowKysoCLI:
			if t.Kyso == "" {
				r.errMsg = "no kyso binary to run"
			}
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

// measure runs r once, timing it, and records its memory.
func (r *runner) measure(ctx context.Context, in, out string) {
	if !r.child {
		runtime.GC()
		var before, after runtime.MemStats
		runtime.ReadMemStats(&before)
		start := time.Now()
		err := r.in(ctx, in, out)
		el := time.Since(start)
		runtime.ReadMemStats(&after)
		if err != nil {
			r.errMsg = err.Error()
			return
		}
		r.times = append(r.times, el.Seconds())
		r.alloc = max(r.alloc, int64(after.TotalAlloc-before.TotalAlloc))
		return
	}
	argv := r.argv(in, out)
	for attempt := 1; ; attempt++ {
		el, rss, sampled, output, err := runChild(ctx, argv)
		if err != nil && r.retry != "" && bytes.Contains(output, []byte(r.retry)) && attempt < maxAttempts {
			r.retried++
			continue
		}
		if err != nil {
			r.errMsg = fmt.Sprintf("%s: %v\n%s", filepath.Base(argv[0]), err, tail(output))
			return
		}
		r.times = append(r.times, el.Seconds())
		if rss > r.rss {
			r.rss, r.sampled = rss, sampled
		}
		return
	}
}

// maxAttempts bounds the attempts of a run of a row with a known flaky
// failure (runner.retry).
const maxAttempts = 50

// runChild runs argv and returns its wall time, its peak RSS and whether
// that was sampled (see Result.RSSSampled), and its output.
func runChild(ctx context.Context, argv []string) (time.Duration, int64, bool, []byte, error) {
	cmd := exec.CommandContext(ctx, argv[0], argv[1:]...)
	var output bytes.Buffer
	cmd.Stdout, cmd.Stderr = &output, &output
	start := time.Now()
	if err := cmd.Start(); err != nil {
		return 0, 0, false, nil, err
	}
	// The child has exec'd: from here this process's high-water mark only
	// grows, so it bounds what the child's ru_maxrss inherited.
	masked := vmHWM(os.Getpid())
	w := watchHWM(cmd.Process.Pid)
	err := cmd.Wait()
	el := time.Since(start)
	sampled := w.stop()
	if err != nil {
		return el, 0, false, output.Bytes(), err
	}
	if rss := maxRSS(cmd.ProcessState); rss > masked {
		return el, rss, false, output.Bytes(), nil
	}
	return el, sampled, true, output.Bytes(), nil
}

func (r *runner) result(size string, fileBytes int64) Result {
	res := Result{Size: size, FileBytes: fileBytes, Name: r.name, Child: r.child, Runs: len(r.times), Note: r.note, Err: r.errMsg}
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
	res.MaxRSS, res.RSSSampled, res.Alloc, res.Retried = r.rss, r.sampled, r.alloc, r.retried
	if r.rss > 0 && fileBytes > 0 {
		res.RSSPerFileByte = float64(r.rss) / float64(fileBytes)
	}
	return res
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

// Floor is the least a signer of the file in must do: read it, SHA-256 it,
// one signature over the digest, write it to out. It reads the file once
// through one buffer of 1 MiB (or the file's size, if smaller), writing
// each block as it hashes it, then appends the signature — RSA keys sign
// with RSASSA-PSS, as kyso does.
func Floor(in, out string, s crypto.Signer) error {
	f, err := os.Open(in)
	if err != nil {
		return fmt.Errorf("padesbench: floor: %w", err)
	}
	defer f.Close()
	w, err := os.Create(out)
	if err != nil {
		return fmt.Errorf("padesbench: floor: %w", err)
	}
	fi, err := f.Stat()
	if err == nil {
		err = floor(f, w, s, make([]byte, min(max(fi.Size(), 1), 1<<20)))
	}
	if cerr := w.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return fmt.Errorf("padesbench: floor: %w", err)
	}
	return nil
}

func floor(r io.Reader, w io.Writer, s crypto.Signer, buf []byte) error {
	h := sha256.New()
	for {
		n, err := r.Read(buf)
		if n > 0 {
			h.Write(buf[:n])
			if _, werr := w.Write(buf[:n]); werr != nil {
				return werr
			}
		}
		if err == io.EOF {
			break
		}
		if err != nil {
			return err
		}
	}
	var opts crypto.SignerOpts = crypto.SHA256
	if _, ok := s.Public().(*rsa.PublicKey); ok {
		opts = &rsa.PSSOptions{SaltLength: rsa.PSSSaltLengthEqualsHash, Hash: crypto.SHA256}
	}
	sig, err := s.Sign(rand.Reader, h.Sum(nil), opts)
	if err != nil {
		return err
	}
	_, err = w.Write(sig)
	return err
}

// signFile is what `kyso sign pdf` does around pades.Sign, in this process.
func signFile(ctx context.Context, in, out string, p *PKI) error {
	f, err := os.Open(in)
	if err != nil {
		return err
	}
	defer f.Close()
	fi, err := f.Stat()
	if err != nil {
		return err
	}
	w, err := os.Create(out)
	if err != nil {
		return err
	}
	// The benchmark measures the PDF work against pyHanko and pdfsig,
	// which check nothing before signing either.
	err = pades.Sign(ctx, f, fi.Size(), w, p.Key, p.Cert, p.Chain, &pades.SignOptions{Options: pades.Options{SkipSignerCheck: true}})
	if cerr := w.Close(); err == nil {
		err = cerr
	}
	return err
}

var pdfsigSignature = regexp.MustCompile(`(?m)^Signature #\d+:`)

// check has pdfsig (with the NSS database trusting the CA, or -nocert
// without one; never online OCSP) judge a signed output: one signature,
// valid, covering the whole file. It returns what pdfsig says of it.
func check(ctx context.Context, pdfsig, nss, path string) (string, error) {
	if pdfsig == "" {
		return "", errors.New("the output could not be checked: pdfsig not found (apt-get install poppler-utils)")
	}
	args := []string{"-no-ocsp", "-nocert"}
	if nss != "" {
		args = []string{"-no-ocsp", "-nssdir", nss}
	}
	// The verdict is read from stdout alone; stderr only explains a failure.
	cmd := exec.CommandContext(ctx, pdfsig, append(args, path)...)
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		return "", fmt.Errorf("pdfsig found no valid signature in the output: %v\n%s\nstderr: %s", err, tail(out), tail(stderr.Bytes()))
	}
	sigs := pdfsigSignature.Split(string(out), -1)[1:]
	if len(sigs) != 1 {
		return "", fmt.Errorf("pdfsig found %d signatures in the output, want 1:\n%s", len(sigs), tail(out))
	}
	s := sigs[0]
	for _, want := range []string{"Signature Validation: Signature is Valid.", "Total document signed"} {
		if !strings.Contains(s, want) {
			return "", fmt.Errorf("pdfsig: the output's signature lacks %q:\n%s", want, tail(out))
		}
	}
	var said []string
	for _, line := range strings.Split(s, "\n") {
		line = strings.TrimSpace(strings.TrimPrefix(strings.TrimSpace(line), "- "))
		for _, k := range []string{"Signature Type: ", "Signature Validation: ", "Certificate Validation: "} {
			if v, ok := strings.CutPrefix(line, k); ok {
				said = append(said, strings.TrimSuffix(v, "."))
			}
		}
	}
	return strings.Join(said, "; "), nil
}
