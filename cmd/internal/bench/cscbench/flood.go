package cscbench

import (
	"bufio"
	"context"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"encoding/base32"
	"encoding/base64"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"os"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"
)

// ProcessRSS returns the resident memory of process pid, in bytes, from
// /proc/PID/status (VmRSS): Linux only.
func ProcessRSS(pid int) (int64, error) {
	f, err := os.Open(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		return 0, fmt.Errorf("cscbench: reading the resident memory of process %d: %w", pid, err)
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		if v, ok := strings.CutPrefix(sc.Text(), "VmRSS:"); ok {
			kb, err := strconv.ParseInt(strings.TrimSuffix(strings.TrimSpace(v), " kB"), 10, 64)
			if err != nil {
				return 0, fmt.Errorf("cscbench: /proc/%d/status: VmRSS %q", pid, v)
			}
			return kb << 10, nil
		}
	}
	return 0, fmt.Errorf("cscbench: /proc/%d/status has no VmRSS", pid)
}

// FloodOptions describe a flood of unauthenticated token requests.
type FloodOptions struct {
	// URL is kysod's HTTPS base URL ("https://127.0.0.1:8443"); Roots
	// verify its certificate.
	URL   string
	Roots *x509.CertPool
	// PID is kysod's process, whose resident memory is sampled.
	PID int
	// Concurrency is how many requests are in flight at once, each
	// connection sending its next as soon as the last is answered; zero
	// means 500.
	Concurrency int
	// Sources is how many loopback addresses (127.1.x.y) the connections
	// come from, in turn: 1 is one attacker, Concurrency a botnet that
	// per-source limits do not hold back. Zero means 1. The legitimate
	// client keeps 127.0.0.1.
	Sources int
	// Ramp is how long the flood runs before during starts, once every
	// connection has had its first answer (at most a minute after the
	// start), so that during sees the flood at its full; zero means
	// 500ms.
	Ramp time.Duration
}

// FloodStats is what a flood saw.
type FloodStats struct {
	// Requests were sent; Answers counts them by HTTP status ("401",
	// "429", …) or "error" for a request that got no answer.
	Requests int64            `json:"requests"`
	Answers  map[string]int64 `json:"answers"`
	// NoRetryAfter counts 429 and 503 answers without a Retry-After.
	NoRetryAfter int64 `json:"without_retry_after,omitempty"`
	// RSSBefore is kysod's resident memory just before the flood; RSSPeak
	// the most sampled (every 10ms) while it ran; bytes.
	RSSBefore int64 `json:"rss_before_bytes"`
	RSSPeak   int64 `json:"rss_peak_bytes"`
	// Seconds is how long the flood ran.
	Seconds float64 `json:"seconds"`
}

// FloodSource is the loopback address flood source i sends from:
// 127.1.x.y, never the 127.0.0.1 a legitimate client keeps.
func FloodSource(i int) net.IP {
	return net.IPv4(127, 1, byte(i/250), byte(1+i%250))
}

// Flood sends oauth2/token requests with client_credentials for unknown
// client IDs and random secrets — what anyone can send without an
// account — from o.Concurrency connections at once, each from one of
// o.Sources loopback addresses, sampling kysod's resident memory, for
// o.Ramp and then while during runs. It returns during's error, if any,
// once the flood has stopped.
func Flood(ctx context.Context, o FloodOptions, during func(ctx context.Context) error) (*FloodStats, error) {
	if o.Concurrency <= 0 {
		o.Concurrency = 500
	}
	if o.Sources <= 0 {
		o.Sources = 1
	}
	if o.Ramp <= 0 {
		o.Ramp = 500 * time.Millisecond
	}
	before, err := ProcessRSS(o.PID)
	if err != nil {
		return nil, err
	}
	st := &FloodStats{RSSBefore: before, RSSPeak: before, Answers: map[string]int64{}}
	var mu sync.Mutex
	count := func(answer string, noRetry bool) {
		mu.Lock()
		st.Requests++
		st.Answers[answer]++
		if noRetry {
			st.NoRetryAfter++
		}
		mu.Unlock()
	}
	fctx, stop := context.WithCancel(ctx)
	defer stop()
	var peak atomic.Int64
	peak.Store(before)
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		tick := time.NewTicker(10 * time.Millisecond)
		defer tick.Stop()
		for {
			select {
			case <-fctx.Done():
				return
			case <-tick.C:
				if rss, err := ProcessRSS(o.PID); err == nil && rss > peak.Load() {
					peak.Store(rss)
				}
			}
		}
	}()
	target := strings.TrimSuffix(o.URL, "/") + "/csc/v2/oauth2/token"
	var opened sync.WaitGroup
	opened.Add(o.Concurrency)
	for i := range o.Concurrency {
		wg.Add(1)
		go func() {
			defer wg.Done()
			first := true
			defer func() {
				if first {
					opened.Done()
				}
			}()
			d := &net.Dialer{LocalAddr: &net.TCPAddr{IP: FloodSource(i % o.Sources)}, Timeout: 30 * time.Second}
			tr := &http.Transport{DialContext: d.DialContext, TLSClientConfig: &tls.Config{RootCAs: o.Roots}, MaxIdleConnsPerHost: 1}
			defer tr.CloseIdleConnections()
			c := &http.Client{Transport: tr, Timeout: time.Minute}
			for fctx.Err() == nil {
				req, _ := http.NewRequestWithContext(fctx, http.MethodPost, target, strings.NewReader(unknownClientForm()))
				req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
				resp, err := c.Do(req)
				if err != nil {
					if fctx.Err() == nil {
						count("error", false)
					}
					continue
				}
				io.Copy(io.Discard, resp.Body)
				resp.Body.Close()
				if first {
					first = false
					opened.Done()
				}
				limited := resp.StatusCode == http.StatusTooManyRequests || resp.StatusCode == http.StatusServiceUnavailable
				count(strconv.Itoa(resp.StatusCode), limited && resp.Header.Get("Retry-After") == "")
			}
		}()
	}
	t0 := time.Now()
	all := make(chan struct{})
	go func() { opened.Wait(); close(all) }()
	select {
	case <-all:
	case <-time.After(time.Minute):
	case <-ctx.Done():
	}
	var derr error
	select {
	case <-time.After(o.Ramp):
		if during != nil {
			derr = during(ctx)
		}
	case <-ctx.Done():
		derr = ctx.Err()
	}
	stop()
	wg.Wait()
	st.Seconds = time.Since(t0).Seconds()
	st.RSSPeak = peak.Load()
	return st, derr
}

// unknownClientForm is a token request for a client ID nobody has, shaped
// as kyso's are (so that it reaches the database and the secret check).
func unknownClientForm() string {
	b := make([]byte, 42)
	rand.Read(b)
	id := strings.ToLower(base32.StdEncoding.WithPadding(base32.NoPadding).EncodeToString(b[:10]))
	return url.Values{"grant_type": {"client_credentials"}, "client_id": {id}, "client_secret": {base64.RawURLEncoding.EncodeToString(b[10:])}}.Encode()
}

// errNoProc says the flood needs /proc.
var errNoProc = errors.New("cscbench: the flood row reads kysod's resident memory from /proc (Linux)")
