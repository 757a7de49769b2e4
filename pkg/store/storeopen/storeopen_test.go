package storeopen_test

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/kyso-pki/kyso/internal/testenv"
	"github.com/kyso-pki/kyso/pkg/store/postgres"
	"github.com/kyso-pki/kyso/pkg/store/sqlite"
	"github.com/kyso-pki/kyso/pkg/store/storeopen"
)

func TestMain(m *testing.M) {
	code := m.Run()
	testenv.StopPostgres()
	os.Exit(code)
}

func TestOpen(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	pgDSN := testenv.NewPostgres(t)
	for _, tc := range []struct {
		name, dsn string
		sqlite    bool
	}{
		{"sqlite scheme", "sqlite:" + filepath.Join(dir, "a.db"), true},
		{"bare path", filepath.Join(dir, "b.db"), true},
		{"relative path", "c.db", true},
		{"postgres", pgDSN, false},
		{"postgresql", strings.Replace(pgDSN, "postgres://", "postgresql://", 1), false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if tc.name == "relative path" {
				t.Chdir(dir)
			}
			s, err := storeopen.Open(ctx, tc.dsn)
			if err != nil {
				t.Fatalf("Open(%q): %v", tc.dsn, err)
			}
			defer s.Close()
			if err := s.Ping(ctx); err != nil {
				t.Fatal(err)
			}
			switch s.(type) {
			case *sqlite.Store:
				if !tc.sqlite {
					t.Fatalf("Open(%q) gave SQLite", tc.dsn)
				}
			case *postgres.Store:
				if tc.sqlite {
					t.Fatalf("Open(%q) gave PostgreSQL", tc.dsn)
				}
			default:
				t.Fatalf("Open(%q) gave %T", tc.dsn, s)
			}
		})
	}
}

func TestOpenErrors(t *testing.T) {
	for _, dsn := range []string{
		"",
		"sqlite:",
		"mysql://root:s3cretpw@localhost/kyso",
		"postgres:s3cretpw@localhost",
		"postgres://kyso:s3cretpw@127.0.0.1:1/kyso?connect_timeout=2",
		"postgres://kyso:s3cretpw@[::1",
		"redis://:s3cretpw@localhost",
	} {
		s, err := storeopen.Open(context.Background(), dsn)
		if err == nil {
			s.Close()
			t.Errorf("Open(%q) succeeded", dsn)
			continue
		}
		if strings.Contains(err.Error(), "s3cretpw") {
			t.Errorf("Open(%q) error shows the password: %v", dsn, err)
		}
		if !strings.HasPrefix(err.Error(), "storeopen: ") && !strings.HasPrefix(err.Error(), "postgres: ") && !strings.HasPrefix(err.Error(), "sqlite: ") {
			t.Errorf("Open(%q) error without a package prefix: %v", dsn, err)
		}
		t.Logf("%q: %v", dsn, err)
	}
}

func TestRedact(t *testing.T) {
	for in, want := range map[string]string{
		"postgres://kyso:s3cret@db:5432/kyso?sslmode=verify-full": "postgres://kyso:xxxxx@db:5432/kyso?sslmode=verify-full",
		"postgresql://kyso@db/kyso":                               "postgresql://kyso@db/kyso",
		"sqlite:/var/lib/kyso/kyso.db":                            "sqlite:/var/lib/kyso/kyso.db",
		"./kyso-data/kyso.db":                                     "./kyso-data/kyso.db",
		"postgres://kyso:s3cret@[bad":                             "(unparsable database URL)",
	} {
		if got := storeopen.Redact(in); got != want {
			t.Errorf("Redact(%q) = %q, want %q", in, got, want)
		}
	}
}
