package csc_test

import (
	"context"
	"encoding/base64"
	"errors"
	"math/rand/v2"
	"net/http"
	"testing"

	"github.com/kyso-pki/kyso/hsm"
	"github.com/kyso-pki/kyso/internal/sadmut"
	"github.com/kyso-pki/kyso/pkg/algid"
	"github.com/kyso-pki/kyso/pkg/csc"
	"github.com/kyso-pki/kyso/pkg/signing"
)

// TestMutationsHTTP is a sample of pkg/signing's mutation suite over the
// whole CSC stack (TLS, bearer tokens, JSON, the handler, the service
// with its pre-signing check, SQLite): 300 generated signHash requests,
// from two relying parties, each refused with 400 and, read back from
// the audit log, for the reason the oracle expects and naming the
// activation its authorisation named; each SAD then spent correctly by
// its client and replayed. A request malformed in a way the CSC edge
// itself refuses (an unknown hashAlgorithmOID, more than 1000 hashes)
// never reaches the service and has no audit event: for those only the
// 400 is checked.
func TestMutationsHTTP(t *testing.T) {
	e := newEnv(t, hsm.ECDSAP256, false)
	ctx := context.Background()
	b := e.secondClient(t, "Cổng B")
	clients := map[string]*csc.Client{e.client.ClientID: e.client, b.ClientID: b}
	second, err := e.svc.Enrol(ctx, &signing.EnrolRequest{CCCD: "079203005678", Name: "Trần Thị Lan", Province: "Hà Nội", PIN: "975318", Algorithm: hsm.ECDSAP256})
	if err != nil {
		t.Fatal(err)
	}
	rng := rand.New(rand.NewPCG(13, 1))
	signHash := func(r sadmut.Sign) error {
		oid := algid.HashOID(r.Hash).String()
		if oid == "" {
			oid = "1.3.14.3.2.26" // SHA-1
		}
		req := &csc.SignHashRequest{CredentialID: r.CredentialID, SAD: r.SAD, HashAlgorithmOID: oid, SignAlgo: r.SignAlgo, Hashes: []string{}}
		for _, d := range r.Hashes {
			req.Hashes = append(req.Hashes, base64.StdEncoding.EncodeToString(d))
		}
		return clients[r.ClientID].Call(ctx, "signatures/signHash", req, &csc.SignHashResponse{})
	}
	mutations, edge := 0, 0
	refused := func(r sadmut.Sign, name, refusal, activation string) {
		t.Helper()
		mark := e.lastAudit(t)
		var ae *csc.APIError
		if err := signHash(r); !errors.As(err, &ae) || ae.Status != http.StatusBadRequest || ae.Body.Error != "invalid_request" {
			t.Fatalf("%s: %v, want 400 invalid_request (%s)", name, err, refusal)
		}
		mutations++
		evs := e.audit(t, mark, "signature.refuse")
		if len(evs) == 0 && refusal == sadmut.Malformed {
			edge++
			return
		}
		if len(evs) != 1 || evs[0].Actor != "client:"+r.ClientID || evs[0].d["refusal"] != refusal {
			t.Fatalf("%s: refusal events %+v, want one by client:%s for %s", name, evs, r.ClientID, refusal)
		}
		if refusal == sadmut.Malformed || refusal == sadmut.UnknownSAD {
			activation = ""
		}
		if got, _ := evs[0].d["activation"].(string); got != activation {
			t.Fatalf("%s: activation %q, want %q", name, got, activation)
		}
		if len(e.audit(t, mark, "signature.create")) != 0 {
			t.Fatalf("%s: a signature was made", name)
		}
	}
	for mutations < 300 {
		h := sadmut.AnyHash(rng)
		hashes := sadmut.Digests(rng, h, 1+rng.IntN(4))
		owner, other := e.client, b
		if rng.IntN(2) == 1 {
			owner, other = other, owner
		}
		pin, otp, err := e.factors(ctx)
		if err != nil {
			t.Fatal(err)
		}
		mark := e.lastAudit(t)
		sad, err := owner.Authorize(ctx, e.cred.CredentialID, hashes, h, pin, otp)
		if err != nil {
			t.Fatal(err)
		}
		auth := e.audit(t, mark, "credential.authorize")
		if len(auth) != 1 {
			t.Fatalf("%d credential.authorize events", len(auth))
		}
		activation, _ := auth[0].d["activation"].(string)
		good := sadmut.Sign{ClientID: owner.ClientID, CredentialID: e.cred.CredentialID, SAD: sad, Hashes: hashes, Hash: h,
			SignAlgo: sadmut.Fitting(rng, h, false)}
		world := sadmut.World{OtherClient: other.ClientID, OtherCredential: second.CredentialID}
		for k := 1 + rng.IntN(4); k > 0; k-- {
			m := sadmut.Mutate(rng, good, world)
			refused(m.Sign, m.Name, m.Refusal, activation)
		}
		sigs, err := owner.SignHash(ctx, good.CredentialID, good.SAD, good.Hashes, good.Hash, good.SignAlgo)
		if err != nil || len(sigs) != len(hashes) {
			t.Fatalf("the SAD after the refused requests: %d signatures, %v", len(sigs), err)
		}
		refused(good, "the right request, replayed", sadmut.Replay, activation)
		m := sadmut.Mutate(rng, good, world)
		refused(m.Sign, m.Name+", replay", sadmut.First(append(sadmut.Kinds(good, m.Sign, world), sadmut.Replay)...), activation)
	}
	t.Logf("%d mutated requests over HTTP refused; %d of them by the CSC edge before the service", mutations, edge)
}
