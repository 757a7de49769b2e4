package audit_test

import (
	"context"
	"crypto/sha256"
	"database/sql"
	"fmt"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	_ "modernc.org/sqlite"

	"github.com/kyso-pki/kyso/hsm"
	"github.com/kyso-pki/kyso/hsm/softkey"
	"github.com/kyso-pki/kyso/internal/testenv"
	"github.com/kyso-pki/kyso/pkg/audit"
	"github.com/kyso-pki/kyso/pkg/ca"
	"github.com/kyso-pki/kyso/pkg/signing"
	"github.com/kyso-pki/kyso/pkg/signing/signingtest"
	"github.com/kyso-pki/kyso/pkg/store"
	"github.com/kyso-pki/kyso/pkg/store/storeopen"
)

// db is a store and a raw handle on its database that bypasses the store
// (and, once unlocked, the append-only triggers): the attacker's.
type db struct {
	st     store.Store
	exec   func(t *testing.T, q string, args ...any)
	ph     func(n int) string // the n-th placeholder
	unlock []string           // statements dropping the append-only triggers
	open   func(t *testing.T) store.Store
}

// opener opens the store at dsn, closed when t ends.
func opener(dsn string) func(t *testing.T) store.Store {
	return func(t *testing.T) store.Store {
		st, err := storeopen.Open(context.Background(), dsn)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { st.Close() })
		return st
	}
}

// execer runs the attacker's statements through exec.
func execer(exec func(q string, args ...any) error) func(t *testing.T, q string, args ...any) {
	return func(t *testing.T, q string, args ...any) {
		t.Helper()
		if err := exec(q, args...); err != nil {
			t.Fatalf("%s: %v", q, err)
		}
	}
}

func sqliteDB(t *testing.T) *db {
	path := filepath.Join(t.TempDir(), "kyso.db")
	d := &db{open: opener(path), ph: func(int) string { return "?" },
		unlock: []string{`DROP TRIGGER audit_events_no_update`, `DROP TRIGGER audit_events_no_delete`}}
	d.st = d.open(t)
	raw, err := sql.Open("sqlite", path+"?_pragma=busy_timeout(10000)")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { raw.Close() })
	d.exec = execer(func(q string, args ...any) error { _, err := raw.Exec(q, args...); return err })
	return d
}

func postgresDB(t *testing.T) *db {
	dsn := testenv.NewPostgres(t)
	d := &db{open: opener(dsn), ph: func(n int) string { return fmt.Sprintf("$%d", n) },
		unlock: []string{`DROP TRIGGER audit_events_append_only ON audit_events`}}
	d.st = d.open(t)
	raw, err := pgx.Connect(context.Background(), dsn)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { raw.Close(context.Background()) })
	d.exec = execer(func(q string, args ...any) error { _, err := raw.Exec(context.Background(), q, args...); return err })
	return d
}

var databases = []struct {
	name string
	open func(t *testing.T) *db
}{{"sqlite", sqliteDB}, {"postgres", postgresDB}}

// env is a signing service over a database, with the audit key in a
// softkey store and a Checkpointer.
type env struct {
	*db
	ks    hsm.KeyStore
	svc   *signing.Service
	clock *signingtest.Clock
	cp    *audit.Checkpointer
}

func newEnv(t *testing.T, d *db) *env {
	ctx := context.Background()
	u, err := hsm.ParseURI("softkey:?dir=" + filepath.Join(t.TempDir(), "keys") + "&passphrase=test-passphrase")
	if err != nil {
		t.Fatal(err)
	}
	ks, err := softkey.Open(ctx, u, &softkey.Options{KDF: softkey.KDFParams{Time: 1, MemoryKiB: 1024, Threads: 1}})
	if err != nil {
		t.Fatal(err)
	}
	a, err := ca.New(d.st, ks, &ca.Options{BaseURL: "http://ca.kyso.test"})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := a.Init(ctx, &ca.InitRequest{Name: "Kyso Thử Nghiệm"}); err != nil {
		t.Fatal(err)
	}
	clock := signingtest.NewClock(time.Now())
	svc, err := signing.New(d.st, ks, a, signingtest.Config(clock))
	if err != nil {
		t.Fatal(err)
	}
	key, err := audit.OpenKey(ctx, ks)
	if err != nil {
		t.Fatal(err)
	}
	cp, err := audit.NewCheckpointer(d.st, key, nil, nil)
	if err != nil {
		t.Fatal(err)
	}
	return &env{db: d, ks: ks, svc: svc, clock: clock, cp: cp}
}

var cccd struct {
	sync.Mutex
	n int
}

// work enrols a citizen and has a portal's transaction approved and
// signed: a real log, written by the service.
func (e *env) work(t *testing.T) {
	t.Helper()
	ctx := context.Background()
	cccd.Lock()
	cccd.n++
	id := fmt.Sprintf("0792030%05d", cccd.n)
	cccd.Unlock()
	en, err := e.svc.Enrol(ctx, &signing.EnrolRequest{CCCD: id, Name: "Nguyễn Văn Đức", Province: "Hồ Chí Minh", PIN: "271828", Algorithm: hsm.ECDSAP256, Actor: "officer:test"})
	if err != nil {
		t.Fatal(err)
	}
	cl, err := e.svc.CreateClient(ctx, "Portal", "", "test")
	if err != nil {
		t.Fatal(err)
	}
	h := sha256.Sum256([]byte(id))
	tx, _, err := e.svc.Submit(ctx, &signing.SubmitRequest{ClientID: cl.ID, ClientRef: "ref-" + id, NationalID: en.NationalID,
		Documents: []signing.Document{{DocID: "a.pdf", Hash: h[:]}}})
	if err != nil {
		t.Fatal(err)
	}
	e.clock.Advance(30 * time.Second)
	otp := signingtest.Code(t, en, e.clock.Now())
	done, err := e.svc.Approve(ctx, en.OwnerID, tx.ID, "271828", otp)
	if err != nil || done.Status != store.TxSigned {
		t.Fatalf("approve: %v", err)
	}
}

func (e *env) checkpoint(t *testing.T) *store.AuditCheckpoint {
	t.Helper()
	c, err := e.cp.Checkpoint(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	return c
}

func (e *env) verify(t *testing.T) *audit.Report {
	t.Helper()
	r, err := audit.Verify(context.Background(), e.st, audit.KeyStoreKeys(e.ks))
	if err != nil {
		t.Fatal(err)
	}
	var b strings.Builder
	r.Print(&b)
	t.Logf("verify:\n%s", b.String())
	return r
}

func (e *env) events(t *testing.T) []*store.AuditEvent {
	t.Helper()
	evs, err := e.st.ListAudit(context.Background(), 0, 10000)
	if err != nil {
		t.Fatal(err)
	}
	return evs
}

// sealed produces a log through the service, sealed by a checkpoint, and
// returns the checkpoint and the events.
func sealed(t *testing.T, e *env) (*store.AuditCheckpoint, []*store.AuditEvent) {
	e.work(t)
	e.checkpoint(t)
	e.work(t)
	cp := e.checkpoint(t)
	evs := e.events(t)
	if len(evs) < 10 || cp.Seq != evs[len(evs)-1].ID {
		t.Fatalf("%d events, checkpoint at %d: want ≥ 10 and the last", len(evs), cp.Seq)
	}
	if r := e.verify(t); !r.OK() || r.SealedID != cp.Seq || r.Unsealed() != 0 {
		t.Fatalf("the untampered log does not verify: %+v", r)
	}
	for _, s := range e.unlock {
		e.exec(t, s)
	}
	return cp, evs
}

// insert writes e into the table as it is, past the store.
func (d *db) insert(t *testing.T, e *store.AuditEvent) {
	t.Helper()
	tm := any(e.Time.UnixMicro())
	if d.ph(1) != "?" {
		tm = e.Time
	}
	d.exec(t, fmt.Sprintf(`INSERT INTO audit_events (id, time, actor, action, subject, outcome, details, prev_hash, hash)
		VALUES (%s, %s, %s, %s, %s, %s, %s, %s, %s)`, d.ph(1), d.ph(2), d.ph(3), d.ph(4), d.ph(5), d.ph(6), d.ph(7), d.ph(8), d.ph(9)),
		e.ID, tm, e.Actor, e.Action, e.Subject, e.Outcome, string(e.Details), e.PrevHash, e.Hash)
}

// firstBreak asserts that verify finds a break and that the first is of
// kind k at event id.
func firstBreak(t *testing.T, r *audit.Report, k audit.Kind, id int64) {
	t.Helper()
	if r.OK() {
		t.Fatalf("verify passed a tampered log")
	}
	if b := r.Breaks[0]; b.Kind != k || b.ID != id {
		t.Fatalf("first break %v, want %s at event %d", b, k, id)
	}
}

// TestTamper produces a log through the service on each database, seals
// it, tampers with it in the database as an attacker with write access
// would, and checks that verify names the kind and the place.
func TestTamper(t *testing.T) {
	for _, dbc := range databases {
		t.Run(dbc.name, func(t *testing.T) {
			t.Run("untampered", func(t *testing.T) {
				e := newEnv(t, dbc.open(t))
				sealed(t, e)
				e.work(t) // after the last checkpoint: chained, unsealed
				r := e.verify(t)
				if !r.OK() || r.Unsealed() == 0 || r.Legacy != 0 {
					t.Fatalf("report %+v: want ok with an unsealed tail", r)
				}
			})
			t.Run("modified", func(t *testing.T) {
				e := newEnv(t, dbc.open(t))
				_, evs := sealed(t, e)
				k := evs[len(evs)/2].ID
				e.exec(t, fmt.Sprintf(`UPDATE audit_events SET subject = 'someone else' WHERE id = %d`, k))
				firstBreak(t, e.verify(t), audit.Modified, k)
			})
			t.Run("modified details", func(t *testing.T) {
				e := newEnv(t, dbc.open(t))
				_, evs := sealed(t, e)
				k := evs[3].ID
				e.exec(t, fmt.Sprintf(`UPDATE audit_events SET details = '{"forged":true}' WHERE id = %d`, k))
				firstBreak(t, e.verify(t), audit.Modified, k)
			})
			t.Run("deleted", func(t *testing.T) {
				e := newEnv(t, dbc.open(t))
				_, evs := sealed(t, e)
				k := evs[len(evs)/2].ID
				e.exec(t, fmt.Sprintf(`DELETE FROM audit_events WHERE id = %d`, k))
				firstBreak(t, e.verify(t), audit.Deleted, k)
			})
			t.Run("deleted and closed up", func(t *testing.T) {
				e := newEnv(t, dbc.open(t))
				_, evs := sealed(t, e)
				k := evs[len(evs)/2].ID
				e.exec(t, fmt.Sprintf(`DELETE FROM audit_events WHERE id = %d`, k))
				e.exec(t, fmt.Sprintf(`UPDATE audit_events SET id = -id WHERE id > %d`, k))
				e.exec(t, `UPDATE audit_events SET id = -id - 1 WHERE id < 0`)
				firstBreak(t, e.verify(t), audit.Deleted, k)
			})
			t.Run("inserted", func(t *testing.T) {
				e := newEnv(t, dbc.open(t))
				_, evs := sealed(t, e)
				i := len(evs) / 2
				k := evs[i].ID
				// Make room at k and put there a forged event whose hashes
				// are computed as the store would: a careful attacker.
				e.exec(t, fmt.Sprintf(`UPDATE audit_events SET id = -id WHERE id >= %d`, k))
				e.exec(t, `UPDATE audit_events SET id = -id + 1 WHERE id < 0`)
				f := &store.AuditEvent{ID: k, Time: evs[i].Time, Actor: "kysod", Action: "signature.create", Subject: "forged", Outcome: "ok",
					Details: []byte(`{}`), PrevHash: evs[i-1].Hash}
				f.Hash = store.AuditHash(f, f.PrevHash)
				e.insert(t, f)
				firstBreak(t, e.verify(t), audit.Inserted, k)
			})
			t.Run("reordered", func(t *testing.T) {
				e := newEnv(t, dbc.open(t))
				_, evs := sealed(t, e)
				k := evs[len(evs)/2].ID
				e.exec(t, fmt.Sprintf(`UPDATE audit_events SET id = -1 WHERE id = %d`, k))
				e.exec(t, fmt.Sprintf(`UPDATE audit_events SET id = %d WHERE id = %d`, k, k+1))
				e.exec(t, fmt.Sprintf(`UPDATE audit_events SET id = %d WHERE id = -1`, k+1))
				r := e.verify(t)
				firstBreak(t, r, audit.Reordered, k)
				if len(r.Breaks) != 1 {
					t.Errorf("a swap of two events: %d breaks, want 1", len(r.Breaks))
				}
			})
			t.Run("truncated", func(t *testing.T) {
				e := newEnv(t, dbc.open(t))
				cp, _ := sealed(t, e)
				e.exec(t, fmt.Sprintf(`DELETE FROM audit_events WHERE id > %d`, cp.Seq-3))
				firstBreak(t, e.verify(t), audit.Truncated, cp.Seq-2)
			})
			t.Run("rewritten", func(t *testing.T) {
				// The attacker changes an event and recomputes every hash
				// after it: the links agree, the signed checkpoint does not.
				e := newEnv(t, dbc.open(t))
				_, evs := sealed(t, e)
				i := len(evs) / 2
				e.exec(t, fmt.Sprintf(`DELETE FROM audit_events WHERE id >= %d`, evs[i].ID))
				prev := evs[i-1].Hash
				for _, ev := range evs[i:] {
					c := *ev
					if c.ID == evs[i].ID {
						c.Subject = "someone else"
					}
					c.PrevHash, c.Hash = prev, store.AuditHash(&c, prev)
					prev = c.Hash
					e.insert(t, &c)
				}
				r := e.verify(t)
				if r.OK() || r.Breaks[0].Kind != audit.Rewritten || r.Breaks[0].ID > evs[i].ID || r.Breaks[0].LastID < evs[i].ID || len(r.Breaks) != 1 {
					t.Fatalf("report %+v: want one rewritten span of sealed events holding event %d", r, evs[i].ID)
				}
			})
			t.Run("forged checkpoint", func(t *testing.T) {
				// A checkpoint signed by another key, recorded with that
				// key's public half, is not the audit key's.
				e := newEnv(t, dbc.open(t))
				sealed(t, e)
				other := newEnv(t, sqliteDB(t))
				other.work(t)
				forged := other.checkpoint(t)
				forged.ID = 0
				if err := e.st.AppendAuditCheckpoint(context.Background(), forged); err != nil {
					t.Fatal(err)
				}
				firstBreak(t, e.verify(t), audit.BadCheckpoint, forged.Seq)
			})
		})
	}
}

// TestConcurrentWriters: two services on one PostgreSQL database (two
// replicas), each signing and checkpointing from several goroutines, keep
// one valid chain.
func TestConcurrentWriters(t *testing.T) {
	d := postgresDB(t)
	a := newEnv(t, d)
	b := &env{db: &db{st: d.open(t)}, ks: a.ks, clock: a.clock}
	key, err := audit.OpenKey(context.Background(), a.ks)
	if err != nil {
		t.Fatal(err)
	}
	if b.cp, err = audit.NewCheckpointer(b.st, key, nil, nil); err != nil {
		t.Fatal(err)
	}
	var wg sync.WaitGroup
	errs := make(chan error, 64)
	for i := 0; i < 4; i++ {
		for _, e := range []*env{a, b} {
			wg.Add(1)
			go func() {
				defer wg.Done()
				for j := 0; j < 25; j++ {
					ev := &store.AuditEvent{Actor: "kysod", Action: "test.write", Subject: fmt.Sprint(i, j), Outcome: "ok", Details: []byte(`{}`)}
					if err := e.st.AppendAudit(context.Background(), ev, &store.AuditEvent{Actor: "kysod", Action: "test.pair", Outcome: "ok", Details: []byte(`{}`)}); err != nil {
						errs <- err
						return
					}
					if j%5 == 0 {
						if _, err := e.cp.Checkpoint(context.Background()); err != nil {
							errs <- err
							return
						}
					}
				}
			}()
		}
	}
	a.work(t)
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Fatal(err)
	}
	a.checkpoint(t)
	r := a.verify(t)
	if !r.OK() || r.Events < 8*25*2 || r.Unsealed() != 0 {
		t.Fatalf("report %+v: want one sealed chain of every event", r)
	}
}

// TestLegacySealed: events written before the chain (no hashes, as
// migration 0013 leaves them) are chained over by the first event after
// and sealed by the first checkpoint; changing one afterwards is caught.
func TestLegacySealed(t *testing.T) {
	d := sqliteDB(t)
	for i := 1; i <= 3; i++ {
		d.exec(t, `INSERT INTO audit_events (time, actor, action, subject, outcome, details) VALUES (?, 'cli:root', 'ca.init', ?, 'ok', '{}')`,
			time.Now().UnixMicro(), fmt.Sprint(i))
	}
	e := newEnv(t, d)
	cp := e.checkpoint(t) // kysod's first start: the seal
	if cp.Seq < 3 {
		t.Fatalf("the first checkpoint seals up to %d", cp.Seq)
	}
	e.work(t)
	e.checkpoint(t)
	r := e.verify(t)
	if !r.OK() || r.Legacy != 3 {
		t.Fatalf("report %+v: want ok with 3 events from before the chain", r)
	}
	for _, s := range d.unlock {
		d.exec(t, s)
	}
	d.exec(t, `UPDATE audit_events SET subject = 'x' WHERE id = 2`)
	r = e.verify(t)
	if r.OK() || r.Breaks[0].Kind != audit.Modified || r.Breaks[0].ID != 1 || r.Breaks[0].LastID != 3 {
		t.Fatalf("report %+v: want events 1–3 modified", r)
	}
}
