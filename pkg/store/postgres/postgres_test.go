package postgres_test

import (
	"context"
	"errors"
	"os"
	"strings"
	"sync"
	"testing"

	"github.com/kyso-pki/kyso/internal/testenv"
	"github.com/kyso-pki/kyso/pkg/store"
	"github.com/kyso-pki/kyso/pkg/store/postgres"
	"github.com/kyso-pki/kyso/pkg/store/storetest"
)

func TestMain(m *testing.M) {
	code := m.Run()
	testenv.StopPostgres()
	os.Exit(code)
}

func open(t testing.TB, dsn string) *postgres.Store {
	t.Helper()
	s, err := postgres.Open(context.Background(), dsn, nil)
	if err != nil {
		t.Fatalf("Open: %v", err)
	}
	t.Cleanup(func() {
		if err := s.Close(); err != nil {
			t.Errorf("Close: %v", err)
		}
	})
	return s
}

func TestStore(t *testing.T) {
	storetest.Run(t, func(t *testing.T) store.Store {
		return open(t, testenv.NewPostgres(t))
	})
}

func TestSigning(t *testing.T) {
	storetest.RunSigning(t, func(t *testing.T) store.Signing {
		return open(t, testenv.NewPostgres(t))
	})
}

// TestConcurrentMigrate opens one new database from several stores at once,
// as replicas starting together do: the advisory lock lets one migrate and
// the others find the work done.
func TestConcurrentMigrate(t *testing.T) {
	dsn := testenv.NewPostgres(t)
	stores := make([]*postgres.Store, 8)
	errs := make([]error, len(stores))
	var wg sync.WaitGroup
	for i := range stores {
		wg.Add(1)
		go func() {
			defer wg.Done()
			stores[i], errs[i] = postgres.Open(context.Background(), dsn, &postgres.Options{MaxConns: 4})
		}()
	}
	wg.Wait()
	for i, err := range errs {
		if err != nil {
			t.Fatalf("Open %d: %v", i, err)
		}
		defer stores[i].Close()
	}
	ctx := context.Background()
	serial := storetest.NewSerial(t)
	if err := stores[0].ReserveSerial(ctx, &store.SerialReservation{Issuer: "issuing", Serial: serial}); err != nil {
		t.Fatal(err)
	}
	if err := stores[7].ReserveSerial(ctx, &store.SerialReservation{Issuer: "issuing", Serial: serial}); !errors.Is(err, store.ErrDuplicateSerial) {
		t.Fatalf("second store reserving the same serial: %v", err)
	}
	// Reopening finds every migration recorded.
	open(t, dsn)
}

func TestOpenErrors(t *testing.T) {
	ctx := context.Background()
	for _, tc := range []struct{ name, dsn string }{
		{"bad syntax", "postgres://kyso:s3cretpw@[::1"},
		{"nobody listening", "postgres://kyso:s3cretpw@127.0.0.1:1/kyso?connect_timeout=2"},
		{"unknown database", strings.Replace(testenv.NewPostgres(t), "/kyso_test_", "/nonexistent_", 1)},
	} {
		t.Run(tc.name, func(t *testing.T) {
			s, err := postgres.Open(ctx, tc.dsn, nil)
			if err == nil {
				s.Close()
				t.Fatalf("Open(%q) succeeded", tc.dsn)
			}
			if strings.Contains(err.Error(), "s3cretpw") {
				t.Fatalf("error shows the password: %v", err)
			}
			t.Log(err)
		})
	}
}

func BenchmarkIssue(b *testing.B) {
	s := open(b, testenv.NewPostgres(b))
	ctx := context.Background()
	b.ResetTimer() // not the server's start
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			c := storetest.NewCertificate(b, "issuing")
			if err := s.ReserveSerial(ctx, &store.SerialReservation{Issuer: c.Issuer, Serial: c.Serial}); err != nil {
				b.Fatal(err)
			}
			if err := s.PutCertificate(ctx, c); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "issues/s")
}

func BenchmarkAppendAudit(b *testing.B) {
	storetest.BenchAppendAudit(b, open(b, testenv.NewPostgres(b)))
}

func TestTracing(t *testing.T) {
	storetest.RunTracing(t, open(t, testenv.NewPostgres(t)), "postgresql")
}
