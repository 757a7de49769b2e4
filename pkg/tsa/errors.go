package tsa

import (
	"errors"
	"fmt"
)

// RefusedError is a time-stamp request that was not granted: the PKIStatus,
// PKIFailureInfo and status text of RFC 3161 section 2.4.2. The server
// returns it from Timestamp and ParseQuery; the client returns it when a TSA
// answers with anything but granted or grantedWithMods.
type RefusedError struct {
	Status   Status
	FailInfo FailureInfo
	// Text is the PKIFreeText the TSA sent, or the reason kyso refused.
	Text string
}

func (e *RefusedError) Error() string {
	msg := fmt.Sprintf("tsa: request refused: %v, failure %v", e.Status, e.FailInfo)
	if e.Text != "" {
		msg += ": " + e.Text
	}
	return msg
}

// Errors the client returns when a reply or token does not check out. They
// are wrapped with detail; test with errors.Is.
var (
	// ErrNonceMismatch: the token's nonce is not the one sent (RFC 3161
	// section 2.4.2).
	ErrNonceMismatch = errors.New("tsa: nonce mismatch")
	// ErrImprintMismatch: the token's message imprint is not the digest that
	// was to be time-stamped.
	ErrImprintMismatch = errors.New("tsa: message imprint mismatch")
	// ErrPolicyMismatch: the token was issued under another policy than the
	// one asked for.
	ErrPolicyMismatch = errors.New("tsa: policy mismatch")
	// ErrMalformed: the reply or token is not valid DER of the expected
	// structure.
	ErrMalformed = errors.New("tsa: malformed reply or token")
	// ErrSignature: the token's signature, signed attributes or signing
	// certificate reference do not check out (RFC 5652 section 5.6, RFC 5816).
	ErrSignature = errors.New("tsa: invalid token signature")
	// ErrUntrusted: the TSA certificate is not a time-stamping certificate
	// or does not chain to the trusted roots at genTime.
	ErrUntrusted = errors.New("tsa: untrusted TSA certificate")
)
