package signing_test

import (
	"context"
	"errors"
	"fmt"
	"testing"

	"github.com/kyso-pki/kyso/hsm"
	"github.com/kyso-pki/kyso/pkg/signing"
	"github.com/kyso-pki/kyso/pkg/store"
)

// TestPublic: one place says which kind every error is — a signing.Error
// by its own, a store sentinel however wrapped by its kind, anything else
// internal with a text that tells nothing — and errors.Is still matches by
// kind.
func TestPublic(t *testing.T) {
	for _, c := range []struct {
		err  error
		kind signing.Kind
	}{
		{&signing.Error{Kind: signing.KindLocked, Description: "locked"}, signing.KindLocked},
		{fmt.Errorf("front: %w", &signing.Error{Kind: signing.KindDenied, Description: "no"}), signing.KindDenied},
		{fmt.Errorf("sqlite: %w", store.ErrInvalid), signing.KindInvalid},
		{fmt.Errorf("postgres: %w", store.ErrNotFound), signing.KindNotFound},
		{store.ErrConflict, signing.KindConflict},
		{store.ErrReplay, signing.KindConflict},
		{store.ErrExists, signing.KindConflict},
		{fmt.Errorf("pkcs11: %w: token gone", hsm.ErrUnavailable), signing.KindBusy},
		{fmt.Errorf("signing with credential c: %w", hsm.ErrKeyNotFound), signing.KindBusy},
		{fmt.Errorf("pkcs11: %w: made under a master key the token does not hold", hsm.ErrInvalidWrappedKey), signing.KindBusy},
		{context.DeadlineExceeded, signing.KindInternal},
		{errors.New("pq: connection refused"), signing.KindInternal},
	} {
		kind, desc := signing.Public(c.err)
		if kind != c.kind || desc == "" {
			t.Errorf("%v: kind %s %q, want %s", c.err, kind, desc, c.kind)
		}
		if kind == signing.KindInternal && desc != "internal error" {
			t.Errorf("%v: an internal error shows %q", c.err, desc)
		}
	}
	// The outages the operators must hear of: the database's and the key
	// store's, not a caller's mistakes nor a bug.
	for err, want := range map[error]bool{
		fmt.Errorf("x: %w", store.ErrUnavailable): true, fmt.Errorf("x: %w", hsm.ErrUnavailable): true,
		fmt.Errorf("x: %w", hsm.ErrKeyNotFound): true, fmt.Errorf("x: %w", hsm.ErrInvalidWrappedKey): true,
		store.ErrNotFound: false, errors.New("bug"): false, &signing.Error{Kind: signing.KindBusy, Description: "busy"}: false,
	} {
		if got := signing.Outage(err); got != want {
			t.Errorf("Outage(%v) = %v, want %v", err, got, want)
		}
	}
	err := fmt.Errorf("x: %w", &signing.Error{Kind: signing.KindBusy, Description: "busy"})
	if !errors.Is(err, &signing.Error{Kind: signing.KindBusy}) || errors.Is(err, &signing.Error{Kind: signing.KindLocked}) {
		t.Error("errors.Is does not match by kind")
	}
	seen := map[string]bool{}
	for _, k := range signing.Kinds() {
		if s := k.String(); seen[s] || s == "" {
			t.Errorf("kind %d named %q twice or not at all", int(k), s)
		} else {
			seen[s] = true
		}
	}
}
