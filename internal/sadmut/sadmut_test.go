package sadmut

import (
	"crypto"
	"math/rand/v2"
	"testing"
)

// TestMutate: every mutant is refused by the oracle (a change undone by
// another is drawn again), the right request is not, and a seed makes the
// same mutants.
func TestMutate(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 2))
	right := Sign{ClientID: "a", CredentialID: "cred", SAD: "c2FkLXZhbHVlLW9mLTQzLWJ5dGVzLWxvbmctZW5vdWdoLg", Hash: crypto.SHA256,
		Hashes: Digests(rng, crypto.SHA256, 3)}
	w := World{OtherClient: "b", OtherCredential: "other"}
	if got := Oracle(right, right.Clone(), w); got != "" {
		t.Fatalf("the right request is refused for %s", got)
	}
	names := func(seed uint64) []string {
		rng := rand.New(rand.NewPCG(seed, 0))
		var out []string
		for range 2000 {
			m := Mutate(rng, right, w)
			if m.Refusal == "" || m.Refusal != Oracle(right, m.Sign, w) {
				t.Fatalf("%s: refusal %q", m.Name, m.Refusal)
			}
			out = append(out, m.Name+"/"+m.Refusal)
		}
		return out
	}
	a, b := names(7), names(7)
	for i := range a {
		if a[i] != b[i] {
			t.Fatalf("seed 7 made %q then %q", a[i], b[i])
		}
	}
	for range 2000 {
		m := MutateAuthorize(rng, Authorize{CredentialID: "cred", NumSignatures: 3, Hashes: right.Hashes, Hash: crypto.SHA256}, true)
		if m.Refusal == "" || (m.Refusal == Factors) != (m.Factor != "") {
			t.Fatalf("%s: refusal %q, factor %q", m.Name, m.Refusal, m.Factor)
		}
	}
	if first := First(Replay, Hashes, Client); first != Client {
		t.Errorf("First = %s, want client (checked before the hashes and the replay)", first)
	}
}
