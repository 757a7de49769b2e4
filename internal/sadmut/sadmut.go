// Package sadmut generates mutated requests to spend or obtain activation
// data (SAD), for the mutation suites of pkg/signing and pkg/csc (issue
// 13): a request that was right, changed in one or more ways a relying
// party could change it — another client, another credential, another
// hash set, order or count, another algorithm, a changed SAD — and the
// refusal the service must give, judged by an oracle that reads the rules
// (DESIGN.md "The main flows", CSC API v2 SCAL2), not the service's code.
//
// Generation is deterministic for a seed: the same seed gives the same
// requests, so a failure can be replayed.
package sadmut

import (
	"bytes"
	"crypto"
	"fmt"
	"math/rand/v2"
	"slices"
	"strings"
)

// Refusal kinds, as pkg/signing names them in the details ("refusal") of
// the audit event signature.refuse, and of credential.authorize for an
// authorisation.
const (
	Malformed     = "malformed"
	UnknownSAD    = "unknown_sad"
	Client        = "client"
	Credential    = "credential"
	HashAlgorithm = "hash_algorithm"
	Expired       = "expired"
	Hashes        = "hashes"
	SignAlgo      = "sign_algo"
	Replay        = "replay"

	UnknownCredential = "unknown_credential"
	Factors           = "factors"
)

// precedence is the order in which the service checks a request to spend
// a SAD: when a request is wrong in several ways, the first of them is
// the refusal. Expired and Replay depend on state, not on the request;
// the suites set them up themselves.
var precedence = []string{Malformed, UnknownSAD, Client, Credential, HashAlgorithm, Expired, Hashes, SignAlgo, Replay}

// First returns the refusal among kinds that the service checks first.
func First(kinds ...string) string {
	for _, p := range precedence {
		if slices.Contains(kinds, p) {
			return p
		}
	}
	return ""
}

// Sign is a request to spend a SAD (CSC signatures/signHash).
type Sign struct {
	ClientID, CredentialID, SAD string
	Hashes                      [][]byte
	Hash                        crypto.Hash
	// SignAlgo is the signature algorithm OID; empty is the key's default.
	SignAlgo string
}

// Clone returns a deep copy of r.
func (r Sign) Clone() Sign {
	c := r
	c.Hashes = make([][]byte, len(r.Hashes))
	for i, h := range r.Hashes {
		c.Hashes[i] = bytes.Clone(h)
	}
	return c
}

// World is what a mutation may borrow: the other relying party and the
// other credential of the suite, and the kind of the credential's key.
type World struct {
	OtherClient, OtherCredential string
	// RSA says the credential's key is RSA (else EC).
	RSA bool
}

// Mutant is a mutated request, what was done to it, and the refusal the
// oracle expects.
type Mutant struct {
	Name string
	Sign
	Refusal string
}

// Signature algorithm OIDs (CSC API v2 signAlgo).
const (
	oidRSA       = "1.2.840.113549.1.1.1"
	oidRSAPSS    = "1.2.840.113549.1.1.10"
	oidRSASHA256 = "1.2.840.113549.1.1.11"
	oidEC        = "1.2.840.10045.2.1"
	oidECDSA256  = "1.2.840.10045.4.3.2"
	oidECDSA384  = "1.2.840.10045.4.3.3"
	oidECDSA512  = "1.2.840.10045.4.3.4"
)

var hashes = []crypto.Hash{crypto.SHA256, crypto.SHA384, crypto.SHA512}

// random returns n random digests of h's size.
func random(rng *rand.Rand, h crypto.Hash, n int) [][]byte {
	out := make([][]byte, n)
	for i := range out {
		out[i] = make([]byte, h.Size())
		for j := range out[i] {
			out[i][j] = byte(rng.UintN(256))
		}
	}
	return out
}

// Digests returns n random digests of h's size, for a right request.
func Digests(rng *rand.Rand, h crypto.Hash, n int) [][]byte { return random(rng, h, n) }

// AnyHash returns one of SHA-256, SHA-384 and SHA-512.
func AnyHash(rng *rand.Rand) crypto.Hash { return hashes[rng.IntN(len(hashes))] }

// atom is one way to change a request, in a group of ways that change the
// same thing: Mutate picks a group, then a way, so that each thing is
// changed about as often however many ways it has.
type atom struct {
	group string
	name  string
	apply func(rng *rand.Rand, r *Sign, w World) bool // false: not applicable
}

var atoms = []atom{
	{"client", "another client", func(_ *rand.Rand, r *Sign, w World) bool { r.ClientID = w.OtherClient; return true }},
	{"credential", "another credential", func(_ *rand.Rand, r *Sign, w World) bool { r.CredentialID = w.OtherCredential; return true }},
	{"credential", "an unknown credential", func(rng *rand.Rand, r *Sign, _ World) bool {
		r.CredentialID = fmt.Sprintf("nope-%d", rng.Uint64())
		return true
	}},
	{"malformed", "no credential", func(_ *rand.Rand, r *Sign, _ World) bool { r.CredentialID = ""; return true }},
	{"malformed", "a credential ID of 129 bytes", func(_ *rand.Rand, r *Sign, _ World) bool { r.CredentialID = strings.Repeat("c", 129); return true }},
	{"sad", "a changed SAD", func(rng *rand.Rand, r *Sign, _ World) bool {
		if r.SAD == "" {
			return false
		}
		// Another base64url letter in one place: as many draws whatever
		// the SAD, so a seed makes the same requests.
		b := []byte(r.SAD)
		i := rng.IntN(len(b))
		others := strings.ReplaceAll("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_", string(b[i]), "")
		b[i] = others[rng.IntN(len(others))]
		r.SAD = string(b)
		return true
	}},
	{"sad", "a longer SAD", func(_ *rand.Rand, r *Sign, _ World) bool { r.SAD += "A"; return true }},
	{"malformed", "no SAD", func(_ *rand.Rand, r *Sign, _ World) bool { r.SAD = ""; return true }},
	{"malformed", "a SAD of 257 bytes", func(_ *rand.Rand, r *Sign, _ World) bool { r.SAD = strings.Repeat("s", 257); return true }},
	{"hash algorithm", "another hash algorithm, hashes of its size", func(rng *rand.Rand, r *Sign, _ World) bool {
		r.Hash = otherHash(rng, r.Hash)
		r.Hashes = random(rng, r.Hash, len(r.Hashes))
		return true
	}},
	{"malformed", "another hash algorithm, the same hashes", func(rng *rand.Rand, r *Sign, _ World) bool {
		r.Hash = otherHash(rng, r.Hash)
		return true
	}},
	{"malformed", "SHA-1", func(_ *rand.Rand, r *Sign, _ World) bool { r.Hash = crypto.SHA1; return true }},
	{"hashes", "a bit flipped", func(rng *rand.Rand, r *Sign, _ World) bool {
		i, ok := pick(rng, r)
		if !ok {
			return false
		}
		r.Hashes[i][rng.IntN(len(r.Hashes[i]))] ^= 1 << rng.IntN(8)
		return true
	}},
	{"hashes", "a hash replaced", func(rng *rand.Rand, r *Sign, _ World) bool {
		if !anyHash(r) {
			return false
		}
		r.Hashes[rng.IntN(len(r.Hashes))] = random(rng, r.Hash, 1)[0]
		return true
	}},
	{"hashes", "two hashes swapped", func(rng *rand.Rand, r *Sign, _ World) bool {
		if len(r.Hashes) < 2 {
			return false
		}
		i := rng.IntN(len(r.Hashes))
		j := (i + 1 + rng.IntN(len(r.Hashes)-1)) % len(r.Hashes)
		r.Hashes[i], r.Hashes[j] = r.Hashes[j], r.Hashes[i]
		return true
	}},
	{"hashes", "the order reversed", func(_ *rand.Rand, r *Sign, _ World) bool {
		if len(r.Hashes) < 2 {
			return false
		}
		slices.Reverse(r.Hashes)
		return true
	}},
	{"hashes", "a hash dropped", func(rng *rand.Rand, r *Sign, _ World) bool {
		if len(r.Hashes) < 2 {
			return false
		}
		i := rng.IntN(len(r.Hashes))
		r.Hashes = slices.Delete(r.Hashes, i, i+1)
		return true
	}},
	{"hashes", "a hash added", func(rng *rand.Rand, r *Sign, _ World) bool {
		r.Hashes = slices.Insert(r.Hashes, rng.IntN(len(r.Hashes)+1), random(rng, r.Hash, 1)[0])
		return true
	}},
	{"hashes", "a hash repeated", func(rng *rand.Rand, r *Sign, _ World) bool {
		if !anyHash(r) {
			return false
		}
		i := rng.IntN(len(r.Hashes))
		r.Hashes = slices.Insert(r.Hashes, i, bytes.Clone(r.Hashes[i]))
		return true
	}},
	{"malformed", "no hashes", func(_ *rand.Rand, r *Sign, _ World) bool { r.Hashes = nil; return true }},
	{"malformed", "1001 hashes", func(rng *rand.Rand, r *Sign, _ World) bool {
		if len(r.Hashes) > 1001 {
			return false
		}
		r.Hashes = append(r.Hashes, random(rng, r.Hash, 1001-len(r.Hashes))...)
		return true
	}},
	{"malformed", "a hash cut short", func(rng *rand.Rand, r *Sign, _ World) bool {
		i, ok := pick(rng, r)
		if !ok {
			return false
		}
		r.Hashes[i] = r.Hashes[i][:len(r.Hashes[i])-1]
		return true
	}},
	{"malformed", "a hash too long", func(rng *rand.Rand, r *Sign, _ World) bool {
		if !anyHash(r) {
			return false
		}
		i := rng.IntN(len(r.Hashes))
		r.Hashes[i] = append(r.Hashes[i], 0)
		return true
	}},
	{"sign algo", "a signature algorithm for the other key type", func(rng *rand.Rand, r *Sign, w World) bool {
		if w.RSA {
			r.SignAlgo = []string{oidEC, oidECDSA256}[rng.IntN(2)]
		} else {
			r.SignAlgo = []string{oidRSA, oidRSAPSS, oidRSASHA256}[rng.IntN(3)]
		}
		return true
	}},
	{"sign algo", "a signature algorithm naming another hash", func(_ *rand.Rand, r *Sign, w World) bool {
		if w.RSA {
			return false
		}
		r.SignAlgo = map[crypto.Hash]string{crypto.SHA256: oidECDSA384, crypto.SHA384: oidECDSA512, crypto.SHA512: oidECDSA256}[r.Hash]
		return r.SignAlgo != ""
	}},
	{"sign algo", "an unknown signature algorithm", func(_ *rand.Rand, r *Sign, _ World) bool { r.SignAlgo = "1.2.3.4"; return true }},
}

// groups are the things a mutation changes.
var groups = []string{"client", "credential", "sad", "hash algorithm", "hashes", "sign algo", "malformed"}

// otherHash returns one of SHA-256, SHA-384 and SHA-512 that is not h.
func otherHash(rng *rand.Rand, h crypto.Hash) crypto.Hash {
	for {
		if o := hashes[rng.IntN(len(hashes))]; o != h {
			return o
		}
	}
}

// anyHash reports whether r has a hash to change.
func anyHash(r *Sign) bool { return len(r.Hashes) > 0 }

// pick returns the index of one of r's hashes, if it has one that is not
// empty.
func pick(rng *rand.Rand, r *Sign) (int, bool) {
	if !anyHash(r) {
		return 0, false
	}
	i := rng.IntN(len(r.Hashes))
	return i, len(r.Hashes[i]) > 0
}

// Mutate changes right in one to three ways (any of them chosen by rng)
// and returns the result with the refusal the oracle expects. right must
// be a request the service would accept.
func Mutate(rng *rand.Rand, right Sign, w World) Mutant {
	for {
		m := Mutant{Sign: right.Clone()}
		var names []string
		for n := 1 + rng.IntN(3)*rng.IntN(2); len(names) < n; {
			g := groups[rng.IntN(len(groups))]
			var in []atom
			for _, a := range atoms {
				if a.group == g {
					in = append(in, a)
				}
			}
			a := in[rng.IntN(len(in))]
			if a.apply(rng, &m.Sign, w) {
				names = append(names, a.name)
			}
		}
		m.Name = strings.Join(names, " + ")
		if m.Refusal = Oracle(right, m.Sign, w); m.Refusal != "" {
			return m
		}
	}
}

// Oracle returns the refusal a request to spend the SAD of right must get
// while the SAD is unspent and unexpired, or "" when it is right after
// all (a mutation undone by another).
func Oracle(right, got Sign, w World) string { return First(Kinds(right, got, w)...) }

// Kinds returns every way got differs from right that the service must
// refuse, in no order; First picks the refusal. A suite adds Expired or
// Replay when the SAD is expired or spent.
func Kinds(right, got Sign, w World) []string {
	var kinds []string
	malformed := got.Hash != crypto.SHA256 && got.Hash != crypto.SHA384 && got.Hash != crypto.SHA512 ||
		len(got.Hashes) == 0 || len(got.Hashes) > 1000 || got.SAD == "" || len(got.SAD) > 256 ||
		got.CredentialID == "" || len(got.CredentialID) > 128
	for _, h := range got.Hashes {
		if !malformed && len(h) != got.Hash.Size() {
			malformed = true
		}
	}
	if malformed {
		kinds = append(kinds, Malformed)
	}
	if got.SAD != right.SAD {
		kinds = append(kinds, UnknownSAD)
	}
	if got.ClientID != right.ClientID {
		kinds = append(kinds, Client)
	}
	if got.CredentialID != right.CredentialID {
		kinds = append(kinds, Credential)
	}
	if got.Hash != right.Hash {
		kinds = append(kinds, HashAlgorithm)
	}
	if !slices.EqualFunc(got.Hashes, right.Hashes, bytes.Equal) {
		kinds = append(kinds, Hashes)
	}
	if !fits(got.SignAlgo, got.Hash, w.RSA) {
		kinds = append(kinds, SignAlgo)
	}
	return kinds
}

// Fitting returns a signature algorithm OID right for a key (RSA or EC)
// and hashes of h: empty (the key's default) or one named outright.
func Fitting(rng *rand.Rand, h crypto.Hash, rsa bool) string {
	if rsa {
		return []string{"", oidRSAPSS}[rng.IntN(2)]
	}
	named := map[crypto.Hash]string{crypto.SHA256: oidECDSA256, crypto.SHA384: oidECDSA384, crypto.SHA512: oidECDSA512}[h]
	return []string{"", oidEC, named}[rng.IntN(3)]
}

// fits reports whether signAlgo may sign hashes of h with the key.
func fits(signAlgo string, h crypto.Hash, rsa bool) bool {
	switch signAlgo {
	case "":
		return true
	case oidRSA, oidRSAPSS:
		return rsa
	case oidRSASHA256:
		return rsa && h == crypto.SHA256
	case oidEC:
		return !rsa
	case oidECDSA256:
		return !rsa && h == crypto.SHA256
	case oidECDSA384:
		return !rsa && h == crypto.SHA384
	case oidECDSA512:
		return !rsa && h == crypto.SHA512
	}
	return false
}

// Authorize is a request for a SAD (CSC credentials/authorize) as far as
// a mutation changes it; the factors are the suite's to fill in.
type Authorize struct {
	CredentialID  string
	NumSignatures int
	Hashes        [][]byte
	Hash          crypto.Hash
	// WrongPIN, and OTP: "" (right and fresh), "wrong", "replayed" (the
	// code of the step last used) or "other-owner" (another owner's
	// current code).
	WrongPIN bool
	OTP      string
}

// AuthMutant is a mutated authorisation and the refusal it must get, with
// the factor that fails first ("pin" or "otp") for Factors.
type AuthMutant struct {
	Name string
	Authorize
	Refusal, Factor string
}

// MutateAuthorize changes a right authorisation in one or two ways.
// replayable says the step of the right code was already used (so a
// replayed code is one).
func MutateAuthorize(rng *rand.Rand, right Authorize, replayable bool) AuthMutant {
	changes := []struct {
		name  string
		apply func(a *Authorize) bool
	}{
		{"a wrong PIN", func(a *Authorize) bool { a.WrongPIN = true; return true }},
		{"a wrong code", func(a *Authorize) bool { a.OTP = "wrong"; return true }},
		{"another owner's code", func(a *Authorize) bool { a.OTP = "other-owner"; return true }},
		{"a replayed code", func(a *Authorize) bool { a.OTP = "replayed"; return replayable }},
		{"numSignatures off by one", func(a *Authorize) bool { a.NumSignatures += 1 - 2*rng.IntN(2); return true }},
		{"no hashes", func(a *Authorize) bool { a.Hashes, a.NumSignatures = nil, 0; return true }},
		{"a hash of another size", func(a *Authorize) bool {
			if len(a.Hashes) == 0 {
				return false
			}
			i := rng.IntN(len(a.Hashes))
			a.Hashes[i] = a.Hashes[i][:len(a.Hashes[i])-1-rng.IntN(8)]
			return true
		}},
		{"SHA-1", func(a *Authorize) bool { a.Hash = crypto.SHA1; return true }},
		{"an unknown credential", func(a *Authorize) bool { a.CredentialID = fmt.Sprintf("nope-%d", rng.Uint64()); return true }},
		{"a credential ID of 129 bytes", func(a *Authorize) bool { a.CredentialID = strings.Repeat("c", 129); return true }},
	}
	for {
		if m := mutateAuthorize(rng, right, changes); m.Refusal != "" {
			return m
		}
	}
}

// mutateAuthorize applies one or two of changes to right and judges the
// result; Refusal is "" when they undid each other.
func mutateAuthorize(rng *rand.Rand, right Authorize, changes []struct {
	name  string
	apply func(a *Authorize) bool
}) AuthMutant {
	m := AuthMutant{Authorize: right}
	m.Hashes = slices.Clone(right.Hashes)
	var names []string
	for n := 1 + rng.IntN(2); len(names) < n; {
		// The first four change a factor: as often as all the rest.
		c := changes[rng.IntN(4)]
		if rng.IntN(2) == 0 {
			c = changes[4+rng.IntN(len(changes)-4)]
		}
		if c.apply(&m.Authorize) {
			names = append(names, c.name)
		}
	}
	m.Name = strings.Join(names, " + ")
	a := m.Authorize
	malformed := len(a.Hashes) == 0 || a.NumSignatures != len(a.Hashes) || len(a.Hashes) > 1000 ||
		a.Hash != crypto.SHA256 && a.Hash != crypto.SHA384 && a.Hash != crypto.SHA512
	for _, h := range a.Hashes {
		if !malformed && len(h) != a.Hash.Size() {
			malformed = true
		}
	}
	switch {
	case malformed:
		m.Refusal = Malformed
	case a.CredentialID != right.CredentialID:
		m.Refusal = UnknownCredential
	case a.WrongPIN:
		m.Refusal, m.Factor = Factors, "pin"
	case a.OTP != "":
		m.Refusal, m.Factor = Factors, "otp"
	}
	return m
}
