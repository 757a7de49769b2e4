package pkcs11

import (
	"log/slog"
	"time"
)

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

// MasterRecheck is how long a cached master key handle is used without
// reading it again. Keys unwrapped under a master key (the key cache's
// session objects) stop signing at most this long after the master key
// leaves the token. Reading it at every signature would cost SoftHSM a
// file check each time, about as much as an ECDSA signature.
const MasterRecheck = 500 * time.Millisecond
