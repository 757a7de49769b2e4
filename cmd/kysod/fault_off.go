//go:build !kysocrash

package main

import (
	"context"
	"log/slog"

	"github.com/kyso-pki/kyso/hsm"
)

// installFaults does nothing in a release build: only the crash-test build
// (-tags kysocrash, fault_on.go) has HSM fault hooks.
func installFaults(context.Context, hsm.KeyStore, *slog.Logger) {}
