package cscbench

import (
	"bytes"
	"context"
	"crypto"
	"crypto/rand"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"sync"
	"time"

	"github.com/kyso-pki/kyso/hsm"
	"github.com/kyso-pki/kyso/pkg/store"
)

// The floor row is the least any remote signer that keeps the rules must
// do for one signHash request, built from the same parts as kyso and
// nothing else: the request over the same HTTPS connection, one durable
// write to the same database (the activation data must be spent, and the
// signatures audited, before the key signs: one commit at the least), and a
// C_Sign per hash with a key resident on the token. No token check, no
// lookup, no SAD, no JSON schema: so it bounds from above what kyso's
// signhash can reach, as the bare loop bounds the key alone.

// floorRequest is the floor's request body: hashes to sign, base64.
type floorRequest struct {
	Algorithm string   `json:"alg"`
	Hashes    [][]byte `json:"hashes"`
}

// floorResponse is its answer.
type floorResponse struct {
	Signatures [][]byte `json:"signatures"`
}

// floorHandler serves the floor at /floor.
type floorHandler struct {
	st   store.Store
	keys hsm.KeyStore

	mu      sync.Mutex
	signers map[string]crypto.Signer
}

func (f *floorHandler) signer(ctx context.Context, alg string) (crypto.Signer, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if s := f.signers[alg]; s != nil {
		return s, nil
	}
	s, err := f.keys.Signer(ctx, &hsm.SignerRequest{Label: bareLabel(hsm.Algorithm(alg))})
	if err != nil {
		return nil, err
	}
	f.signers[alg] = s
	return s, nil
}

func (f *floorHandler) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	var req floorRequest
	if err := json.NewDecoder(io.LimitReader(r.Body, 1<<20)).Decode(&req); err != nil || len(req.Hashes) == 0 {
		http.Error(w, "bad floor request", http.StatusBadRequest)
		return
	}
	s, err := f.signer(r.Context(), req.Algorithm)
	if err != nil {
		http.Error(w, err.Error(), http.StatusInternalServerError)
		return
	}
	events := make([]*store.AuditEvent, len(req.Hashes))
	for i := range events {
		events[i] = &store.AuditEvent{Time: time.Now(), Actor: "kyso-bench", Action: "bench.floor", Subject: req.Algorithm, Outcome: "intent", Details: []byte("{}")}
	}
	if err := f.st.AppendAudit(r.Context(), events...); err != nil {
		http.Error(w, err.Error(), http.StatusInternalServerError)
		return
	}
	var opts crypto.SignerOpts = crypto.SHA256
	resp := floorResponse{Signatures: make([][]byte, len(req.Hashes))}
	for i, d := range req.Hashes {
		if resp.Signatures[i], err = s.Sign(rand.Reader, d, opts); err != nil {
			http.Error(w, err.Error(), http.StatusInternalServerError)
			return
		}
	}
	w.Header().Set("Content-Type", "application/json")
	json.NewEncoder(w).Encode(&resp)
}

// Floor measures the floor row: o.Clients clients, each on a keep-alive
// HTTPS connection of its own, send o.Hashes random digests a request. The
// last response of every client is verified.
func (e *Env) Floor(ctx context.Context, o RowOptions) Result {
	o.defaults()
	r := Result{Row: RowFloor, Algorithm: string(o.Algorithm), Hashes: o.Hashes, Clients: o.Clients}
	pub, err := e.floor.signer(ctx, string(o.Algorithm))
	if err != nil {
		r.Err = err.Error()
		return r
	}
	cs := make([]*http.Client, o.Clients)
	for i := range cs {
		cs[i] = &http.Client{Transport: e.srv.Client().Transport.(*http.Transport).Clone(), Timeout: time.Minute}
		defer cs[i].CloseIdleConnections()
	}
	body := func() ([]byte, [][]byte) {
		hs := randomDigests(o.Hashes)
		b, _ := json.Marshal(&floorRequest{Algorithm: string(o.Algorithm), Hashes: hs})
		return b, hs
	}
	call := func(ctx context.Context, c *http.Client, b []byte) ([][]byte, error) {
		req, err := http.NewRequestWithContext(ctx, http.MethodPost, e.srv.URL+"/floor", bytes.NewReader(b))
		if err != nil {
			return nil, err
		}
		req.Header.Set("Content-Type", "application/json")
		resp, err := c.Do(req)
		if err != nil {
			return nil, err
		}
		defer resp.Body.Close()
		if resp.StatusCode != http.StatusOK {
			msg, _ := io.ReadAll(io.LimitReader(resp.Body, 1024))
			return nil, fmt.Errorf("floor: %s: %s", resp.Status, msg)
		}
		var out floorResponse
		if err := json.NewDecoder(resp.Body).Decode(&out); err != nil {
			return nil, err
		}
		return out.Signatures, nil
	}
	// Requests are made ahead, as signhash's SADs are.
	type pending struct {
		body   []byte
		hashes [][]byte
	}
	for w := range cs { // warm the connections
		b, _ := body()
		if _, err := call(ctx, cs[w], b); err != nil {
			r.Err = err.Error()
			return r
		}
	}
	const ahead = 512
	queues := make([][]pending, len(cs))
	for w := range queues {
		for range ahead {
			b, hs := body()
			queues[w] = append(queues[w], pending{b, hs})
		}
	}
	next := make([]int, len(cs))
	last := make([]struct{ hashes, sigs [][]byte }, len(cs))
	t, err := measure(ctx, len(cs), o.Duration, func(ctx context.Context, w int) (int, error) {
		p := queues[w][next[w]%ahead]
		next[w]++
		sigs, err := call(ctx, cs[w], p.body)
		if err != nil {
			return 0, err
		}
		last[w].hashes, last[w].sigs = p.hashes, sigs
		return len(sigs), nil
	})
	r.fill(t)
	if err != nil {
		r.Err = err.Error()
		return r
	}
	for _, l := range last {
		if len(l.sigs) != len(l.hashes) {
			r.Err = fmt.Sprintf("floor: %d signatures for %d hashes", len(l.sigs), len(l.hashes))
			return r
		}
		for i := range l.hashes {
			if err := verify(pub.Public(), l.hashes[i], l.sigs[i]); err != nil {
				r.Err = fmt.Sprintf("floor: signature %d: %v", i+1, err)
				return r
			}
		}
	}
	return r
}
