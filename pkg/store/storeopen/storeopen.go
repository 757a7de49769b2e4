// Package storeopen opens the store a DSN names, so that commands take one
// string: "sqlite:PATH" or a bare path for the embedded SQLite store,
// "postgres://…" or "postgresql://…" for PostgreSQL.
package storeopen

import (
	"context"
	"errors"
	"fmt"
	"net/url"
	"strings"

	"github.com/kyso-pki/kyso/pkg/store"
	"github.com/kyso-pki/kyso/pkg/store/postgres"
	"github.com/kyso-pki/kyso/pkg/store/sqlite"
)

// Open opens the store dsn names:
//
//   - "sqlite:PATH" or a bare PATH ("kyso.db", "/var/lib/kyso/kyso.db"):
//     sqlite.Open(PATH);
//   - "postgres://…" or "postgresql://…": postgres.Open(dsn).
//
// Any other scheme is an error. Errors never show a password from dsn.
func Open(ctx context.Context, dsn string) (store.Store, error) {
	scheme, rest, hasScheme := strings.Cut(dsn, ":")
	switch {
	case dsn == "":
		return nil, errors.New("storeopen: empty database name: want sqlite:PATH, a path, or postgres://")
	case scheme == "sqlite":
		if rest == "" {
			return nil, errors.New("storeopen: sqlite: without a path")
		}
		return sqlite.Open(ctx, rest, nil)
	case scheme == "postgres" || scheme == "postgresql":
		if !strings.HasPrefix(rest, "//") {
			return nil, fmt.Errorf("storeopen: %s: want %s://user@host/database", scheme, scheme)
		}
		return postgres.Open(ctx, dsn, nil)
	case !hasScheme || isPath(dsn):
		return sqlite.Open(ctx, dsn, nil)
	}
	return nil, fmt.Errorf("storeopen: unknown database scheme %q in %s: want sqlite:PATH, a path, or postgres://",
		scheme, Redact(dsn))
}

// isPath reports whether dsn, though it has a colon, reads as a file path:
// absolute, relative with a directory, or a Windows drive letter.
func isPath(dsn string) bool {
	if strings.HasPrefix(dsn, "/") || strings.HasPrefix(dsn, "./") || strings.HasPrefix(dsn, "../") {
		return true
	}
	return len(dsn) > 2 && dsn[1] == ':' && (dsn[2] == '\\' || dsn[2] == '/')
}

// Redact returns dsn fit for logs and messages: a URL's password is
// replaced by "xxxxx"; a SQLite path is returned as it is.
func Redact(dsn string) string {
	if !strings.Contains(dsn, "://") {
		return dsn
	}
	u, err := url.Parse(dsn)
	if err != nil {
		return "(unparsable database URL)"
	}
	return u.Redacted()
}
