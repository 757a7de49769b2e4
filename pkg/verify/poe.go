package verify

import (
	"crypto"
	"crypto/x509"
	"fmt"
	"slices"
	"time"

	"github.com/kyso-pki/kyso/pkg/algid"
	"github.com/kyso-pki/kyso/pkg/tsa"
)

// stampPOE is a time-stamp that verified at its own time: proof that what
// it covers existed at at, but only while the time-stamp can itself still
// be validated (ETSI EN 319 102-1 clauses 5.6.2.4 and 5.6.3, past signature
// validation and proofs of existence). That is, when its path to a trust
// anchor is valid now (until is zero), or when something later proves the
// time-stamp existed before until, the time its path expired: a document
// time-stamp over it, made before then and itself proven.
//
// The message imprint's digest algorithm ends it too: a time-stamp whose
// imprint algorithm expired by the validation policy (algid.HashExpiry)
// proves something only if it is proven to exist before that date.
type stampPOE struct {
	n       int // the signature time-stamp's number, 0 for a document time-stamp
	at      time.Time
	until   time.Time
	expired *x509.Certificate // the certificate of the path that expired at until
	// weak is the imprint algorithm when its expiry is what until is.
	weak crypto.Hash
}

// stampOf judges the token tok, which verified at its generation time
// with the TSA's chains, as a proof of existence: its TSA's path at the
// validation time, and its imprint's algorithm.
func (v *validation) stampOf(tok *tsa.Token, chains [][]*x509.Certificate, n int) stampPOE {
	st := v.pathPOE(tok, chains, n)
	if exp, ok := algid.HashExpiry(tok.HashAlgorithm); ok && !exp.After(v.now) && (st.until.IsZero() || exp.Before(st.until)) {
		st.until, st.weak = exp, tok.HashAlgorithm
	}
	return st
}

// pathPOE is stampOf for the TSA's path alone. The path found at the
// token's time is valid now when none of its certificates has expired
// since (they were all valid then); only when one has is another path
// looked for, at the validation time.
func (v *validation) pathPOE(tok *tsa.Token, chains [][]*x509.Certificate, n int) stampPOE {
	st := stampPOE{n: n, at: tok.GenTime}
	if len(chains) == 0 {
		return st // tsa.Token.Verify found a path; nothing says when it ends
	}
	for _, c := range chains[0] {
		if st.until.IsZero() || c.NotAfter.Before(st.until) {
			st.until, st.expired = c.NotAfter, c
		}
	}
	if st.until.After(v.now) {
		return stampPOE{n: n, at: tok.GenTime}
	}
	inter := append(slices.Clone(v.validationData().certs), tok.Certificates...)
	if _, err := v.memo.verifyChain(v.opts.Roots, chains[0][0], inter, v.now, x509.ExtKeyUsageTimeStamping); err == nil {
		return stampPOE{n: n, at: tok.GenTime}
	}
	return st
}

// provePOE decides which of a signature's or document time-stamp's own
// time-stamps prove its existence, and sets s.poe to the earliest that
// does. Verify calls it for the last signature first, so that the document
// time-stamps after s are decided when s is.
func (v *validation) provePOE(s *sigState) {
	for _, st := range s.stamps {
		if !st.until.IsZero() && !v.provenBefore(s, st.until) && st.weak != 0 {
			what := "the document time-stamp's"
			if st.n > 0 {
				what = fmt.Sprintf("signature time-stamp %d's", st.n)
			}
			s.warnWith(note(CodeTimestampWeakImprint, params("n", st.n, "algorithm", st.weak.String(), "expiry", st.until),
				"%s message imprint is %v, which the validation policy (%s) accepts until %s; nothing proves the time-stamp was made before, so it proves nothing",
				what, st.weak, algid.HashPolicy, st.until.Format(time.DateOnly)))
			continue
		}
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

// checkCertRef judges, by the dated policy (algid.HashExpiry), the hash
// with which the signing-certificate(-v2) attribute names the signer's
// certificate, at the time the signature is proven to exist (now when
// nothing proves an earlier time). A hash past its date only warns, as
// EU DSS's default policy does (ASCCM_AR_ANS_ANR): a reference to a
// certificate the signature carries rests on second-preimage resistance,
// which SHA-1 still has.
func (v *validation) checkCertRef(s *sigState) {
	id := s.cms.SigningCertificateV2
	exp, ok := algid.HashExpiry(id.Hash)
	t := v.now
	if !s.poe.IsZero() {
		t = s.poe
	}
	if !ok || t.Before(exp) {
		return
	}
	attr := "signing-certificate-v2"
	if s.cms.SigningCertificateV1 {
		attr = "signing-certificate (ESS v1, RFC 2634)"
	}
	s.warnWith(note(CodeLegacyCertRef, params("attribute", attr, "algorithm", id.Hash.String(), "expiry", exp),
		"the %s attribute names the signer's certificate by its %v hash, which the validation policy (%s) holds reliable until %s, before anything proves the signature existed; by that policy this only warns, since a reference to a certificate the signature carries needs second-preimage resistance alone",
		attr, id.Hash, algid.HashPolicy, exp.Format(time.DateOnly)))
}
