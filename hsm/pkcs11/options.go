package pkcs11

import "log/slog"

// DefaultModule is the PKCS#11 module Open loads when the URI has no
// module-path: SoftHSM 2 as Debian and Ubuntu install it.
const DefaultModule = "/usr/lib/softhsm/libsofthsm2.so"

// DefaultMasterKey is the label of the AES key that wraps keys kept outside
// the token (see Store.CreateWrappedKey) when the URI has no master-key
// attribute.
const DefaultMasterKey = "kyso-master"

// Options changes how Open works. The zero value (or nil) is usable.
type Options struct {
	// Logger receives recovery and diagnostic messages. It never sees a PIN.
	// Nil discards them.
	Logger *slog.Logger
}
