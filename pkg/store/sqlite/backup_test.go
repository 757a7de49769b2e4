package sqlite_test

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/kyso-pki/kyso/pkg/store"
	"github.com/kyso-pki/kyso/pkg/store/sqlite"
)

// TestSnapshotWhileWriting: a snapshot taken while another store on the
// same file (another process, as kysod is to `kyso backup`) keeps
// appending audit events holds every event committed before it began,
// opens as a database of its own with a clean integrity check, and the
// writer never waited for it or failed. A snapshot never overwrites a
// file.
func TestSnapshotWhileWriting(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	path := filepath.Join(dir, "kyso.db")
	writer := open(t, path)
	var written atomic.Int64
	stop := make(chan struct{})
	var wg sync.WaitGroup
	wg.Add(1)
	var werr error
	go func() {
		defer wg.Done()
		for {
			select {
			case <-stop:
				return
			default:
			}
			if werr = writer.AppendAudit(ctx, &store.AuditEvent{Time: time.Now(), Actor: "test", Action: "test.write", Subject: "s", Outcome: "ok", Details: []byte(`{}`)}); werr != nil {
				return
			}
			written.Add(1)
		}
	}()
	for written.Load() < 200 {
		time.Sleep(5 * time.Millisecond)
	}
	before := written.Load()
	snap := filepath.Join(dir, "snapshot.db")
	if err := sqlite.Snapshot(ctx, path, snap); err != nil {
		t.Fatal(err)
	}
	time.Sleep(50 * time.Millisecond)
	close(stop)
	wg.Wait()
	if werr != nil {
		t.Fatalf("the writer failed during the snapshot: %v", werr)
	}
	if fi, err := os.Stat(snap); err != nil || fi.Mode().Perm() != 0o600 {
		t.Fatalf("snapshot file: %v, %v", fi, err)
	}
	copied := open(t, snap)
	if err := copied.CheckIntegrity(ctx); err != nil {
		t.Fatal(err)
	}
	events, err := copied.ListAudit(ctx, 0, 1_000_000)
	if err != nil {
		t.Fatal(err)
	}
	if n := int64(len(events)); n < before || n > written.Load() {
		t.Errorf("the snapshot holds %d events; %d were committed before it and %d in all", n, before, written.Load())
	}
	if err := sqlite.Snapshot(ctx, path, snap); err == nil || !strings.Contains(err.Error(), "exists") {
		t.Errorf("a snapshot over an existing file: %v", err)
	}
}

// TestCheckIntegrityFindsDamage: a database file with a page overwritten
// fails CheckIntegrity with SQLite's own words.
func TestCheckIntegrityFindsDamage(t *testing.T) {
	ctx := context.Background()
	path := filepath.Join(t.TempDir(), "kyso.db")
	s, err := sqlite.Open(ctx, path, nil)
	if err != nil {
		t.Fatal(err)
	}
	for i := range 500 {
		if err := s.AppendAudit(ctx, &store.AuditEvent{Time: time.Now(), Actor: "test", Action: "test.write", Subject: strings.Repeat("x", i%200+1), Outcome: "ok", Details: []byte(`{}`)}); err != nil {
			t.Fatal(err)
		}
	}
	if err := s.CheckIntegrity(ctx); err != nil {
		t.Fatalf("a sound file: %v", err)
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	// Checkpointed by Close: the data is in the main file. Overwrite the
	// middle of a page of the audit table's B-tree, past the header.
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	for i := len(b) - 3*4096 + 100; i < len(b)-3*4096+600; i++ {
		b[i] ^= 0x5a
	}
	if err := os.WriteFile(path, b, 0o600); err != nil {
		t.Fatal(err)
	}
	s, err = sqlite.Open(ctx, path, nil)
	if err != nil {
		t.Logf("the damaged file does not even open: %v", err)
		return
	}
	defer s.Close()
	if err := s.CheckIntegrity(ctx); err == nil || !strings.Contains(err.Error(), "is damaged") {
		t.Fatalf("a damaged file: %v", err)
	}
}
