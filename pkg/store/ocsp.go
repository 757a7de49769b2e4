package store

import (
	"context"
	"time"
)

// OCSPAnswer is an OCSP answer signed ahead of any request (issue 19,
// migration 0028) for one certificate.
type OCSPAnswer struct {
	Issuer string
	Serial []byte
	// DER is the OCSPResponse without the responder's certificate, which
	// lies outside the signature and is added when the answer is served.
	DER []byte
	// Status is the certificate's status the answer states (StatusGood,
	// StatusRevoked, StatusHold); Reason and RevokedAt are its
	// revocation's, when it is not good (read back, never stored).
	Status    string
	Reason    int
	RevokedAt time.Time
	// Version is the certificate's status version the answer was signed
	// for (OCSPDue.Version): an answer for another version is never
	// stored over a newer one, nor served.
	Version int64
	// Responder is the SHA-256 of the responder certificate that signed
	// the answer.
	Responder []byte
	// ThisUpdate and NextUpdate are the answer's; RefreshAt is when it is
	// to be signed again (half its validity).
	ThisUpdate, NextUpdate, RefreshAt time.Time
}

// OCSPDue is a certificate whose answer is to be signed: its status now
// and the status version that status is.
type OCSPDue struct {
	// ID is the certificate's insertion order (OCSPUnanswered's cursor);
	// RefreshAt the due answer's (OCSPStale's cursor, with Serial).
	ID        int64
	RefreshAt time.Time
	Serial    []byte
	Status    string
	Reason    int
	RevokedAt time.Time
	Version   int64
}

// OCSPAnswers keeps pre-signed OCSP answers. Every change of a
// certificate's status (Revoke, ReleaseHold) raises its status version
// and makes its stored answer due in the same transaction.
type OCSPAnswers interface {
	// OCSPUnanswered returns up to limit of issuer's certificates valid
	// at now with no stored answer, inserted after the one with ID
	// after, in insertion order.
	OCSPUnanswered(ctx context.Context, issuer string, now time.Time, after int64, limit int) ([]*OCSPDue, error)
	// OCSPStale returns up to limit certificates of issuer valid at now
	// whose stored answer is due by due, in (RefreshAt, Serial) order
	// after (afterAt, afterSerial): answers past half their validity,
	// made stale by a change of status, or signed by a replaced
	// responder (RetireOCSPResponder).
	OCSPStale(ctx context.Context, issuer string, now, due, afterAt time.Time, afterSerial []byte, limit int) ([]*OCSPDue, error)
	// PutOCSPAnswers stores the answers of one issuer in one transaction,
	// each only while its certificate's status version is still the
	// answer's (the certificate row is locked meanwhile) and never over
	// an answer for a newer version; it returns how many it stored.
	PutOCSPAnswers(ctx context.Context, issuer string, answers []*OCSPAnswer) (int, error)
	// GetOCSPAnswer returns the answer stored for issuer's serial when it
	// was signed for the certificate's current status version, and
	// ErrNotFound otherwise.
	GetOCSPAnswer(ctx context.Context, issuer string, serial []byte) (*OCSPAnswer, error)
	// RetireOCSPResponder makes every stored answer of issuer not signed
	// by responder due at once, and returns how many.
	RetireOCSPResponder(ctx context.Context, issuer string, responder []byte) (int64, error)
}
