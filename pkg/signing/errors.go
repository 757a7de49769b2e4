package signing

import (
	"errors"
	"fmt"
	"time"

	"github.com/kyso-pki/kyso/hsm"
	"github.com/kyso-pki/kyso/pkg/store"
)

// Kind says what went wrong, whatever the protocol that reports it: each
// API dialect (CSC, SmartCA, the owners' and officers' APIs) keeps a table
// from Kind to its HTTP status and wire code (pkg/httpedge), so that one
// outcome gets one status everywhere. The zero Kind is KindInternal: an
// error nobody classified is the server's fault, never the caller's.
type Kind int

// Kinds. The owner's factors have no kind of their own: every failed
// combination of PIN and one-time code is KindDenied with one text, so no
// answer tells which factor was right; KindLocked answers an attempt
// refused, unevaluated, after Config.PINAttempts failed ones.
const (
	// KindInternal: a fault of the server (the database, the HSM, a
	// bug). Its detail goes to the log, never to the caller.
	KindInternal Kind = iota
	// KindInvalid: the request is malformed or asks for something that
	// cannot be (a bad field, a hash of the wrong length, store.ErrInvalid).
	KindInvalid
	// KindNotFound: what the request names does not exist, or not for
	// this caller.
	KindNotFound
	// KindConflict: the request contradicts the state (a transaction
	// already decided, an ID already taken, a one-time code already used).
	KindConflict
	// KindDenied: the caller is known but not allowed: wrong PIN or
	// one-time code, a token of the wrong scope, another client's token.
	KindDenied
	// KindLocked: the owner's factors are locked after too many failed
	// attempts; nothing was evaluated.
	KindLocked
	// KindClientInvalid: a client's credentials (client_id and secret,
	// sp_id and sp_password, its TLS certificate) do not prove it (RFC
	// 6749 section 5.2 invalid_client).
	KindClientInvalid
	// KindTokenInvalid: the bearer token is missing, malformed, unknown,
	// revoked, expired or bound to a certificate not presented (RFC 6750
	// section 3.1 invalid_token).
	KindTokenInvalid
	// KindExpired: the authorisation the request carries (a SAD, a
	// transaction) has expired.
	KindExpired
	// KindBusy: the server will not take the work now (every place for
	// a PIN check stayed taken for Config.HashWait); try again shortly.
	KindBusy
	// KindRateLimited: the caller is over its rate limit (RFC 6585
	// section 4). The service does not produce it; the edge does.
	KindRateLimited
	// numKinds counts the kinds; keep it last.
	numKinds
)

var kindNames = [numKinds]string{
	KindInternal:      "internal",
	KindInvalid:       "invalid",
	KindNotFound:      "not_found",
	KindConflict:      "conflict",
	KindDenied:        "denied",
	KindLocked:        "locked",
	KindClientInvalid: "client_invalid",
	KindTokenInvalid:  "token_invalid",
	KindExpired:       "expired",
	KindBusy:          "busy",
	KindRateLimited:   "rate_limited",
}

// String is the kind's name, for logs and audit records (not a wire code).
func (k Kind) String() string {
	if k < 0 || k >= numKinds {
		return fmt.Sprintf("kind(%d)", int(k))
	}
	return kindNames[k]
}

// Kinds lists every Kind, for tables that must map each one.
func Kinds() []Kind {
	ks := make([]Kind, numKinds)
	for i := range ks {
		ks[i] = Kind(i)
	}
	return ks
}

// Error is an error a front end shows its caller: what went wrong (Kind)
// and a description safe to show. Internal causes stay in Err, for the
// log.
type Error struct {
	Kind        Kind
	Description string
	Err         error
	// RetryAfter, when positive, is how long the caller should wait
	// before trying again (a lock's remaining time); the edge sends it as
	// Retry-After (RFC 9110 section 10.2.3).
	RetryAfter time.Duration
}

func (e *Error) Error() string {
	if e.Err != nil {
		return fmt.Sprintf("signing: %s: %s: %v", e.Kind, e.Description, e.Err)
	}
	return fmt.Sprintf("signing: %s: %s", e.Kind, e.Description)
}

func (e *Error) Unwrap() error { return e.Err }

// Is lets errors.Is match an *Error by kind: errors.Is(err, &Error{Kind: k}).
func (e *Error) Is(target error) bool {
	t, ok := target.(*Error)
	return ok && t.Kind == e.Kind && t.Description == ""
}

func fail(kind Kind, format string, args ...any) *Error {
	return &Error{Kind: kind, Description: fmt.Sprintf(format, args...)}
}

// sentinelKinds maps the store's and the key store's sentinel errors to
// kinds, with the description a caller is shown when one reaches the edge
// unwrapped by the service: the one place they are classified. A key
// store that cannot be reached, or no longer holds a credential's key (an
// HSM restarting, a token re-initialised or lost), is the service's
// trouble, not the caller's, and says so: 503, nothing signed.
var sentinelKinds = []struct {
	err  error
	kind Kind
	desc string
}{
	{store.ErrInvalid, KindInvalid, "a field of the request is malformed or too long"},
	{store.ErrNotFound, KindNotFound, "not found"},
	{store.ErrConflict, KindConflict, "the request conflicts with a change made meanwhile; try again"},
	{store.ErrReplay, KindConflict, "already used"},
	{store.ErrExists, KindConflict, "already exists"},
	{store.ErrUnavailable, KindBusy, "the service cannot reach its storage now (its storage is full or unreachable); nothing was changed; try again later"},
	{hsm.ErrUnavailable, KindBusy, keyStoreDown},
	{hsm.ErrKeyNotFound, KindBusy, keyStoreDown},
	{hsm.ErrInvalidWrappedKey, KindBusy, keyStoreDown},
}

// keyStoreDown is what a caller is told when the key store fails.
const keyStoreDown = "the key store (HSM) cannot sign with this key now: it is unreachable, or no longer holds the key; nothing was signed; the operators are told; try again later"

// Outage reports whether err is the database's or the key store's
// failure (unreachable, full, a key gone), which the operators must hear
// of: every request of its kind fails until it is mended.
func Outage(err error) bool {
	for _, e := range []error{store.ErrUnavailable, hsm.ErrUnavailable, hsm.ErrKeyNotFound, hsm.ErrInvalidWrappedKey} {
		if errors.Is(err, e) {
			return true
		}
	}
	return false
}

// Public classifies err for an answer: its Kind and the description the
// caller may be shown. A *Error gives its own; a store or key store
// sentinel (wrapped or not) its kind and a fixed text; anything else — a database or HSM
// failure, a context cancelled — is KindInternal with "internal error",
// its detail kept for the log.
func Public(err error) (Kind, string) {
	var se *Error
	if errors.As(err, &se) {
		return se.Kind, se.Description
	}
	for _, s := range sentinelKinds {
		if errors.Is(err, s.err) {
			return s.kind, s.desc
		}
	}
	return KindInternal, "internal error"
}

// KindOf is Public's kind.
func KindOf(err error) Kind {
	k, _ := Public(err)
	return k
}
