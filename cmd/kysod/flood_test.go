package main

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"encoding/json"
	"errors"
	"net"
	"net/http"
	"path/filepath"
	"runtime"
	"testing"
	"time"

	"github.com/kyso-pki/kyso/cmd/internal/bench/cscbench"
	"github.com/kyso-pki/kyso/pkg/csc"
)

// floodMemoryBound is how much kysod's resident memory may grow under the
// floods below: generous, for what it holds for 200 connections. One
// argon2id evaluation per request, as on the token endpoint before (issue
// 13), held 19 MiB each: 200 at once is 3.8 GB.
const floodMemoryBound = 150 << 20

// TestTokenFloodBounded is issue 13's break 2 as an attacker runs it
// against a real kysod on its defaults: 200 connections at once send
// oauth2/token requests for unknown clients, first each from an address
// of its own (a botnet: per-source limits do not hold it back, so what
// bounds the cost is the secret check itself), then all from one address.
// kysod's resident memory (from /proc, not a time) grows by less than
// floodMemoryBound in both; the one address is answered 429 with
// Retry-After; a relying party on another address gets its token at once
// during the flood, and one on the flooding address gets its token too,
// after waiting as Retry-After says.
func TestTokenFloodBounded(t *testing.T) {
	if runtime.GOOS != "linux" {
		t.Skip("kysod's resident memory is read from /proc")
	}
	kysod, kyso := binaries(t)
	dir := t.TempDir()
	data := filepath.Join(dir, "data")
	d := startKysod(t, kysod, data)
	var cl struct {
		ID     string `json:"client_id"`
		Secret string `json:"client_secret"`
	}
	if err := json.Unmarshal([]byte(runKyso(t, kyso, data, nil, "client", "create", "--name", "Cổng Dịch vụ công", "--output", "json")), &cl); err != nil {
		t.Fatal(err)
	}
	root, err := x509.ParseCertificate(fetch(t, "http://"+d.pk+"/ca/root.crt", filepath.Join(dir, "root.der")))
	if err != nil {
		t.Fatal(err)
	}
	roots := x509.NewCertPool()
	roots.AddCert(root)
	base := "https://" + d.https
	portal := func(from net.IP) *csc.Client {
		tr := &http.Transport{TLSClientConfig: &tls.Config{RootCAs: roots}}
		if from != nil {
			tr.DialContext = (&net.Dialer{LocalAddr: &net.TCPAddr{IP: from}}).DialContext
		}
		return &csc.Client{BaseURL: base + "/csc/v2", ClientID: cl.ID, ClientSecret: cl.Secret, HTTPClient: &http.Client{Timeout: 2 * time.Minute, Transport: tr}}
	}
	ctx := context.Background()
	if _, err := portal(nil).Token(ctx); err != nil {
		t.Fatalf("token before the flood: %v", err)
	}
	pause := func(ctx context.Context) error {
		select {
		case <-time.After(2 * time.Second):
		case <-ctx.Done():
		}
		return nil
	}
	check := func(name string, st *cscbench.FloodStats) {
		t.Helper()
		t.Logf("%s: %d requests, answers %v; kysod RSS %d MB before, %d MB at the peak", name, st.Requests, st.Answers, st.RSSBefore>>20, st.RSSPeak>>20)
		if grew := st.RSSPeak - st.RSSBefore; grew > floodMemoryBound {
			t.Errorf("%s: kysod's resident memory grew by %d MB under a flood of unknown clients, more than %d MB", name, grew>>20, floodMemoryBound>>20)
		}
		for answer, n := range st.Answers {
			if answer != "401" && answer != "429" {
				t.Errorf("%s: %d requests answered %s", name, n, answer)
			}
		}
		if st.Requests == 0 || st.NoRetryAfter != 0 {
			t.Errorf("%s: %d requests, %d refusals without Retry-After", name, st.Requests, st.NoRetryAfter)
		}
	}
	st, err := cscbench.Flood(ctx, cscbench.FloodOptions{URL: base, Roots: roots, PID: d.cmd.Process.Pid, Concurrency: 200, Sources: 200}, pause)
	if err != nil {
		t.Fatal(err)
	}
	check("200 addresses", st)

	st, err = cscbench.Flood(ctx, cscbench.FloodOptions{URL: base, Roots: roots, PID: d.cmd.Process.Pid, Concurrency: 200, Sources: 1},
		func(ctx context.Context) error {
			// Another address, during the flood: no 429.
			if _, err := portal(nil).Token(ctx); err != nil {
				t.Errorf("the relying party on another address, during the flood: %v", err)
			}
			return pause(ctx)
		})
	if err != nil {
		t.Fatal(err)
	}
	check("one address", st)
	if st.Answers["429"] == 0 {
		t.Errorf("one address flooding: answers %v, no 429", st.Answers)
	}
	// The flooding address itself: refused at first, as its bucket is
	// empty, then served once it waits as told.
	p := portal(cscbench.FloodSource(0))
	for i := 0; ; i++ {
		_, err := p.Token(ctx)
		if err == nil {
			break
		}
		var ae *csc.APIError
		if !errors.As(err, &ae) || ae.Status != http.StatusTooManyRequests || ae.RetryAfter < time.Second || i == 10 {
			t.Fatalf("the relying party on the flooding address, attempt %d: %v", i+1, err)
		}
		time.Sleep(ae.RetryAfter)
	}
	d.stop(t)
}
