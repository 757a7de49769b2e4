package signing_test

import (
	"bytes"
	"context"
	"crypto"
	"encoding/base64"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/kyso-pki/kyso/hsm"
	"github.com/kyso-pki/kyso/internal/testenv"
	"github.com/kyso-pki/kyso/pkg/signing"
	"github.com/kyso-pki/kyso/pkg/store/postgres"
)

// auditLockKey is pkg/store/postgres's lockAudit: the advisory lock every
// write appending to the audit chain takes, the commit batcher's first.
const auditLockKey = 0x6b79736f_0002

// TestSharedCommitsOnPostgres: signHash requests arriving together on
// PostgreSQL share one transaction and one commit (the store's commit
// batcher), and the rules hold inside it, as an attacker would test them.
// The first request to reach the audit chain is held on its lock (taken
// here, from another session) while the others queue, so that they are
// committed together.
func TestSharedCommitsOnPostgres(t *testing.T) {
	ctx := context.Background()
	dsn := testenv.NewPostgres(t)
	st, err := postgres.Open(ctx, dsn, nil)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	e, _ := productionEnv(t, st)
	admin, err := pgx.Connect(ctx, dsn)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { admin.Close(context.Background()) })
	owners := make([]*signing.Enrolment, 4)
	for i := range owners {
		owners[i] = e.enrol(t, hsm.ECDSAP256)
	}
	// sads authorises rounds×4 SADs of one hash each: per round, each
	// owner's code of a fresh time step.
	made := 0
	sads := func(rounds int) []*sadFor {
		var out []*sadFor
		for r := 0; r < rounds; r++ {
			e.clock.Advance(30 * time.Second)
			for _, o := range owners {
				made++
				h := [][]byte{digest(fmt.Sprintf("shared %d", made))}
				sad, _, err := e.svc.Authorize(ctx, &signing.AuthorizeRequest{CredentialID: o.CredentialID, NumSignatures: 1, Hashes: h,
					HashAlgorithm: crypto.SHA256, PIN: "271828", OTP: e.otp(t, o)})
				if err != nil {
					t.Fatal(err)
				}
				out = append(out, &sadFor{o: o, sad: sad, h: h})
			}
		}
		return out
	}
	sign := func(a *sadFor) ([][]byte, error) {
		return e.svc.SignHash(ctx, &signing.SignHashRequest{CredentialID: a.o.CredentialID, SAD: a.sad, Hashes: a.h, HashAlgorithm: crypto.SHA256})
	}
	// held runs the requests with the audit chain's lock held until a
	// write waits for it, and a moment more for the rest to queue.
	held := func(reqs []*sadFor) ([][][]byte, []error) {
		if _, err := admin.Exec(ctx, `SELECT pg_advisory_lock($1)`, int64(auditLockKey)); err != nil {
			t.Fatal(err)
		}
		sigs, errs := make([][][]byte, len(reqs)), make([]error, len(reqs))
		var wg sync.WaitGroup
		for i, a := range reqs {
			wg.Go(func() { sigs[i], errs[i] = sign(a) })
		}
		for waiting := 0; waiting == 0; {
			if err := admin.QueryRow(ctx, `SELECT count(*) FROM pg_locks WHERE locktype = 'advisory' AND NOT granted`).Scan(&waiting); err != nil {
				t.Fatal(err)
			}
			time.Sleep(10 * time.Millisecond)
		}
		time.Sleep(300 * time.Millisecond) // set-up only: what the test asserts does not depend on it
		if _, err := admin.Exec(ctx, `SELECT pg_advisory_unlock($1)`, int64(auditLockKey)); err != nil {
			t.Fatal(err)
		}
		wg.Wait()
		return sigs, errs
	}

	t.Run("a SAD replayed within one commit signs once", func(t *testing.T) {
		all := sads(4)
		replayed := all[0]
		var reqs []*sadFor
		for i := 0; i < 16; i++ {
			reqs = append(reqs, replayed)
			if i+1 < len(all) {
				reqs = append(reqs, all[i+1])
			}
		}
		before, _ := st.SharedCommits()
		sigs, errs := held(reqs)
		won := 0
		for i, a := range reqs {
			switch {
			case a == replayed && errs[i] == nil:
				won++
				verifySig(t, a.o, crypto.SHA256, a.h[0], sigs[i][0])
			case a == replayed:
				if !isCode(errs[i], signing.KindInvalid) || sigs[i] != nil {
					t.Errorf("replay %d: %d signatures, %v; want none and a refusal (invalid_request)", i, len(sigs[i]), errs[i])
				}
			case errs[i] != nil:
				t.Errorf("request %d with its own SAD: %v", i, errs[i])
			default:
				verifySig(t, a.o, crypto.SHA256, a.h[0], sigs[i][0])
			}
		}
		if won != 1 {
			t.Errorf("one SAD replayed 16 times signed %d times, want once", won)
		}
		if n := intents(t, st, replayed.h[0]); n != 1 {
			t.Errorf("%d signature intents audited for the replayed SAD's hash, want 1", n)
		}
		if after, largest := st.SharedCommits(); after == before || largest < 2 {
			t.Errorf("the racing requests never shared a commit (%d shared commits, at most %d writes)", after-before, largest)
		}
	})

	t.Run("a shared commit that fails signs nothing", func(t *testing.T) {
		reqs := sads(2)
		// A deferred constraint trigger refuses every transaction that
		// spent activation data, at COMMIT: each statement succeeds, the
		// commit fails.
		for _, q := range []string{
			`CREATE FUNCTION kyso_test_refuse() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN RAISE EXCEPTION 'the test refuses this commit'; END $$`,
			`CREATE CONSTRAINT TRIGGER kyso_test_refuse AFTER UPDATE ON activations DEFERRABLE INITIALLY DEFERRED FOR EACH ROW EXECUTE FUNCTION kyso_test_refuse()`,
		} {
			if _, err := admin.Exec(ctx, q); err != nil {
				t.Fatal(err)
			}
		}
		before, _ := st.SharedCommits()
		sigs, errs := held(reqs)
		for i := range reqs {
			if errs[i] == nil || sigs[i] != nil {
				t.Errorf("request %d in a failed commit: %d signatures, err %v; want none and an error", i, len(sigs[i]), errs[i])
			}
			if n := intents(t, st, reqs[i].h[0]); n != 0 {
				t.Errorf("request %d: %d signature intents audited by a failed commit", i, n)
			}
		}
		if after, _ := st.SharedCommits(); after == before {
			t.Errorf("the racing requests never shared a commit")
		}
		if _, err := admin.Exec(ctx, `DROP TRIGGER kyso_test_refuse ON activations`); err != nil {
			t.Fatal(err)
		}
		// Nothing was spent: the same SAD signs now.
		sig, err := sign(reqs[0])
		if err != nil {
			t.Fatalf("after the failed commit, the SAD it carried: %v", err)
		}
		verifySig(t, reqs[0].o, crypto.SHA256, reqs[0].h[0], sig[0])
	})
}

// sadFor is a SAD, its owner and the hashes it is bound to.
type sadFor struct {
	o   *signing.Enrolment
	sad string
	h   [][]byte
}

// intents counts the signature.create intent events naming digest.
func intents(t *testing.T, st *postgres.Store, digest []byte) int {
	t.Helper()
	events, err := st.ListAudit(context.Background(), 0, 10000)
	if err != nil {
		t.Fatal(err)
	}
	n := 0
	want := []byte(`"` + base64.StdEncoding.EncodeToString(digest) + `"`)
	for _, ev := range events {
		if ev.Action == "signature.create" && ev.Outcome == "intent" && bytes.Contains(ev.Details, want) {
			n++
		}
	}
	return n
}
