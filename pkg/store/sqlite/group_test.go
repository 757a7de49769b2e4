package sqlite

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/kyso-pki/kyso/pkg/store"
)

// TestGroupCommit: writes racing for the writer are committed in groups,
// and each keeps its own outcome: a write that fails leaves nothing, one
// that succeeds is there, whatever its neighbours in the group did.
func TestGroupCommit(t *testing.T) {
	ctx := context.Background()
	s, err := Open(ctx, filepath.Join(t.TempDir(), "kyso.db"), nil)
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	const writers = 96
	errs := make([]error, writers)
	var wg sync.WaitGroup
	for i := range writers {
		wg.Go(func() {
			switch i % 3 {
			case 0: // succeeds
				errs[i] = s.AppendAudit(ctx, &store.AuditEvent{Actor: "t", Action: "group.ok", Subject: fmt.Sprint(i), Outcome: "ok", Details: []byte("{}")})
			case 1: // writes, then fails: its row must go
				errs[i] = s.write(ctx, func(tx *sql.Tx) error {
					if _, err := tx.ExecContext(ctx, `INSERT INTO audit_events (time, actor, action, subject, outcome, details) VALUES (?, 't', 'group.failed', ?, 'ok', '{}')`, micro(time.Now()), fmt.Sprint(i)); err != nil {
						return err
					}
					return errors.New("boom")
				})
			case 2: // a duplicate token: a constraint failure in the database
				h := make([]byte, 32)
				h[0] = byte(i % 2)
				errs[i] = s.PutToken(ctx, &store.Token{Hash: h, Kind: "client", Subject: "c", Scope: "service", ExpiresAt: time.Now().Add(time.Hour)})
			}
		})
	}
	wg.Wait()
	tokens := 0
	for i, err := range errs {
		switch i % 3 {
		case 0:
			if err != nil {
				t.Errorf("write %d: %v", i, err)
			}
		case 1:
			if err == nil || !strings.Contains(err.Error(), "boom") {
				t.Errorf("failing write %d: err = %v", i, err)
			}
		case 2:
			if err == nil {
				tokens++
			} else if !errors.Is(err, store.ErrExists) {
				t.Errorf("token write %d: err = %v, want ErrExists or nothing", i, err)
			}
		}
	}
	if tokens != 2 {
		t.Errorf("%d tokens stored from 2 distinct hashes", tokens)
	}
	evs, err := s.ListAudit(ctx, 0, 10000)
	if err != nil {
		t.Fatal(err)
	}
	count := map[string]int{}
	for _, e := range evs {
		count[e.Action]++
	}
	if count["group.ok"] != writers/3 || count["group.failed"] != 0 {
		t.Errorf("audit rows: %v, want %d group.ok and no group.failed", count, writers/3)
	}
	if s.groups.Load() == 0 {
		t.Errorf("%d racing writers were never committed in a group", writers)
	}
}
