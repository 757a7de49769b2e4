package signing

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/kyso-pki/kyso/pkg/store"
)

// Factor verdicts, as the audit log records them (never a factor's value).
const (
	factorRight    = "right"
	factorWrong    = "wrong"
	factorReplayed = "replayed"
)

// twoFactors checks the owner's PIN and one-time code as one attempt
// (DESIGN.md, "Factor attempts"). The attempt is reserved in the database
// before anything is evaluated (store.ReserveAttempt): while the owner is
// locked it answers KindLocked and evaluates nothing, so however many
// guesses arrive at once, on however many replicas, at most
// Config.PINAttempts are evaluated per lock. A granted attempt always runs
// argon2 on the PIN once and always checks (and spends) the code, whatever
// either says, and every failed combination — wrong PIN, wrong code, both,
// a replayed code — gets the same error (factorsDenied): no answer tells
// which factor was right. Only an attempt whose every factor passed
// releases the count. The audit log records which factor failed.
//
// The place at the argon2id gate (cost.go) is taken before the attempt is
// reserved: a check refused as busy (KindBusy) spends none of the owner's
// attempts.
func (s *Service) twoFactors(ctx context.Context, o *store.Owner, pin, otp string) error {
	if err := s.gate.enter(ctx); err != nil {
		return err
	}
	inGate := true
	leave := func() {
		if inGate {
			s.gate.leave()
			inGate = false
		}
	}
	defer leave()
	now := s.now()
	a, err := s.st.ReserveAttempt(ctx, o.ID, s.cfg.PINAttempts, s.cfg.PINLockout, now)
	if err != nil {
		return err
	}
	if !a.Granted {
		leave()
		if err := s.audit(ctx, "owner:"+o.ID, "owner.locked", o.NationalID, "error", map[string]any{"attempts": a.Count, "locked_until": a.LockedUntil}); err != nil {
			return err
		}
		return lockedError(a.LockedUntil, now)
	}
	pinVerdict := factorWrong
	if argon2Check(o.PINHash, pin) {
		pinVerdict = factorRight
	}
	leave()
	otpVerdict, err := s.spendOTP(ctx, o, otp, now)
	if err != nil {
		return err
	}
	passed := pinVerdict == factorRight && otpVerdict == factorRight
	outcome, details := "error", map[string]any{"attempt": a.Count, "limit": s.cfg.PINAttempts, "pin": pinVerdict, "otp": otpVerdict}
	if passed {
		outcome = "ok"
	} else if !a.LockedUntil.IsZero() {
		details["locked_until"] = a.LockedUntil
	}
	if err := s.audit(ctx, "owner:"+o.ID, "owner.factors", o.NationalID, outcome, details); err != nil {
		return err
	}
	if !passed {
		return factorsDenied()
	}
	return s.st.ReleaseAttempts(ctx, o.ID)
}

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
