package verify

import (
	"crypto/x509"
	"slices"
	"time"

	"github.com/kyso-pki/kyso/pkg/tsa"
)

// stampPOE is a time-stamp that verified at its own time: proof that what
// it covers existed at at, but only while the time-stamp can itself still
// be validated (ETSI EN 319 102-1 clauses 5.6.2.4 and 5.6.3, past signature
// validation and proofs of existence). That is, when its path to a trust
// anchor is valid now (until is zero), or when something later proves the
// time-stamp existed before until, the time its path expired: a document
// time-stamp over it, made before then and itself proven.
type stampPOE struct {
	n       int // the signature time-stamp's number, 0 for a document time-stamp
	at      time.Time
	until   time.Time
	expired *x509.Certificate // the certificate of the path that expired at until
}

// stampOf judges the token tok, which verified at its generation time, as
// a proof of existence: its TSA's path at the validation time.
func (v *validation) stampOf(tok *tsa.Token, n int) stampPOE {
	st := stampPOE{n: n, at: tok.GenTime}
	cert := tokenSigner(tok)
	if cert == nil {
		return st // tsa.Token.Verify found the TSA; this is only its guess
	}
	inter := append(slices.Clone(v.validationData().certs), tok.Certificates...)
	if _, err := v.memo.verifyChain(v.opts.Roots, cert, inter, v.now, x509.ExtKeyUsageTimeStamping); err == nil {
		return st
	}
	st.until, st.expired = tok.GenTime, cert
	chains, err := v.memo.verifyChain(v.opts.Roots, cert, inter, tok.GenTime, x509.ExtKeyUsageTimeStamping)
	if err != nil {
		return st
	}
	st.until = chains[0][0].NotAfter
	for _, c := range chains[0] {
		if c.NotAfter.Before(st.until) {
			st.until, st.expired = c.NotAfter, c
		}
	}
	return st
}

// provePOE decides which of a signature's or document time-stamp's own
// time-stamps prove its existence, and sets s.poe to the earliest that
// does. Verify calls it for the last signature first, so that the document
// time-stamps after s are decided when s is.
func (v *validation) provePOE(s *sigState) {
	for _, st := range s.stamps {
		if !st.until.IsZero() && !v.provenBefore(s, st.until) {
			name := st.expired.Subject.CommonName
			p := params("n", st.n, "subject", name, "expiry", st.until)
			if st.n == 0 {
				s.warnWith(note(CodeTimestampNoPOE, p, "the document time-stamp's certificate %q expired on %s and nothing later proves the time-stamp was made before, so it proves nothing", name, stamp(st.until)))
			} else {
				s.warnWith(note(CodeTimestampNoPOE, p, "signature time-stamp %d's certificate %q expired on %s and nothing later proves the time-stamp was made before, so it proves nothing", st.n, name, stamp(st.until)))
			}
			continue
		}
		if s.poe.IsZero() || st.at.Before(s.poe) {
			s.poe, s.tsPOE = st.at, st.n > 0
		}
	}
}

// provenBefore reports whether a document time-stamp made after s (over a
// later revision), itself proven, existed before t.
func (v *validation) provenBefore(s *sigState, t time.Time) bool {
	for _, d := range v.sigs {
		if d.report.Kind == KindDocumentTimestamp && d.end > s.end && !d.done && !d.poe.IsZero() && d.poe.Before(t) {
			return true
		}
	}
	return false
}
