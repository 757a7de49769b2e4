package postgres

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/kyso-pki/kyso/internal/testenv"
	"github.com/kyso-pki/kyso/pkg/store"
	"github.com/kyso-pki/kyso/pkg/store/internal/sqlstore"
)

// TestSharedWrites: writes queued together share one commit, and each
// keeps its own outcome: a write that fails in Go or in the database
// leaves nothing, its neighbours stand.
func TestSharedWrites(t *testing.T) {
	ctx := context.Background()
	dsn := testenv.NewPostgres(t)
	s, err := Open(ctx, dsn, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	admin, err := pgx.Connect(ctx, dsn)
	if err != nil {
		t.Fatal(err)
	}
	defer admin.Close(ctx)
	// Held on the audit chain's lock, the first batch lets the rest queue.
	if _, err := admin.Exec(ctx, `SELECT pg_advisory_lock($1)`, int64(lockAudit)); err != nil {
		t.Fatal(err)
	}
	token := func(c sqlstore.Conn, hash []byte) error {
		_, err := c.Exec(ctx, `INSERT INTO tokens (hash, kind, subject, scope, expires_at) VALUES ($1, 'client', 'c', 'service', $2)`,
			hash, time.Now().Add(time.Hour))
		return err
	}
	const writers = 60
	errs := make([]error, writers)
	var wg sync.WaitGroup
	for i := range writers {
		wg.Go(func() {
			switch i % 3 {
			case 0: // succeeds
				errs[i] = s.AppendAudit(ctx, &store.AuditEvent{Actor: "t", Action: "shared.ok", Subject: fmt.Sprint(i), Outcome: "ok", Details: []byte("{}")})
			case 1: // writes, then fails: its row must go
				errs[i] = driver{s}.WriteShared(ctx, false, func(c sqlstore.Conn) error {
					if err := token(c, []byte(fmt.Sprintf("failed-%02d", i))); err != nil {
						return err
					}
					return errors.New("boom")
				})
			case 2: // a duplicate key: the database refuses it
				errs[i] = driver{s}.WriteShared(ctx, false, func(c sqlstore.Conn) error { return token(c, []byte{byte(i % 2)}) })
			}
		})
	}
	for waiting := 0; waiting == 0; {
		if err := admin.QueryRow(ctx, `SELECT count(*) FROM pg_locks WHERE locktype = 'advisory' AND NOT granted`).Scan(&waiting); err != nil {
			t.Fatal(err)
		}
		time.Sleep(10 * time.Millisecond)
	}
	time.Sleep(200 * time.Millisecond) // set-up only: the outcomes asserted do not depend on it
	if _, err := admin.Exec(ctx, `SELECT pg_advisory_unlock($1)`, int64(lockAudit)); err != nil {
		t.Fatal(err)
	}
	wg.Wait()
	dups := 0
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
			if err != nil {
				dups++
			}
		}
	}
	var tokens, failed int
	if err := admin.QueryRow(ctx, `SELECT count(*) FILTER (WHERE length(hash) = 1), count(*) FILTER (WHERE length(hash) > 1) FROM tokens`).Scan(&tokens, &failed); err != nil {
		t.Fatal(err)
	}
	if tokens != 2 || failed != 0 || dups != writers/3-2 {
		t.Errorf("%d tokens stored from 2 distinct keys (%d refused of %d), %d rows of failed writes", tokens, dups, writers/3, failed)
	}
	evs, err := s.ListAudit(ctx, 0, 10000)
	if err != nil {
		t.Fatal(err)
	}
	if len(evs) != writers/3 {
		t.Errorf("%d audit events, want %d", len(evs), writers/3)
	}
	if n, largest := s.SharedCommits(); n == 0 || largest < 2 {
		t.Errorf("%d racing writers never shared a commit", writers)
	}
}
