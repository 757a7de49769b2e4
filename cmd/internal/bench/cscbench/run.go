package cscbench

import (
	"context"
	"crypto"
	"crypto/sha256"
	"errors"
	"fmt"
	"io"
	"math"
	"runtime/pprof"
	"sync"
	"sync/atomic"
	"time"

	"github.com/kyso-pki/kyso/cmd/internal/bench"
	"github.com/kyso-pki/kyso/cmd/internal/bench/keybench"
	"github.com/kyso-pki/kyso/hsm"
)

// RowOptions describe one row.
type RowOptions struct {
	Algorithm hsm.Algorithm
	// Hashes is how many hashes a request signs; zero means 1. The bare
	// loop signs one per call whatever it says.
	Hashes int
	// Clients is how many clients (goroutines, for bare) at once; zero
	// means 1.
	Clients int
	// Duration is how long to measure; zero means one second.
	Duration time.Duration
	// cpuProfile, when set, receives a CPU profile of the row's timed
	// part (signhash only; RunOptions.CPUProfile).
	cpuProfile io.Writer
}

func (o *RowOptions) defaults() {
	o.Hashes = max(o.Hashes, 1)
	o.Clients = max(o.Clients, 1)
	if o.Duration <= 0 {
		o.Duration = time.Second
	}
}

// errExhausted ends a row whose SADs made ahead ran out.
var errExhausted = errors.New("cscbench: out of SADs made ahead")

// op is one timed request of worker w; it returns how many signatures it
// made.
type op func(ctx context.Context, w int) (int, error)

// timing is what measure saw.
type timing struct {
	requests, sigs int64
	seconds        float64
	p50, p99       float64
	ranOut         bool
}

// measure runs do from workers goroutines until d has passed, or one of
// them runs out (errExhausted), or one fails; it times every request.
// Requests in flight when the time is up are waited for and counted.
func measure(ctx context.Context, workers int, d time.Duration, do op) (timing, error) {
	var t timing
	lat := make([][]time.Duration, workers)
	var reqs, sigs atomic.Int64
	var ranOut atomic.Bool
	var firstErr error
	var errOnce sync.Once
	stop := make(chan struct{})
	var stopOnce sync.Once
	halt := func() { stopOnce.Do(func() { close(stop) }) }
	var wg sync.WaitGroup
	start := time.Now()
	for w := range workers {
		wg.Add(1)
		go pprof.Do(ctx, clientLabels, func(ctx context.Context) {
			defer wg.Done()
			l := make([]time.Duration, 0, 1024)
			defer func() { lat[w] = l }()
			for {
				select {
				case <-stop:
					return
				case <-ctx.Done():
					return
				default:
				}
				t0 := time.Now()
				n, err := do(ctx, w)
				el := time.Since(t0)
				if errors.Is(err, errExhausted) {
					ranOut.Store(true)
					halt()
					return
				}
				if err != nil {
					errOnce.Do(func() { firstErr = err })
					halt()
					return
				}
				l = append(l, el)
				reqs.Add(1)
				sigs.Add(int64(n))
			}
		})
	}
	timer := time.NewTimer(d)
	select {
	case <-timer.C:
	case <-stop:
	case <-ctx.Done():
	}
	timer.Stop()
	halt()
	wg.Wait()
	t.seconds = time.Since(start).Seconds()
	t.requests, t.sigs, t.ranOut = reqs.Load(), sigs.Load(), ranOut.Load()
	var all []time.Duration
	for _, l := range lat {
		all = append(all, l...)
	}
	t.p50, t.p99 = percentile(all, 50), percentile(all, 99)
	if firstErr == nil && ctx.Err() != nil {
		firstErr = ctx.Err()
	}
	return t, firstErr
}

// percentile returns the p-th percentile of d in seconds (nearest rank),
// 0 for none. It sorts d.
func percentile(d []time.Duration, p float64) float64 { return bench.Percentile(d, p) }

// fill sets r's figures from t.
func (r *Result) fill(t timing) {
	r.Requests, r.Signatures, r.Seconds = t.requests, t.sigs, t.seconds
	if t.seconds > 0 {
		r.PerSecond = float64(t.sigs) / t.seconds
		r.RequestsPerSecond = float64(t.requests) / t.seconds
	}
	r.P50, r.P99 = t.p50, t.p99
}

// Bare measures sign, a bare PKCS#11 loop (pkcs11bench.Bare.SignFunc) on the
// key of Env.BareLabel, from o.Clients goroutines, each on a session of its
// own, one SHA-256 digest per call.
func Bare(ctx context.Context, sign keybench.SignFunc, o RowOptions) Result {
	return signLoop(ctx, RowBare, sign, o)
}

// CredentialKey measures signing with a credential's key as the service
// opens it (Env.CredentialKey), PKCS#1 v1.5 or ECDSA over SHA-256, one
// digest per call, from o.Clients goroutines: what signHash pays for the
// key alone.
func CredentialKey(ctx context.Context, key crypto.Signer, o RowOptions) Result {
	return signLoop(ctx, RowCredKey, keybench.SignerFunc(key), o)
}

func signLoop(ctx context.Context, row string, sign keybench.SignFunc, o RowOptions) Result {
	o.defaults()
	r := Result{Row: row, Algorithm: string(o.Algorithm), Hashes: 1, Clients: o.Clients}
	digest := sha256.Sum256([]byte("kyso bench csc"))
	for w := range o.Clients {
		if err := sign(w, digest[:]); err != nil {
			r.Err = err.Error()
			return r
		}
	}
	t, err := measure(ctx, o.Clients, o.Duration, func(_ context.Context, w int) (int, error) {
		return 1, sign(w, digest[:])
	})
	r.fill(t)
	if err != nil {
		r.Err = err.Error()
	}
	return r
}

// Limits of the SADs made ahead for one signhash row.
const (
	// warmSADs are made per client, signed untimed (the connection is
	// set up, caches fill) and time the rate that sizes the batch.
	warmSADs = 8
	// sadsFactor is how many times the SADs the warm-up rate says the
	// row needs are made: the warm-up, with its new connection, is
	// slower than the row, but by how much varies with the machine's
	// other load.
	sadsFactor = 3
	// maxSADs bounds the SADs made per client and row.
	maxSADs = 100_000
)

// clients opens n clients, closed with closeClients.
func (e *Env) clients(ctx context.Context, n int) ([]*Client, error) {
	if n > len(e.replicas) {
		return nil, fmt.Errorf("cscbench: %d clients asked for, the environment has %d", n, len(e.replicas))
	}
	cs := make([]*Client, n)
	for i := range cs {
		c, err := e.NewClient(ctx, i)
		if err != nil {
			closeClients(cs)
			return nil, err
		}
		cs[i] = c
	}
	return cs, nil
}

func closeClients(cs []*Client) {
	for _, c := range cs {
		if c != nil {
			c.Close()
		}
	}
}

// parallel runs f for each client at once and returns the first error.
func parallel(n int, f func(i int) error) error {
	errs := make([]error, n)
	var wg sync.WaitGroup
	for i := range n {
		wg.Add(1)
		// The clients' connections are dialled here: their goroutines
		// inherit the label.
		go pprof.Do(context.Background(), clientLabels, func(context.Context) {
			defer wg.Done()
			errs[i] = f(i)
		})
	}
	wg.Wait()
	return errors.Join(errs...)
}

// SignHash measures signatures/signHash over HTTPS: o.Clients clients,
// each on a keep-alive connection of its own, spend SADs made ahead for
// o.Hashes hashes each. A warm-up of warmSADs requests per client times
// the rate; sadsFactor times what that rate needs for o.Duration is made,
// untimed. Should they run out anyway the row ends early, its rate still
// true, and Note says so. The last response of every client is verified.
func (e *Env) SignHash(ctx context.Context, o RowOptions) Result {
	o.defaults()
	r := Result{Row: RowSignHash, Algorithm: string(o.Algorithm), Hashes: o.Hashes, Clients: o.Clients}
	cs, err := e.clients(ctx, o.Clients)
	if err != nil {
		r.Err = err.Error()
		return r
	}
	defer closeClients(cs)
	queues := make([][]*Activation, len(cs))
	prep := func(n int) error {
		t0 := time.Now()
		err := parallel(len(cs), func(i int) error {
			var err error
			queues[i], err = cs[i].Prepare(ctx, o.Algorithm, o.Hashes, n)
			return err
		})
		r.Prepared += int64(n * len(cs))
		r.PrepareSeconds += time.Since(t0).Seconds()
		return err
	}
	if err := prep(warmSADs); err != nil {
		r.Err = err.Error()
		return r
	}
	t0 := time.Now()
	if err := parallel(len(cs), func(i int) error {
		for _, a := range queues[i] {
			sigs, err := cs[i].SignHash(ctx, a)
			if err != nil {
				return err
			}
			if err := cs[i].Check(o.Algorithm, false, a.Hashes, sigs); err != nil {
				return err
			}
		}
		return nil
	}); err != nil {
		r.Err = "warm-up: " + err.Error()
		return r
	}
	perClient := float64(warmSADs) / time.Since(t0).Seconds()
	need := int(math.Ceil(perClient*o.Duration.Seconds()*sadsFactor)) + 2
	if need > maxSADs {
		need = maxSADs
	}
	if err := prep(need); err != nil {
		r.Err = err.Error()
		return r
	}
	next := make([]int, len(cs))
	last := make([][][]byte, len(cs))
	if o.cpuProfile != nil {
		if err := pprof.StartCPUProfile(o.cpuProfile); err != nil {
			r.Err = "the CPU profile: " + err.Error()
			return r
		}
	}
	t, err := measure(ctx, len(cs), o.Duration, func(ctx context.Context, w int) (int, error) {
		if next[w] == len(queues[w]) {
			return 0, errExhausted
		}
		a := queues[w][next[w]]
		next[w]++
		sigs, err := cs[w].SignHash(ctx, a)
		if err != nil {
			return 0, err
		}
		last[w] = sigs
		return len(sigs), nil
	})
	if o.cpuProfile != nil {
		pprof.StopCPUProfile()
	}
	r.fill(t)
	if err != nil {
		r.Err = err.Error()
		return r
	}
	for w, c := range cs {
		if next[w] == 0 {
			continue
		}
		if err := c.Check(o.Algorithm, false, queues[w][next[w]-1].Hashes, last[w]); err != nil {
			r.Err = err.Error()
			return r
		}
	}
	if t.ranOut {
		r.Note = fmt.Sprintf("ended after %.2fs of %v: the SADs made ahead ran out (the rate is still true)", t.seconds, o.Duration)
	}
	return r
}

// RoundTrip measures credentials/authorize then signatures/signHash over
// HTTPS, o.Clients clients at once, each pair counted as one request. The
// PIN is checked with kysod's default argon2id parameters. The last
// response of every client is verified.
func (e *Env) RoundTrip(ctx context.Context, o RowOptions) Result {
	o.defaults()
	r := Result{Row: RowRoundTrip, Algorithm: string(o.Algorithm), Hashes: o.Hashes, Clients: o.Clients}
	cs, err := e.clients(ctx, o.Clients)
	if err != nil {
		r.Err = err.Error()
		return r
	}
	defer closeClients(cs)
	if err := parallel(len(cs), func(i int) error {
		d, s, err := cs[i].RoundTrip(ctx, o.Algorithm, o.Hashes)
		if err != nil {
			return err
		}
		return cs[i].Check(o.Algorithm, true, d, s)
	}); err != nil {
		r.Err = "warm-up: " + err.Error()
		return r
	}
	digests, sigs := make([][][]byte, len(cs)), make([][][]byte, len(cs))
	t, err := measure(ctx, len(cs), o.Duration, func(ctx context.Context, w int) (int, error) {
		d, s, err := cs[w].RoundTrip(ctx, o.Algorithm, o.Hashes)
		if err != nil {
			return 0, err
		}
		digests[w], sigs[w] = d, s
		return len(s), nil
	})
	r.fill(t)
	if err != nil {
		r.Err = err.Error()
		return r
	}
	for w, c := range cs {
		if digests[w] != nil {
			if err := c.Check(o.Algorithm, true, digests[w], sigs[w]); err != nil {
				r.Err = err.Error()
				return r
			}
		}
	}
	return r
}

// BareFunc returns a bare signing loop on the key labelled label (see
// pkcs11bench.Bare.SignFunc).
type BareFunc func(label string, alg hsm.Algorithm) (keybench.SignFunc, error)

// RunOptions configure Run.
type RunOptions struct {
	// Clients is the N of the 1 and N client rows; at most
	// Env.Clients. Zero means Env.Clients.
	Clients int
	// Duration is how long each row is measured; zero means one second.
	Duration time.Duration
	// Hashes are the hashes per request of the signhash and roundtrip
	// rows; empty means 1 and 20.
	Hashes []int
	// Bare makes the bare loop; nil leaves the bare rows out (and the
	// ratios).
	Bare BareFunc
	// RoundTrip adds the roundtrip rows.
	RoundTrip bool
	// Database says where the database is, for the report.
	Database string
	// Progress, when set, is called with each row as it is measured.
	Progress func(Result)
	// Flood, when set, adds the flood row (FloodRow) last.
	Flood *FloodRowOptions
	// CPUProfile, when set, receives a CPU profile (pprof) of the timed
	// part of the first N-client signhash row alone (the first algorithm
	// and hash count; not the SADs made ahead, nor the warm-up). The clients' goroutines carry the label side=client;
	// goroutines started under ServerLabels (the server, its store's
	// writers) carry side=server; the rest (the runtime's, the garbage
	// collector's) none.
	CPUProfile io.Writer
}

// ServerLabels are the profiler labels (runtime/pprof) of what runs the
// service in a profiled bench: start it inside pprof.Do with them, and
// every goroutine it starts carries them.
var ServerLabels = pprof.Labels("side", "server")

// clientLabels are the labels of the bench's client goroutines.
var clientLabels = pprof.Labels("side", "client")

// Run measures every row for each algorithm of e: the bare loop, signhash
// at each hash count, then roundtrip, with 1 and then N clients; it fills
// the ratios and judges the aims.
func Run(ctx context.Context, e *Env, o RunOptions) *Report {
	n := o.Clients
	if n <= 0 || n > e.Clients() {
		n = e.Clients()
	}
	hashes := o.Hashes
	if len(hashes) == 0 {
		hashes = []int{1, 20}
	}
	if o.Duration <= 0 {
		o.Duration = time.Second
	}
	rep := &Report{Machine: bench.ThisMachine(), Seconds: o.Duration.Seconds(), Clients: n, Database: o.Database}
	counts := []int{1}
	if n > 1 {
		counts = append(counts, n)
	}
	add := func(r Result) {
		if o.Progress != nil {
			o.Progress(r)
		}
		rep.Rows = append(rep.Rows, r)
	}
	profiled := false
	for _, alg := range e.Algorithms() {
		var sign keybench.SignFunc
		var bareErr error
		if o.Bare != nil {
			sign, bareErr = o.Bare(e.BareLabel(alg), alg)
		}
		key, keyErr := e.CredentialKey(ctx, alg)
		for _, c := range counts {
			ro := RowOptions{Algorithm: alg, Clients: c, Duration: o.Duration}
			switch {
			case o.Bare == nil:
			case bareErr != nil:
				add(Result{Row: RowBare, Algorithm: string(alg), Hashes: 1, Clients: c, Err: bareErr.Error()})
			default:
				add(Bare(ctx, sign, ro))
			}
			if keyErr != nil {
				add(Result{Row: RowCredKey, Algorithm: string(alg), Hashes: 1, Clients: c, Err: keyErr.Error()})
			} else {
				add(CredentialKey(ctx, key, ro))
			}
			for _, h := range hashes {
				ro.Hashes = h
				add(e.Floor(ctx, ro))
				pro := ro
				if o.CPUProfile != nil && c == n && n > 1 && !profiled {
					profiled = true
					pro.cpuProfile = o.CPUProfile
				}
				add(e.SignHash(ctx, pro))
			}
			if o.RoundTrip {
				for _, h := range hashes {
					ro.Hashes = h
					add(e.RoundTrip(ctx, ro))
				}
			}
		}
	}
	if o.Flood != nil {
		add(FloodRow(ctx, *o.Flood))
	}
	Ratios(rep.Rows)
	rep.Aims = Aims(rep.Rows)
	rep.Notes = []string{
		"signhash times the signHash request alone: each SAD (bound to its hashes, spent once) was made ahead, untimed, by Service.Authorize with the PIN and a fresh TOTP code; the owners of those rows have a cheap argon2id PIN hash (64 KiB, 1 pass), as the PIN check is not what the row measures.",
		"roundtrip times credentials/authorize then signatures/signHash, both over HTTPS, with kysod's default argon2id parameters for the PIN (19 MiB, 2 passes).",
		"Each client has its own keep-alive HTTPS connection (HTTP/1.1, TLS 1.2+) to a signing.Service of its own — replicas over one database and one token, whose clocks move 30 s per authorisation so that every TOTP code is fresh. The clients run in this process, on the same CPUs as the service: their TLS and JSON work counts against kyso, not against the bare loop.",
		"bare signs with a key resident on the token; cred-key with a credential's key as signHash opens it: on PKCS#11 a wrapped key, unwrapped into a session object (C_UnwrapKey) once and kept in the key store's cache. Both are one digest per call, no service, no HTTP.",
		"floor is the least any remote signer keeping the rules does per request, from the same parts: the request over the same HTTPS connection, one durable commit to the same database (a SAD is spent and the signatures audited before the key signs), and a C_Sign per hash with a resident key; no token, no lookups, no checks. With one hash a request the commit (an fsync of the database's log, which concurrent requests may share) is most of it; 'vs floor' is how close kyso gets to what the disk and the token allow.",
		"signhash runs kysod's pre-signing check (Circular 15/2025 Art. 5: trust path, OCSP then CRL, from the PKI served in-process); a passed check is reused for a minute (signing.Config.SignerCheckMaxAge) and the certificate's revocation record is read on every request, so the rows show the steady state of a credential that signs often.",
		"RSA rows sign PKCS#1 v1.5 (sha256WithRSAEncryption), the mechanism the bare loop uses (CKM_RSA_PKCS); ECDSA rows CKM_ECDSA.",
		"Times are wall clock on whatever else the machine is running: with other work on it they are noisy.",
	}
	if o.Flood != nil {
		rep.Notes = append(rep.Notes, "flood runs a real kysod on embedded defaults (its default rate limits and argon2id bound): owners and a relying party enrolled in its data directory as the CLI does, SADs made over HTTPS, then signHash one request after another from 127.0.0.1, quiet and while the flood's connections (from 127.1.x.y, in this process, on the same CPUs) send oauth2/token for unknown clients as fast as they are answered; kysod's resident memory (VmRSS) is sampled every 10ms.")
	}
	return rep
}
