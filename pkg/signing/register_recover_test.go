package signing_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/kyso-pki/kyso/internal/testenv"
	"github.com/kyso-pki/kyso/pkg/ca"
	"github.com/kyso-pki/kyso/pkg/signing"
	"github.com/kyso-pki/kyso/pkg/signing/signingtest"
	"github.com/kyso-pki/kyso/pkg/store"
	"github.com/kyso-pki/kyso/pkg/store/postgres"
	"github.com/kyso-pki/kyso/pkg/store/sqlite"
)

// errCrash is what crashStore panics with: the process of the approval
// stops there, nothing after it runs (no deferred release, no audit).
var errCrash = errors.New("crash injected")

// crashStore is a store whose approval dies at a point: "leased" once the
// registration is taken to approving, "issued" with the certificate
// issued but the enrolment not recorded, "enrolled" with the enrolment
// recorded but the registration not yet approved.
type crashStore struct {
	store.Store
	at string
}

func (c *crashStore) MoveRegistration(ctx context.Context, m *store.RegistrationMove, audit ...*store.AuditEvent) error {
	if c.at == "enrolled" && m.To == store.RegistrationApproved {
		panic(errCrash)
	}
	err := c.Store.MoveRegistration(ctx, m, audit...)
	if c.at == "leased" && m.To == store.RegistrationApproving && err == nil {
		panic(errCrash)
	}
	return err
}

func (c *crashStore) PutEnrolment(ctx context.Context, o *store.Owner, cred *store.Credential, rec *store.EnrolmentRecord, audit ...*store.AuditEvent) error {
	if c.at == "issued" {
		panic(errCrash)
	}
	return c.Store.PutEnrolment(ctx, o, cred, rec, audit...)
}

// TestRegistrationApprovalRecovers kills an officer's approval at each
// point between taking the registration and recording it approved, on
// SQLite and PostgreSQL with keys on SoftHSM. The registration stays
// approving; within its lease a second approval is refused; after it,
// eight officers approve at once: one succeeds, having found the
// crashed approval's enrolment (resumed, audited so) or enrolled when
// there was none. The citizen ends with one good certificate, one owner,
// one credential, and claims the TOTP secret sealed at the enrolment
// that survived, with which they log in.
func TestRegistrationApprovalRecovers(t *testing.T) {
	for _, db := range []string{"sqlite", "postgres"} {
		t.Run(db, func(t *testing.T) {
			ctx := context.Background()
			var st store.Store
			var err error
			if db == "sqlite" {
				st, err = sqlite.Open(ctx, filepath.Join(t.TempDir(), "kyso.db"), nil)
			} else {
				st, err = postgres.Open(ctx, testenv.NewPostgres(t), nil)
			}
			if err != nil {
				t.Fatal(err)
			}
			t.Cleanup(func() { st.Close() })
			ks, a, _ := productionParts(t, st)
			clock := signingtest.NewClock(time.Now())
			svc, err := signing.New(st, ks, a, signingtest.Config(clock))
			if err != nil {
				t.Fatal(err)
			}
			e := &env{svc: svc, clock: clock}
			for _, at := range []string{"leased", "issued", "enrolled"} {
				t.Run(at, func(t *testing.T) {
					crashed, err := signing.New(&crashStore{Store: st, at: at}, ks, a, signingtest.Config(clock))
					if err != nil {
						t.Fatal(err)
					}
					approvalRecovers(t, e, st, a, crashed, at)
				})
			}
		})
	}
}

func approvalRecovers(t *testing.T, e *env, st store.Store, a *ca.Authority, crashed *signing.Service, at string) {
	ctx := context.Background()
	req, reg := e.register(t)
	nid := "CCCD:" + req.CCCD
	approve := func(svc *signing.Service, officer string) (r *store.Registration, err error) {
		defer func() {
			if p := recover(); p != nil {
				if p != errCrash {
					panic(p)
				}
				err = errCrash
			}
		}()
		return svc.ApproveRegistration(ctx, &signing.ApproveRegistrationRequest{ID: reg.ID, Actor: officer,
			EvidenceKind: signing.EvidenceCCCDChip, EvidenceRef: "chip " + officer})
	}
	if _, err := approve(crashed, "officer:dead"); err != errCrash {
		t.Fatalf("the approval did not reach %s: %v", at, err)
	}
	got, err := st.GetRegistration(ctx, reg.ID)
	if err != nil || got.Status != store.RegistrationApproving {
		t.Fatalf("after the crash at %s: %+v, %v", at, got, err)
	}
	_, enrolErr := st.RegistrationEnrolment(ctx, reg.ID)
	if (at == "enrolled") != (enrolErr == nil) {
		t.Fatalf("after the crash at %s, the registration's enrolment: %v", at, enrolErr)
	}
	// Within the lease another approval is refused: the first may be
	// alive and slow.
	if _, err := approve(e.svc, "officer:early"); !isCode(err, signing.KindConflict) {
		t.Fatalf("an approval within the crashed one's lease: %v", err)
	}
	e.clock.Advance(2*time.Minute + time.Second)
	var wg sync.WaitGroup
	var mu sync.Mutex
	var ok []*store.Registration
	var other []string
	for i := range 8 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			r, err := approve(e.svc, fmt.Sprintf("officer:o%d", i))
			mu.Lock()
			defer mu.Unlock()
			if err == nil {
				ok = append(ok, r)
			} else if !isCode(err, signing.KindConflict) {
				other = append(other, err.Error())
			}
		}()
	}
	wg.Wait()
	if len(ok) != 1 || len(other) > 0 {
		t.Fatalf("eight officers resuming after a crash at %s: %d approved, errors other than conflicts: %q", at, len(ok), other)
	}
	done := ok[0]
	if done.Status != store.RegistrationApproved || done.CredentialID == "" {
		t.Fatalf("resumed approval = %+v", done)
	}
	rec, err := st.RegistrationEnrolment(ctx, reg.ID)
	if err != nil || rec.CredentialID != done.CredentialID || rec.Channel != store.ChannelOnline {
		t.Fatalf("the registration's enrolment = %+v, %v; approval names %s", rec, err, done.CredentialID)
	}
	// The approval that died after enrolling keeps its evidence; one that
	// died before enrols with the resuming officer's.
	if wantDead := at == "enrolled"; wantDead != (done.EvidenceRef == "chip officer:dead") || done.EvidenceRef != rec.EvidenceRef {
		t.Errorf("evidence after a crash at %s: registration %q, enrolment %q", at, done.EvidenceRef, rec.EvidenceRef)
	}
	certs, err := a.List(ctx, &store.CertificateFilter{NationalID: nid, Status: store.StatusGood})
	if err != nil {
		t.Fatal(err)
	}
	good := len(certs)
	creds, err := st.ListCredentials(ctx, done.OwnerID)
	if err != nil || len(creds) != 1 || good != 1 {
		t.Fatalf("after a crash at %s: %d credentials, %d good certificates (%v)", at, len(creds), good, err)
	}
	c, err := e.svc.ClaimRegistration(ctx, reg.ID, reg.ClaimSecret, "app:x")
	if err != nil {
		t.Fatalf("claim after a crash at %s: %v", at, err)
	}
	code, err := signing.TOTPCode(c.TOTPURI, e.clock.Now())
	if err != nil {
		t.Fatal(err)
	}
	if _, _, err := e.svc.OwnerLogin(ctx, nid, req.PIN, code); err != nil {
		t.Fatalf("login with the chosen PIN and the claimed factor after a crash at %s: %v", at, err)
	}
	var resumed []string
	es, err := st.ListAudit(ctx, 0, 100000)
	if err != nil {
		t.Fatal(err)
	}
	for _, ev := range es {
		if ev.Subject == nid && ev.Action == "registration.approve" && ev.Outcome == "ok" {
			var d struct{ Resumed bool }
			if err := json.Unmarshal(ev.Details, &d); err != nil {
				t.Fatal(err)
			}
			resumed = append(resumed, fmt.Sprint(d.Resumed))
		}
	}
	if want := fmt.Sprint(at == "enrolled"); strings.Join(resumed, " ") != want {
		t.Errorf("approvals recorded ok after a crash at %s, resumed: %q, want %q", at, resumed, want)
	}
}
