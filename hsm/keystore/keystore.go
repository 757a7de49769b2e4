// Package keystore opens the key store a URI names, whichever backend it is:
// "pkcs11:" (hsm/pkcs11), "vault:" (hsm/vault) or "softkey:" (hsm/softkey).
// It is the one place that knows every backend, so that commands and the
// daemon take a URI from their configuration and get an hsm.KeyStore.
package keystore

import (
	"context"
	"fmt"
	"log/slog"
	"net/http"

	"github.com/kyso-pki/kyso/hsm"
	"github.com/kyso-pki/kyso/hsm/pkcs11"
	"github.com/kyso-pki/kyso/hsm/softkey"
	"github.com/kyso-pki/kyso/hsm/vault"
)

// Options configure Open. The zero value is usable.
type Options struct {
	// Logger receives the backends' notices. Nil discards them.
	Logger *slog.Logger
	// HTTPClient is used to reach Vault; nil means a client with sane
	// timeouts.
	HTTPClient *http.Client
}

// KeyAttr returns the URI path attribute that names one key in scheme's
// URIs: "object" for pkcs11 (RFC 7512), "name" for vault and softkey.
func KeyAttr(scheme string) string {
	if scheme == "pkcs11" {
		return "object"
	}
	return "name"
}

// Open parses uri and opens its key store. It also returns the key label the
// URI names, or "" when it names only a store.
func Open(ctx context.Context, uri string, opts *Options) (hsm.KeyStore, string, error) {
	if opts == nil {
		opts = &Options{}
	}
	u, err := hsm.ParseURI(uri)
	if err != nil {
		return nil, "", err
	}
	label := u.Path[KeyAttr(u.Scheme)]
	var ks hsm.KeyStore
	switch u.Scheme {
	case "pkcs11":
		ks, err = pkcs11.Open(ctx, u, &pkcs11.Options{Logger: opts.Logger})
	case "vault":
		ks, err = vault.Open(ctx, u, &vault.Options{Logger: opts.Logger, HTTPClient: opts.HTTPClient})
	case "softkey":
		ks, err = softkey.Open(ctx, u, &softkey.Options{Logger: opts.Logger})
	default:
		return nil, "", fmt.Errorf("keystore: unknown key store scheme %q (want pkcs11:, vault: or softkey:)", u.Scheme)
	}
	if err != nil {
		return nil, "", err
	}
	return ks, label, nil
}
