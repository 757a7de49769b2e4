package verify

import (
	"crypto/sha256"
	"crypto/x509"
	"encoding/binary"
	"sync"
	"time"

	"github.com/kyso-pki/kyso/pkg/revocation"
)

// maxMemo bounds the entries of each of a memo's maps; past it, results
// are computed and not kept.
const maxMemo = 4096

// memo keeps, for one Verify call, results that the validation of its
// signatures would otherwise compute again: certificate paths and verified
// revocation data. Every result is a function of its key alone (the exact
// bytes, times and options it was computed from), so a remembered answer
// is the one computing it again would give; nothing outlives the call, so
// one document's data cannot bear on another's verdict. It is safe for
// concurrent use, though Verify does not run anything concurrently.
type memo struct {
	mu     sync.Mutex
	chains map[[32]byte]chainResult
	ocsps  map[[32]byte]ocspResult
	crls   map[[32]byte]crlResult
	// off: keep nothing, compute every time (Options.noMemo).
	off bool
}

type chainResult struct {
	chains [][]*x509.Certificate
	err    error
}

type ocspResult struct {
	res *revocation.OCSPResult
	err error
}

type crlResult struct {
	res *revocation.CRLResult
	err error
}

// remember stores r under k in m unless m is full or the memo is off.
func remember[T any](off bool, mu *sync.Mutex, m *map[[32]byte]T, k [32]byte, r T) {
	if off {
		return
	}
	mu.Lock()
	defer mu.Unlock()
	if *m == nil {
		*m = map[[32]byte]T{}
	}
	if len(*m) < maxMemo {
		(*m)[k] = r
	}
}

// recall returns what m holds under k.
func recall[T any](mu *sync.Mutex, m map[[32]byte]T, k [32]byte) (T, bool) {
	mu.Lock()
	defer mu.Unlock()
	r, ok := m[k]
	return r, ok
}

// keyOf hashes the parts of a memo key, each length-prefixed so that no
// two lists of parts give the same input.
func keyOf(parts ...[]byte) [32]byte {
	h := sha256.New()
	var n [8]byte
	for _, p := range parts {
		binary.BigEndian.PutUint64(n[:], uint64(len(p)))
		h.Write(n[:])
		h.Write(p)
	}
	var k [32]byte
	h.Sum(k[:0])
	return k
}

// timeKey encodes the instant t, which is all x509.Verify and the
// revocation checks compare of a time.
func timeKey(t time.Time) []byte {
	var b [12]byte
	binary.BigEndian.PutUint64(b[:8], uint64(t.Unix()))
	binary.BigEndian.PutUint32(b[8:], uint32(t.Nanosecond()))
	return b[:]
}

// verifyChain is leaf.Verify with roots, the intermediates inter (added to
// the pool in that order), time t and the one extended key usage, computed
// once per distinct input: the same leaf, the same intermediates in the
// same order, the same instant and usage give the same pool and the same
// search by crypto/x509, so the same chains or error. The chains returned
// are shared: callers must not change them.
func (m *memo) verifyChain(roots *x509.CertPool, leaf *x509.Certificate, inter []*x509.Certificate, t time.Time, usage x509.ExtKeyUsage) ([][]*x509.Certificate, error) {
	parts := make([][]byte, 0, len(inter)+3)
	parts = append(parts, leaf.Raw, timeKey(t), binary.BigEndian.AppendUint64(nil, uint64(usage)))
	for _, c := range inter {
		parts = append(parts, c.Raw)
	}
	k := keyOf(parts...)
	if r, ok := recall(&m.mu, m.chains, k); ok {
		return r.chains, r.err
	}
	pool := x509.NewCertPool()
	for _, c := range inter {
		pool.AddCert(c)
	}
	chains, err := leaf.Verify(x509.VerifyOptions{Roots: roots, Intermediates: pool, CurrentTime: t, KeyUsages: []x509.ExtKeyUsage{usage}})
	remember(m.off, &m.mu, &m.chains, k, chainResult{chains, err})
	return chains, err
}

// parseOCSP is revocation.ParseOCSP(raw, cert, issuer), which looks at no
// clock, computed once per distinct input. The result is shared: callers
// must not change it.
func (m *memo) parseOCSP(raw []byte, cert, issuer *x509.Certificate) (*revocation.OCSPResult, error) {
	if cert == nil || issuer == nil {
		return revocation.ParseOCSP(raw, cert, issuer) // which says what is missing
	}
	k := keyOf(raw, cert.Raw, issuer.Raw)
	if r, ok := recall(&m.mu, m.ocsps, k); ok {
		return r.res, r.err
	}
	res, err := revocation.ParseOCSP(raw, cert, issuer)
	remember(m.off, &m.mu, &m.ocsps, k, ocspResult{res, err})
	return res, err
}

// parseCRL is revocation.ParseCRL(raw, cert, issuer), which looks at no
// clock, computed once per distinct input. The result is shared: callers
// must not change it.
func (m *memo) parseCRL(raw []byte, cert, issuer *x509.Certificate) (*revocation.CRLResult, error) {
	if cert == nil || issuer == nil {
		return revocation.ParseCRL(raw, cert, issuer) // which says what is missing
	}
	k := keyOf(raw, cert.Raw, issuer.Raw)
	if r, ok := recall(&m.mu, m.crls, k); ok {
		return r.res, r.err
	}
	res, err := revocation.ParseCRL(raw, cert, issuer)
	remember(m.off, &m.mu, &m.crls, k, crlResult{res, err})
	return res, err
}
