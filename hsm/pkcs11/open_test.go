//go:build cgo

package pkcs11

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/kyso-pki/kyso/hsm"
	"github.com/kyso-pki/kyso/internal/testenv"
)

func TestOpenErrors(t *testing.T) {
	// A token nobody in this process has logged in to: PKCS#11 login state
	// is per process and token, and a logged-in token does not check PINs.
	sh := testenv.NewSoftHSM(t)
	ctx := context.Background()
	pinFile := filepath.Join(t.TempDir(), "pin")
	if err := os.WriteFile(pinFile, []byte(sh.PIN+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	uri := func(edit func(u *hsm.URI)) *hsm.URI {
		u := sh.URI()
		edit(u)
		return u
	}
	cases := []struct {
		name    string
		uri     *hsm.URI
		want    error
		message string
	}{
		{"wrong-pin", uri(func(u *hsm.URI) { u.Query["pin-value"] = "wrong-" + sh.PIN }), hsm.ErrAuthentication, "PIN refused"},
		{"unknown-token", uri(func(u *hsm.URI) { u.Path["token"] = "no-such-token" }), hsm.ErrUnavailable, `token "no-such-token" not found in module ` + sh.Module + ` (tokens present: `},
		{"bad-module", uri(func(u *hsm.URI) { u.Query["module-path"] = "/nonexistent/libnothing.so" }), hsm.ErrUnavailable, "/nonexistent/libnothing.so"},
		{"not-a-module", uri(func(u *hsm.URI) { u.Query["module-path"] = pinFile }), hsm.ErrUnavailable, "could not be loaded"},
		{"wrong-slot", uri(func(u *hsm.URI) { u.Path["slot-id"] = "4242" }), hsm.ErrUnavailable, "in slot 4242"},
		{"no-token", uri(func(u *hsm.URI) { delete(u.Path, "token") }), nil, "names no token"},
		{"no-pin", uri(func(u *hsm.URI) { delete(u.Query, "pin-value") }), nil, "no pin-source or pin-value"},
		{"bad-pool-size", uri(func(u *hsm.URI) { u.Query["pool-size"] = "0" }), nil, "pool-size"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			s, err := Open(ctx, c.uri, nil)
			if err == nil {
				s.Close()
				t.Fatal("Open succeeded")
			}
			if c.want != nil && !errors.Is(err, c.want) {
				t.Errorf("err = %v, want %v", err, c.want)
			}
			if !strings.Contains(err.Error(), c.message) {
				t.Errorf("err = %q, want it to say %q", err, c.message)
			}
			if !strings.HasPrefix(err.Error(), "pkcs11: ") {
				t.Errorf("err = %q, want the pkcs11: prefix", err)
			}
			if strings.Contains(err.Error(), sh.PIN) {
				t.Errorf("error shows the PIN: %q", err)
			}
		})
	}

	t.Run("pin-source", func(t *testing.T) {
		u := sh.URI()
		delete(u.Query, "pin-value")
		u.Query["pin-source"] = "file:" + pinFile
		s, err := Open(ctx, u, nil)
		if err != nil {
			t.Fatalf("Open with pin-source: %v", err)
		}
		defer s.Close()
		info, err := s.CreateKey(ctx, &hsm.CreateKeyRequest{Label: "uri-check", Algorithm: hsm.ECDSAP256})
		if err != nil {
			t.Fatal(err)
		}
		parsed, err := hsm.ParseURI(info.URI)
		if err != nil {
			t.Fatalf("KeyInfo.URI %q does not parse: %v", info.URI, err)
		}
		if parsed.Scheme != "pkcs11" || parsed.Path["token"] != sh.TokenLabel || parsed.Path["object"] != "uri-check" ||
			parsed.Query["module-path"] != sh.Module || parsed.Query["pin-source"] != "file:"+pinFile || parsed.Query["pin-value"] != "" {
			t.Errorf("KeyInfo.URI = %q, want token, object, module-path and pin-source, no pin-value", info.URI)
		}
		if strings.Contains(info.URI, sh.PIN) {
			t.Errorf("KeyInfo.URI shows the PIN: %q", info.URI)
		}
		// The key URI opens the same store.
		s2, err := Open(ctx, parsed, nil)
		if err != nil {
			t.Fatalf("Open(KeyInfo.URI): %v", err)
		}
		defer s2.Close()
		if _, err := s2.Signer(ctx, &hsm.SignerRequest{Label: parsed.Path["object"]}); err != nil {
			t.Fatalf("Signer through KeyInfo.URI: %v", err)
		}
	})

	t.Run("closed", func(t *testing.T) {
		s, err := Open(ctx, sh.URI(), nil)
		if err != nil {
			t.Fatal(err)
		}
		signer, err := s.Signer(ctx, &hsm.SignerRequest{Label: "uri-check"})
		if err != nil {
			t.Fatal(err)
		}
		s.Close()
		if _, err := signer.Sign(nil, make([]byte, 32), hsmSHA256); err == nil {
			t.Error("a signer of a closed store signed")
		}
	})
}
