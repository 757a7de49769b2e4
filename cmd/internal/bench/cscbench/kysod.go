package cscbench

import (
	"bufio"
	"context"
	"crypto"
	"crypto/tls"
	"crypto/x509"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/kyso-pki/kyso/cmd/internal/datadir"
	"github.com/kyso-pki/kyso/hsm"
	"github.com/kyso-pki/kyso/pkg/csc"
	"github.com/kyso-pki/kyso/pkg/signing"
)

// Kysod is a kysod process on embedded defaults in a data directory of its
// own, serving on free loopback ports.
type Kysod struct {
	// URL is its HTTPS base URL; Roots hold its development root.
	URL   string
	Roots *x509.CertPool
	// Data is its data directory.
	Data string
	cmd  *exec.Cmd
	done chan struct{}
	mu   sync.Mutex
	tail []string
}

// StartKysod starts the kysod binary bin on the data directory data (made
// on first start) and waits until it serves, at most a minute. env, such
// as KYSO_DB=…, is set after the defaults it overrides.
func StartKysod(ctx context.Context, bin, data string, env ...string) (*Kysod, error) {
	k := &Kysod{Data: data, done: make(chan struct{})}
	k.cmd = exec.Command(bin, "--listen", "127.0.0.1:0", "--http", "127.0.0.1:0")
	// Its own data, embedded defaults: no operator's settings leak in.
	k.cmd.Env = append(append(os.Environ(), "KYSO_DATA="+data, "KYSO_KEYSTORE=", "KYSO_DB=", "KYSO_CONFIG=", "KYSO_LOG_LEVEL=info"), env...)
	stderr, err := k.cmd.StderrPipe()
	if err != nil {
		return nil, err
	}
	if err := k.cmd.Start(); err != nil {
		return nil, fmt.Errorf("cscbench: starting kysod: %w", err)
	}
	serving := make(chan [2]string, 1)
	go func() {
		defer close(k.done)
		sc := bufio.NewScanner(stderr)
		sc.Buffer(make([]byte, 64<<10), 1<<20)
		for sc.Scan() {
			line := sc.Text()
			k.mu.Lock()
			k.tail = append(k.tail, line)
			if len(k.tail) > 20 {
				k.tail = k.tail[1:]
			}
			k.mu.Unlock()
			var l struct{ Msg, Addr, PKI string }
			if json.Unmarshal([]byte(line), &l) == nil && l.Msg == "kysod serving" {
				serving <- [2]string{l.Addr, l.PKI}
			}
		}
		k.cmd.Wait()
	}()
	var addrs [2]string
	select {
	case addrs = <-serving:
	case <-k.done:
		return nil, fmt.Errorf("cscbench: kysod exited before serving:\n%s", k.output())
	case <-time.After(time.Minute):
		k.Close()
		return nil, fmt.Errorf("cscbench: kysod did not serve within a minute:\n%s", k.output())
	case <-ctx.Done():
		k.Close()
		return nil, ctx.Err()
	}
	k.URL = addrs[0]
	resp, err := http.Get(addrs[1] + "/ca/root.crt")
	if err != nil {
		k.Close()
		return nil, fmt.Errorf("cscbench: kysod's root certificate: %w", err)
	}
	der, err := io.ReadAll(io.LimitReader(resp.Body, 1<<20))
	resp.Body.Close()
	root, perr := x509.ParseCertificate(der)
	if err != nil || perr != nil {
		k.Close()
		return nil, fmt.Errorf("cscbench: kysod's root certificate: %v", errors.Join(err, perr))
	}
	k.Roots = x509.NewCertPool()
	k.Roots.AddCert(root)
	return k, nil
}

// PID is the process's ID.
func (k *Kysod) PID() int { return k.cmd.Process.Pid }

func (k *Kysod) output() string {
	k.mu.Lock()
	defer k.mu.Unlock()
	return strings.Join(k.tail, "\n")
}

// Close stops kysod: SIGTERM, then a kill after 30 seconds.
func (k *Kysod) Close() error {
	k.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-k.done:
	case <-time.After(30 * time.Second):
		k.cmd.Process.Kill()
		<-k.done
	}
	return nil
}

// FloodRowOptions describe the flood row.
type FloodRowOptions struct {
	// Kysod is the kysod binary; Dir where its data directory is made.
	Kysod, Dir string
	// Concurrency and Sources are the flood's (FloodOptions); zero means
	// 500 and 1.
	Concurrency, Sources int
	// Samples is how many signHash requests are timed when quiet and
	// again during the flood; zero means 100.
	Samples int
	// Log receives progress; nil discards it.
	Log io.Writer
}

// floodOwnerSADs is how many SADs one owner yields for the flood row: the
// codes of the time steps either side of now and of now (a code is good
// for one step either way, and each step is spent once).
const floodOwnerSADs = 3

// FloodRow runs the flood row against a real kysod (issue 13: 100
// concurrent token requests took kysod from 96 MB to 2.2 GB): it starts
// kysod on embedded defaults, enrols owners and a relying party in its
// data directory (as `kyso enroll` and `kyso client create` do), makes
// SADs over HTTPS, times o.Samples signatures/signHash requests one after
// another (one every floodPace) when quiet, then as many while
// o.Concurrency connections flood oauth2/token for unknown clients, and
// reports kysod's resident memory before and at the peak of the flood,
// the p50 and p99 of both, and how the flood was answered.
func FloodRow(ctx context.Context, o FloodRowOptions) Result {
	o.Concurrency = cmp0(o.Concurrency, 500)
	o.Sources = cmp0(o.Sources, 1)
	o.Samples = cmp0(o.Samples, 100)
	logw := o.Log
	if logw == nil {
		logw = io.Discard
	}
	r := Result{Row: RowFlood, Algorithm: string(hsm.ECDSAP256), Hashes: 1, Clients: 1, Flood: o.Concurrency, FloodSources: o.Sources}
	if runtime.GOOS != "linux" {
		r.Err = errNoProc.Error()
		return r
	}
	if o.Kysod == "" {
		r.Err = "no kysod binary: build it (go build ./cmd/kysod) beside kyso, or pass --kysod"
		return r
	}
	k, err := StartKysod(ctx, o.Kysod, filepath.Join(o.Dir, "kysod-data"))
	if err != nil {
		r.Err = err.Error()
		return r
	}
	defer k.Close()
	owners := int(math.Ceil(float64(2*o.Samples)/floodOwnerSADs)) + 5
	fmt.Fprintf(logw, "  flood row: kysod (pid %d) at %s; enrolling %d owners…\n", k.PID(), k.URL, owners)
	ens, cl, err := enrolInto(ctx, k.Data, owners)
	if err != nil {
		r.Err = err.Error()
		return r
	}
	c := &csc.Client{BaseURL: k.URL + "/csc/v2", ClientID: cl.ID, ClientSecret: cl.Secret,
		HTTPClient: &http.Client{Timeout: time.Minute, Transport: &http.Transport{TLSClientConfig: &tls.Config{RootCAs: k.Roots}}}}
	acts, err := floodSADs(ctx, c, ens, 2*o.Samples)
	if err != nil {
		r.Err = err.Error()
		return r
	}
	if len(acts) < 2*o.Samples {
		r.Note = fmt.Sprintf("%d SADs made of %d asked (a TOTP step passed while making them)", len(acts), 2*o.Samples)
	}
	half := len(acts) / 2
	quiet, err := signSeq(ctx, c, acts[:half])
	if err != nil {
		r.Err = "quiet: " + err.Error()
		return r
	}
	fmt.Fprintf(logw, "  flood row: %d signHash quiet; flooding with %d connections from %d address(es)…\n", half, o.Concurrency, o.Sources)
	var loud []time.Duration
	var t0 time.Time
	var secs float64
	st, err := Flood(ctx, FloodOptions{URL: k.URL, Roots: k.Roots, PID: k.PID(), Concurrency: o.Concurrency, Sources: o.Sources},
		func(ctx context.Context) error {
			t0 = time.Now()
			var err error
			loud, err = signSeq(ctx, c, acts[half:])
			secs = time.Since(t0).Seconds()
			return err
		})
	if err != nil {
		r.Err = "during the flood: " + err.Error()
		return r
	}
	r.Requests, r.Signatures, r.Seconds = int64(len(loud)), int64(len(loud)), secs
	if secs > 0 {
		r.PerSecond, r.RequestsPerSecond = float64(len(loud))/secs, float64(len(loud))/secs
	}
	r.P50, r.P99 = percentile(loud, 50), percentile(loud, 99)
	r.QuietP50, r.QuietP99 = percentile(quiet, 50), percentile(quiet, 99)
	r.FloodStats = st
	return r
}

func cmp0(v, def int) int {
	if v <= 0 {
		return def
	}
	return v
}

// enrolInto enrols n owners with cheap PIN hashes (the PIN check is not
// what the row measures) and makes a relying party, in the data directory
// of a running kysod, as the kyso CLI does.
func enrolInto(ctx context.Context, data string, n int) ([]*signing.Enrolment, *signing.ClientCredentials, error) {
	unlock, err := datadir.Lock(ctx, data, nil)
	if err != nil {
		return nil, nil, err
	}
	defer unlock()
	dir, err := datadir.Load(data)
	if err != nil {
		return nil, nil, err
	}
	opened, err := dir.Open(ctx, &datadir.Options{Actor: "kyso-bench"})
	if err != nil {
		return nil, nil, err
	}
	defer opened.Close()
	svc, err := opened.SigningWith(dir, signing.Config{SkipSignerCheck: true, Password: cheapPassword})
	if err != nil {
		return nil, nil, err
	}
	ens := make([]*signing.Enrolment, n)
	for i := range ens {
		if ens[i], err = svc.Enrol(ctx, &signing.EnrolRequest{CCCD: fmt.Sprintf("002%09d", i+1), Name: "Nguyễn Văn Bench", Province: "Hà Nội",
			PIN: benchPIN, Algorithm: hsm.ECDSAP256, Actor: "kyso-bench"}); err != nil {
			return nil, nil, fmt.Errorf("cscbench: enrolling owner %d: %w", i+1, err)
		}
	}
	cl, err := svc.CreateClient(ctx, "Cổng bench", "", "kyso-bench")
	if err != nil {
		return nil, nil, fmt.Errorf("cscbench: %w", err)
	}
	return ens, cl, nil
}

// floodActivation is a SAD made for the flood row and the owner whose key
// signs it.
type floodActivation struct {
	Activation
	en *signing.Enrolment
}

// floodSADs makes up to n SADs through kysod's credentials/authorize, with
// each owner's codes for the steps either side of now, waiting out 429s as
// their Retry-After says (kysod's rate limits apply to the bench's
// client too).
func floodSADs(ctx context.Context, c *csc.Client, ens []*signing.Enrolment, n int) ([]*floodActivation, error) {
	var out []*floodActivation
	for _, en := range ens {
		now := time.Now()
		for d := -1; d <= 1 && len(out) < n; d++ {
			code, err := signing.TOTPCode(en.TOTPURI, now.Add(time.Duration(d)*30*time.Second))
			if err != nil {
				return nil, err
			}
			a := &floodActivation{Activation: Activation{Algorithm: hsm.ECDSAP256, CredentialID: en.CredentialID, Hashes: randomDigests(1)}, en: en}
			for {
				a.SAD, err = c.Authorize(ctx, en.CredentialID, a.Hashes, crypto.SHA256, benchPIN, code)
				var ae *csc.APIError
				if errors.As(err, &ae) && (ae.Status == http.StatusTooManyRequests || ae.Status == http.StatusServiceUnavailable) && ae.RetryAfter > 0 {
					select {
					case <-time.After(ae.RetryAfter):
						continue
					case <-ctx.Done():
						return nil, ctx.Err()
					}
				}
				break
			}
			var ae *csc.APIError
			if errors.As(err, &ae) && ae.Body.Error == csc.Errors[signing.KindDenied].Code {
				continue // the step moved on meanwhile: the code was refused
			}
			if err != nil {
				return nil, fmt.Errorf("cscbench: authorising: %w", err)
			}
			out = append(out, a)
		}
		if len(out) == n {
			break
		}
	}
	return out, nil
}

// floodPace is how often the flood row's client starts a signHash, as a
// portal signing steadily does: the requests are spread over the flood,
// not squeezed between two of its waves.
const floodPace = 10 * time.Millisecond

// signSeq spends acts one after another over c, starting one every
// floodPace (or when the last is answered, if later), and returns each
// request's time; every signature is checked.
func signSeq(ctx context.Context, c *csc.Client, acts []*floodActivation) ([]time.Duration, error) {
	lat := make([]time.Duration, 0, len(acts))
	next := time.Now()
	for _, a := range acts {
		if d := time.Until(next); d > 0 {
			time.Sleep(d)
		}
		next = next.Add(floodPace)
		t0 := time.Now()
		sigs, err := c.SignHash(ctx, a.CredentialID, a.SAD, a.Hashes, crypto.SHA256, signAlgo(hsm.ECDSAP256))
		lat = append(lat, time.Since(t0))
		if err != nil {
			return nil, err
		}
		if len(sigs) != 1 {
			return nil, fmt.Errorf("cscbench: %d signatures for 1 hash", len(sigs))
		}
		if err := verify(a.en.Certificate.PublicKey, a.Hashes[0], sigs[0]); err != nil {
			return nil, err
		}
	}
	return lat, nil
}
