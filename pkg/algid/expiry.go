package algid

import (
	"crypto"
	"time"
)

// hashExpiry is the one table of when digest algorithms stop being
// acceptable for new proofs: a signature, a certificate or a time-stamp
// imprint made with one after its date proves nothing; one proven (by a
// time-stamp or other proof of existence) to exist before it still does.
// The dates are EU DSS 6.4's default validation policy
// (policy/constraint.xml, AlgoExpirationDate, updated 2024-10-13), which
// takes them from ETSI TS 119 312 v1.5.1 (SHA-1, SHA-224) and ETSI TS 102
// 176-1 V2.1.1 (MD5). A digest absent from the table (SHA-256, SHA-384,
// SHA-512, SHA-3) has no expiry.
var hashExpiry = map[crypto.Hash]time.Time{
	crypto.MD5:    time.Date(2004, 8, 1, 0, 0, 0, 0, time.UTC),
	crypto.SHA1:   time.Date(2012, 8, 1, 0, 0, 0, 0, time.UTC),
	crypto.SHA224: time.Date(2029, 1, 1, 0, 0, 0, 0, time.UTC),
}

// HashExpiry returns when h stops being acceptable by the validation
// policy kyso follows (see hashExpiry), and false when it does not expire.
func HashExpiry(h crypto.Hash) (time.Time, bool) {
	t, ok := hashExpiry[h]
	return t, ok
}

// HashPolicy names the source of HashExpiry's dates, for reports that say
// which rule decided.
const HashPolicy = "ETSI TS 119 312 v1.5.1, as EU DSS's default validation policy dates it"
