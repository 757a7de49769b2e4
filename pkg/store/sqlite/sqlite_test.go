package sqlite_test

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"sync"
	"testing"

	"github.com/kyso-pki/kyso/pkg/store"
	"github.com/kyso-pki/kyso/pkg/store/sqlite"
	"github.com/kyso-pki/kyso/pkg/store/storetest"
)

func open(t testing.TB, path string) *sqlite.Store {
	t.Helper()
	s, err := sqlite.Open(context.Background(), path, nil)
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
		return open(t, filepath.Join(t.TempDir(), "kyso.db"))
	})
}

func TestSigning(t *testing.T) {
	storetest.RunSigning(t, func(t *testing.T) store.Signing {
		return open(t, filepath.Join(t.TempDir(), "kyso.db"))
	})
}

func TestOpenCreatesPrivateFile(t *testing.T) {
	path := filepath.Join(t.TempDir(), "new", "dir", "kyso.db")
	open(t, path)
	for p, want := range map[string]os.FileMode{path: 0o600, filepath.Dir(path): 0o700} {
		fi, err := os.Stat(p)
		if err != nil {
			t.Fatal(err)
		}
		if got := fi.Mode().Perm(); got != want {
			t.Errorf("%s mode = %v, want %v", p, got, want)
		}
	}
}

func TestReopenKeepsData(t *testing.T) {
	ctx := context.Background()
	path := filepath.Join(t.TempDir(), "kyso.db")
	s, err := sqlite.Open(ctx, path, nil)
	if err != nil {
		t.Fatal(err)
	}
	c := storetest.NewCertificate(t, "issuing")
	if err := s.ReserveSerial(ctx, &store.SerialReservation{Issuer: c.Issuer, Serial: c.Serial}); err != nil {
		t.Fatal(err)
	}
	if err := s.PutCertificate(ctx, c); err != nil {
		t.Fatal(err)
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	s = open(t, path)
	if _, err := s.GetCertificate(ctx, c.Issuer, c.Serial); err != nil {
		t.Fatalf("after reopening: %v", err)
	}
	err = s.ReserveSerial(ctx, &store.SerialReservation{Issuer: c.Issuer, Serial: c.Serial})
	if !errors.Is(err, store.ErrDuplicateSerial) {
		t.Fatalf("reserving again after reopening: %v", err)
	}
}

// TestConcurrentOpen opens one new file from several goroutines at once, as
// several processes starting together would: each has its own connections,
// and the migrations must run exactly once.
func TestConcurrentOpen(t *testing.T) {
	path := filepath.Join(t.TempDir(), "kyso.db")
	var wg sync.WaitGroup
	stores := make([]*sqlite.Store, 8)
	errs := make([]error, len(stores))
	for i := range stores {
		wg.Add(1)
		go func() {
			defer wg.Done()
			stores[i], errs[i] = sqlite.Open(context.Background(), path, nil)
		}()
	}
	wg.Wait()
	for i, err := range errs {
		if err != nil {
			t.Fatalf("Open %d: %v", i, err)
		}
		defer stores[i].Close()
	}
	// Two stores on one file: a write through one is seen by the other.
	ctx := context.Background()
	c := storetest.NewCertificate(t, "issuing")
	if err := stores[0].ReserveSerial(ctx, &store.SerialReservation{Issuer: c.Issuer, Serial: c.Serial}); err != nil {
		t.Fatal(err)
	}
	if err := stores[1].ReserveSerial(ctx, &store.SerialReservation{Issuer: c.Issuer, Serial: c.Serial}); !errors.Is(err, store.ErrDuplicateSerial) {
		t.Fatalf("second store reserving the same serial: %v", err)
	}
}

func TestOpenErrors(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	for _, tc := range []struct{ name, path string }{
		{"empty", ""},
		{"question mark", filepath.Join(dir, "a?b.db")},
		{"file URI", "file:" + filepath.Join(dir, "a.db")},
		{"directory", dir},
		{"not a database", func() string {
			p := filepath.Join(dir, "junk.db")
			os.WriteFile(p, []byte("this is not an SQLite database, just some bytes in a file"), 0o600)
			return p
		}()},
	} {
		t.Run(tc.name, func(t *testing.T) {
			s, err := sqlite.Open(ctx, tc.path, nil)
			if err == nil {
				s.Close()
				t.Fatalf("Open(%q) succeeded", tc.path)
			}
			t.Log(err)
		})
	}
}

func BenchmarkIssue(b *testing.B) {
	s := open(b, filepath.Join(b.TempDir(), "kyso.db"))
	ctx := context.Background()
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
	storetest.BenchAppendAudit(b, open(b, filepath.Join(b.TempDir(), "kyso.db")))
}

func TestTracing(t *testing.T) {
	storetest.RunTracing(t, open(t, filepath.Join(t.TempDir(), "kyso.db")), "sqlite")
}
