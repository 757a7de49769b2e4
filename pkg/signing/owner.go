package signing

import (
	"context"
	"encoding/hex"
	"errors"
	"fmt"
	"time"

	"go.opentelemetry.io/otel/attribute"

	"github.com/kyso-pki/kyso/internal/tracing"
	"github.com/kyso-pki/kyso/pkg/store"
)

// Factor verdicts, as the audit log records them (never a factor's value).
const (
	factorRight    = "right"
	factorWrong    = "wrong"
	factorReplayed = "replayed"
)

// checkFactors is the one check of an owner's factors, for every login
// and approval (DESIGN.md, "Factor attempts"): PIN and one-time code
// (twoFactors), or a passkey's answer made for use (nil: this approval
// takes no passkey). Either is one attempt, reserved in the database
// before anything is evaluated (store.ReserveAttempt) under the same
// counter and lock, and audited the same way (owner.factors: which
// factor and its verdict, never its value). It returns the kind of
// factors that passed ("pin+otp", "passkey").
func (s *Service) checkFactors(ctx context.Context, o *store.Owner, f *Factors, use *passkeyUse) (string, error) {
	if f == nil {
		f = &Factors{}
	}
	if len(f.Passkey) == 0 {
		return f.kind(), s.twoFactors(ctx, o, f.PIN, f.OTP)
	}
	if s.rp == nil {
		return "", s.passkeysOff()
	}
	if use == nil {
		return "", fail(KindInvalid, "a passkey cannot approve this request: use the PIN and one-time code")
	}
	err := s.attempt(ctx, o, nil, func(now time.Time, details map[string]any) (bool, *Error, error) {
		verdict, key, err := s.passkeyAttempt(ctx, o, f.Passkey, *use, now)
		if err != nil {
			return false, nil, err
		}
		details["factor"], details["passkey"] = "passkey", verdict
		if key != nil {
			details["passkey_id"] = passkeyID(key.ID)
		}
		switch verdict {
		case factorRight:
			return true, nil, nil
		case passkeyNoUV:
			return false, noUVError(), nil
		case passkeyCounter:
			// Two authenticators answering with one key: a copy of it
			// may exist. Its own event, for the operators.
			if err := s.audit(ctx, "owner:"+o.ID, "passkey.clone", o.NationalID, "error", map[string]any{"passkey_id": details["passkey_id"]}); err != nil {
				return false, nil, err
			}
		}
		return false, factorsDenied(), nil
	})
	return f.kind(), err
}

// twoFactors checks the owner's PIN and one-time code as one attempt
// (checkFactors). A granted attempt always runs argon2 on the PIN once
// and always checks (and spends) the code, whatever either says, and
// every failed combination — wrong PIN, wrong code, both, a replayed code
// — gets the same error (factorsDenied): no answer tells which factor was
// right. The audit log records which factor failed.
//
// The place at the argon2id gate (cost.go) is taken before the attempt is
// reserved: a check refused as busy (KindBusy) spends none of the owner's
// attempts.
func (s *Service) twoFactors(ctx context.Context, o *store.Owner, pin, otp string) error {
	leave, err := s.gate.hold(ctx)
	if err != nil {
		return err
	}
	defer leave()
	return s.attempt(ctx, o, leave, func(now time.Time, details map[string]any) (bool, *Error, error) {
		pinVerdict := factorWrong
		_, span := tracing.Child(ctx, "argon2.evaluate", attribute.String("kyso.argon2.op", "check"))
		if argon2Check(o.PINHash, pin) {
			pinVerdict = factorRight
		}
		span.End()
		leave()
		otpVerdict, err := s.spendOTP(ctx, o, otp, now)
		if err != nil {
			return false, nil, err
		}
		details["factor"], details["pin"], details["otp"] = "pin+otp", pinVerdict, otpVerdict
		if pinVerdict == factorRight && otpVerdict == factorRight {
			return true, nil, nil
		}
		return false, factorsDenied(), nil
	})
}

// attempt runs eval as one attempt at the owner's factors: it reserves
// the attempt first (store.ReserveAttempt) — while the owner is locked it
// answers KindLocked and evaluates nothing (calling locked first, when
// set), so however many guesses arrive at once, on however many
// replicas, at most Config.PINAttempts are evaluated per lock — then
// evaluates, audits owner.factors with the details eval wrote, and
// releases the count only when eval passed. eval's refusal is the answer
// to a failed attempt.
func (s *Service) attempt(ctx context.Context, o *store.Owner, locked func(), eval func(now time.Time, details map[string]any) (bool, *Error, error)) error {
	return s.counted(ctx, &attempts{
		actor: "owner:" + o.ID, subject: o.NationalID,
		reserve: func(now time.Time) (*store.Attempt, error) {
			return s.st.ReserveAttempt(ctx, o.ID, s.cfg.PINAttempts, s.cfg.PINLockout, now)
		},
		release: func() error { return s.st.ReleaseAttempts(ctx, o.ID) },
	}, locked, eval)
}

// attempts is whose attempts counted counts: an owner's (attempt), or the
// logins naming a national ID no owner holds (loginMiss), audited as
// actor on subject.
type attempts struct {
	actor, subject string
	reserve        func(now time.Time) (*store.Attempt, error)
	release        func() error
}

// counted is attempt's rule over any attempts: reserve, evaluate unless
// locked, audit owner.factors (or owner.locked), release on a pass.
func (s *Service) counted(ctx context.Context, c *attempts, locked func(), eval func(now time.Time, details map[string]any) (bool, *Error, error)) error {
	now := s.now()
	a, err := c.reserve(now)
	if err != nil {
		return err
	}
	if !a.Granted {
		if locked != nil {
			locked()
		}
		if err := s.audit(ctx, c.actor, "owner.locked", c.subject, "error", map[string]any{"attempts": a.Count, "locked_until": a.LockedUntil}); err != nil {
			return err
		}
		return lockedError(a.LockedUntil, now)
	}
	details := map[string]any{"attempt": a.Count, "limit": s.cfg.PINAttempts}
	passed, refusal, err := eval(now, details)
	if err != nil {
		return err
	}
	outcome := "error"
	if passed {
		outcome = "ok"
	} else if !a.LockedUntil.IsZero() {
		details["locked_until"] = a.LockedUntil
	}
	if err := s.audit(ctx, c.actor, "owner.factors", c.subject, outcome, details); err != nil {
		return err
	}
	if !passed {
		return refusal
	}
	return c.release()
}

// loginMiss answers a login naming a national ID no owner holds as a
// known owner's wrong factors are answered (twoFactors), so that neither
// the answer, nor its time, nor the lock tells who is enrolled: behind
// the same argon2id gate, the miss is counted (store.ReserveMiss, under an
// HMAC of the ID with the service's secret key, never the ID), the decoy
// hash checked, owner.factors audited (subject "unknown:" and the HMAC's
// first 8 bytes in hex), and after Config.PINAttempts misses the ID is
// locked for Config.PINLockout as an owner would be.
func (s *Service) loginMiss(ctx context.Context, nationalID, pin string) error {
	leave, err := s.gate.hold(ctx)
	if err != nil {
		return err
	}
	defer leave()
	key := s.clientMAC(loginMissMAC, nationalID)
	return s.counted(ctx, &attempts{
		actor: "owner:unknown", subject: "unknown:" + hex.EncodeToString(key[:8]),
		reserve: func(now time.Time) (*store.Attempt, error) {
			return s.st.ReserveMiss(ctx, key, s.cfg.PINAttempts, s.cfg.PINLockout, now)
		},
		release: func() error { return nil },
	}, leave, func(now time.Time, details map[string]any) (bool, *Error, error) {
		_, span := tracing.Child(ctx, "argon2.evaluate", attribute.String("kyso.argon2.op", "check"))
		argon2Check(decoyHash, pin)
		span.End()
		leave()
		details["factor"], details["pin"], details["otp"], details["owner"] = "pin+otp", factorWrong, factorWrong, "none"
		return false, factorsDenied(), nil
	})
}

// LoginMissRetention is how long a national ID's login misses are kept
// after the last one (PruneLoginMisses). An owner's failed attempts are
// kept until a success or a lock ends; misses cannot be kept forever, as
// anyone may try any ID, so an ID tried, left for this long and tried
// again starts afresh where an owner would not: an oracle of 90 days.
const LoginMissRetention = 90 * 24 * time.Hour

// PruneLoginMisses deletes the login misses of national IDs last tried
// over LoginMissRetention ago whose lock has ended; the webhook
// dispatcher runs it hourly.
func (s *Service) PruneLoginMisses(ctx context.Context) (int64, error) {
	now := s.now()
	return s.st.PruneMisses(ctx, now.Add(-LoginMissRetention), now)
}

// loginMissMAC is the first input of a login miss's HMAC (clientMAC),
// apart from every client ID (which never holds a space).
const loginMissMAC = "owner login miss"

// spendOTP checks a TOTP code and, when it matches a time step, spends
// that step so a code is accepted once (RFC 6238 section 5.2). The step is
// spent whatever the PIN was: a code shown to a failed attempt is used up,
// and the work done does not depend on the PIN.
func (s *Service) spendOTP(ctx context.Context, o *store.Owner, code string, now time.Time) (string, error) {
	secret, err := s.sealer.open(o.TOTPSecret, o.ID)
	if err != nil {
		return "", fmt.Errorf("signing: opening the TOTP secret of owner %s: %w", o.ID, err)
	}
	step := totpMatch(secret, code, now)
	if step < 0 {
		return factorWrong, nil
	}
	err = s.st.UseTOTPStep(ctx, o.ID, step)
	if errors.Is(err, store.ErrReplay) {
		return factorReplayed, nil
	}
	if err != nil {
		return "", err
	}
	return factorRight, nil
}

// factorsDenied is the one answer to an attempt whose factors did not all
// pass, whichever failed.
func factorsDenied() *Error {
	return fail(KindDenied, "wrong PIN or one-time code")
}

// lockedError is the answer to an attempt refused, unevaluated, by a lock.
// A lock follows Config.PINAttempts failed attempts, whichever factors
// failed in them, so it tells nothing about any factor. It says when to
// try again (RetryAfter): when the lock ends.
func lockedError(until, now time.Time) *Error {
	e := fail(KindLocked, "too many failed attempts at the PIN and one-time code: locked until %s", until.UTC().Format("2006-01-02 15:04:05Z"))
	e.RetryAfter = until.Sub(now)
	return e
}
