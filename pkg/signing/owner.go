package signing

import (
	"context"
	"errors"
	"fmt"

	"github.com/kyso-pki/kyso/pkg/store"
)

// checkPIN checks an owner's PIN: refused while locked; a wrong PIN counts
// towards the lockout (Config.PINAttempts in a row lock the owner for
// Config.PINLockout). The caller resets the count once every factor it
// asks for has passed (resetFailures).
func (s *Service) checkPIN(ctx context.Context, o *store.Owner, pin string) error {
	now := s.now()
	if now.Before(o.LockedUntil) {
		_ = s.audit(ctx, "owner:"+o.ID, "owner.pin", o.NationalID, "error", map[string]any{"error": "locked"})
		return fail(CodeLocked, "too many wrong PINs: locked until %s", o.LockedUntil.UTC().Format("2006-01-02 15:04:05Z"))
	}
	if checkPassword(o.PINHash, pin) {
		return nil
	}
	upd, err := s.st.RecordPINFailure(ctx, o.ID, s.cfg.PINAttempts, s.cfg.PINLockout, now)
	if err != nil {
		return err
	}
	if aerr := s.audit(ctx, "owner:"+o.ID, "owner.pin", o.NationalID, "error", map[string]any{"failures": upd.PINFailures, "locked": now.Before(upd.LockedUntil)}); aerr != nil {
		return aerr
	}
	if now.Before(upd.LockedUntil) {
		return fail(CodeLocked, "too many wrong PINs: locked until %s", upd.LockedUntil.UTC().Format("2006-01-02 15:04:05Z"))
	}
	return fail(CodeInvalidPIN, "wrong PIN (%d of %d attempts left)", s.cfg.PINAttempts-upd.PINFailures, s.cfg.PINAttempts)
}

// checkOTP checks a TOTP code and spends its time step, so a code is
// accepted once (RFC 6238 section 5.2).
func (s *Service) checkOTP(ctx context.Context, o *store.Owner, code string) error {
	secret, err := s.sealer.open(o.TOTPSecret, o.ID)
	if err != nil {
		return fmt.Errorf("signing: opening the TOTP secret of owner %s: %w", o.ID, err)
	}
	step := totpMatch(secret, code, s.now())
	if step < 0 {
		// Wrong codes count towards the lockout too: a PIN alone must
		// not let anyone try a million codes.
		upd, err := s.st.RecordPINFailure(ctx, o.ID, s.cfg.PINAttempts, s.cfg.PINLockout, s.now())
		if err != nil {
			return err
		}
		if aerr := s.audit(ctx, "owner:"+o.ID, "owner.otp", o.NationalID, "error", map[string]any{"failures": upd.PINFailures}); aerr != nil {
			return aerr
		}
		return fail(CodeInvalidOTP, "wrong or expired one-time code")
	}
	err = s.st.UseTOTPStep(ctx, o.ID, step)
	if errors.Is(err, store.ErrReplay) {
		return fail(CodeInvalidOTP, "this one-time code was already used; wait for the next one")
	}
	return err
}

// resetFailures clears the failure count after every factor passed.
func (s *Service) resetFailures(ctx context.Context, o *store.Owner) error {
	if o.PINFailures == 0 {
		return nil
	}
	return s.st.ResetPINFailures(ctx, o.ID)
}

// twoFactors checks the PIN, then the one-time code; only both together
// reset the failure count.
func (s *Service) twoFactors(ctx context.Context, o *store.Owner, pin, otp string) error {
	if err := s.checkPIN(ctx, o, pin); err != nil {
		return err
	}
	if err := s.checkOTP(ctx, o, otp); err != nil {
		return err
	}
	return s.resetFailures(ctx, o)
}
