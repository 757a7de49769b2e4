package store

import (
	"context"
	"time"
)

// Upkeep leases work that one replica does for all those sharing the
// database (issue 19, migration 0026): the PKI's CRLs and the renewal of
// its service certificates. Without it every replica ticking at the same
// moment signs the same CRL, or renews the same certificate.
type Upkeep interface {
	// ClaimUpkeep gives the lease name to holder until until, and
	// reports whether holder has it: when no one held it, when holder
	// held it already (the lease is extended), or when the last holder's
	// lease ended by now (it died, or stopped ticking). A lease is never
	// released: it ends.
	ClaimUpkeep(ctx context.Context, name, holder string, now, until time.Time) (bool, error)
}
