//go:build kysocrash

package main

import (
	"context"
	"log/slog"
	"os"
	"os/signal"
	"syscall"

	"github.com/kyso-pki/kyso/hsm"
)

// faultKeyStore is what the crash-test build of hsm/pkcs11 adds to its
// Store.
type faultKeyStore interface {
	FaultCloseAllSessions() error
	FaultQuiesce(fn func())
}

// installFaults gives the crash-test build (-tags kysocrash) its HSM fault
// hooks, for cmd/kysod's tests (hsmfault_test.go): SIGUSR1 closes every
// PKCS#11 session of the key store's slot, as an HSM restart does; SIGUSR2
// quiets the key store (no call inside the module) until the next SIGUSR2,
// so that another process may re-initialise or restore a SoftHSM token
// meanwhile. Each logs what it did. A key store that is not PKCS#11 gets
// none. A release build has no such hook (fault_off.go).
func installFaults(ctx context.Context, ks hsm.KeyStore, log *slog.Logger) {
	f, ok := ks.(faultKeyStore)
	if !ok {
		return
	}
	sigs := make(chan os.Signal, 4)
	signal.Notify(sigs, syscall.SIGUSR1, syscall.SIGUSR2)
	go func() {
		defer signal.Stop(sigs)
		for {
			var sig os.Signal
			select {
			case <-ctx.Done():
				return
			case sig = <-sigs:
			}
			if sig == syscall.SIGUSR1 {
				if err := f.FaultCloseAllSessions(); err != nil {
					log.Error("fault: C_CloseAllSessions failed", "err", err)
				} else {
					log.Warn("fault: closed every PKCS#11 session")
				}
				continue
			}
			f.FaultQuiesce(func() {
				log.Warn("fault: key store quiet")
				select {
				case <-ctx.Done():
				case <-sigs:
				}
			})
			log.Warn("fault: key store resumed")
		}
	}()
}
