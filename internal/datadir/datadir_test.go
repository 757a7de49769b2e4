package datadir

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"sync"
	"testing"
	"time"
)

// TestLock: a second Lock on the same directory waits while the first is
// held, until its context ends, and gets the lock once the first is
// released; releasing twice is harmless.
func TestLock(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "data")
	ctx := context.Background()
	unlock, err := Lock(ctx, dir, nil)
	if err != nil {
		t.Fatal(err)
	}
	if fi, err := os.Stat(filepath.Join(dir, LockFile)); err != nil || fi.Mode().Perm() != 0o600 {
		t.Fatalf("lock file: %v", err)
	}
	short, cancel := context.WithTimeout(ctx, 200*time.Millisecond)
	defer cancel()
	if _, err := Lock(short, dir, nil); !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("Lock while held: %v, want a deadline error", err)
	}
	got := make(chan error, 1)
	go func() {
		u, err := Lock(ctx, dir, nil)
		if err == nil {
			u()
		}
		got <- err
	}()
	select {
	case err := <-got:
		t.Fatalf("Lock returned (%v) while the lock was held", err)
	case <-time.After(200 * time.Millisecond):
	}
	unlock()
	unlock()
	select {
	case err := <-got:
		if err != nil {
			t.Fatal(err)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("Lock did not return after the lock was released")
	}
}

// TestEnsurePassphraseRace: processes making the passphrase at once all end
// up with one whole passphrase, made by one of them.
func TestEnsurePassphraseRace(t *testing.T) {
	path := filepath.Join(t.TempDir(), "passphrase")
	const n = 16
	var wg sync.WaitGroup
	created := make([]bool, n)
	read := make([]string, n)
	for i := range n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			c, err := ensurePassphrase(path)
			if err != nil {
				t.Error(err)
				return
			}
			b, err := os.ReadFile(path)
			if err != nil {
				t.Error(err)
			}
			created[i], read[i] = c, string(b)
		}()
	}
	wg.Wait()
	makers := 0
	for i := range n {
		if created[i] {
			makers++
		}
		if len(read[i]) != 44 || read[i] != read[0] {
			t.Errorf("goroutine %d read %q, goroutine 0 %q", i, read[i], read[0])
		}
	}
	if makers != 1 {
		t.Errorf("%d goroutines made the passphrase, want 1", makers)
	}
	if entries, _ := os.ReadDir(filepath.Dir(path)); len(entries) != 1 {
		t.Errorf("the directory holds %d files, want only the passphrase", len(entries))
	}
}
