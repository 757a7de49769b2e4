package main

import (
	"context"
	"database/sql"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"

	"github.com/kyso-pki/kyso/cmd/internal/datadir"
	"github.com/kyso-pki/kyso/internal/crashpoint"
	"github.com/kyso-pki/kyso/internal/testenv"
	"github.com/kyso-pki/kyso/pkg/signing"
)

// TestCrashRegistrationApproval kills `kyso registration approve` (the
// kysocrash build) with SIGKILL once it holds the registration approving
// (registration-leased) and once the enrolment is recorded
// (registration-enrolled), on SQLite and PostgreSQL. The registration
// stays approving; once its two-minute lease has passed (dated back in
// the database: the test does not wait it out) eight officers run `kyso
// registration approve` at once: one succeeds, the others are refused.
// Then the CCCD has one good certificate, named by one credential, the
// registration is approved naming it, and the citizen claims the TOTP
// secret.
func TestCrashRegistrationApproval(t *testing.T) {
	_, kyso := binaries(t)
	crash := crashKyso(t)
	for _, db := range []string{"sqlite", "postgres"} {
		t.Run(db, func(t *testing.T) {
			ctx := context.Background()
			data := filepath.Join(t.TempDir(), "data")
			var dbArgs []string
			dsn, driver, past := "", "sqlite", "1"
			if db == "postgres" {
				dsn, driver, past = testenv.NewPostgres(t), "pgx", "'2000-01-01 00:00:00+00'"
				dbArgs = []string{"--db", dsn}
			}
			runKyso(t, kyso, data, nil, append([]string{"ca", "init"}, dbArgs...)...)
			open := func() (*signing.Service, *datadir.Opened) {
				d, err := datadir.Load(data)
				if err != nil {
					t.Fatal(err)
				}
				if dsn != "" {
					d.Config.DB = dsn
				}
				o, err := d.Open(ctx, nil)
				if err != nil {
					t.Fatal(err)
				}
				svc, err := o.Signing(d, nil)
				if err != nil {
					o.Close()
					t.Fatal(err)
				}
				return svc, o
			}
			sqlDSN := dsn
			if dsn == "" {
				sqlDSN = "file:" + filepath.Join(data, "kyso.db") + "?_pragma=busy_timeout(10000)"
			}
			sqldb, err := sql.Open(driver, sqlDSN)
			if err != nil {
				t.Fatal(err)
			}
			t.Cleanup(func() { sqldb.Close() })
			for i, point := range []string{crashpoint.RegistrationLeased, crashpoint.RegistrationEnrolled} {
				t.Run(point, func(t *testing.T) {
					cccd := fmt.Sprintf("07920300%04d", 7100+i)
					svc, o := open()
					reg, err := svc.Register(ctx, &signing.RegisterRequest{CCCD: cccd, Name: "Người Thử Sự Cố", Province: "Huế",
						Phone: "0901234567", PIN: "482915", Consent: "Tôi đồng ý", Actor: "app:test"})
					o.Close()
					if err != nil {
						t.Fatal(err)
					}
					approve := append([]string{"registration", "approve", reg.ID, "--evidence-kind", "cccd-chip", "--evidence-ref", "chip"}, dbArgs...)
					cmd := exec.Command(crash, approve...)
					cmd.Env = append(os.Environ(), "KYSO_DATA="+data, "KYSO_KEYSTORE=", "KYSO_DB=", "KYSO_CRASH_AT="+point, "KYSO_CRASH_AFTER=1")
					out, err := cmd.CombinedOutput()
					if _, ok := err.(*exec.ExitError); !ok || !strings.Contains(string(out), "SIGKILL at "+point) {
						t.Fatalf("kyso registration approve should have died at %s: %v\n%s", point, err, out)
					}
					var status string
					if err := sqldb.QueryRow(`SELECT status FROM registrations WHERE id = $1`, reg.ID).Scan(&status); err != nil || status != "approving" {
						t.Fatalf("after the crash: %q %v", status, err)
					}
					// The lease's two minutes pass.
					if _, err := sqldb.Exec(`UPDATE registrations SET lease_until = `+past+` WHERE id = $1`, reg.ID); err != nil {
						t.Fatal(err)
					}
					var wg sync.WaitGroup
					var mu sync.Mutex
					ok, answers := 0, []string{}
					for range 8 {
						wg.Add(1)
						go func() {
							defer wg.Done()
							cmd := exec.Command(kyso, approve...)
							cmd.Env = append(os.Environ(), "KYSO_DATA="+data, "KYSO_KEYSTORE=", "KYSO_DB=")
							out, err := cmd.CombinedOutput()
							mu.Lock()
							defer mu.Unlock()
							if err == nil {
								ok++
							} else {
								answers = append(answers, string(out))
							}
						}()
					}
					wg.Wait()
					if ok != 1 {
						t.Fatalf("eight officers resuming after a crash at %s: %d approved; refusals:\n%s", point, ok, strings.Join(answers, "\n"))
					}
					for _, a := range answers {
						if !strings.Contains(a, "another officer") && !strings.Contains(a, "not pending") {
							t.Errorf("a resumed approval refused otherwise than as a conflict: %s", a)
						}
					}
					var good, named int
					sqldb.QueryRow(`SELECT count(*) FROM certificates WHERE national_id = $1 AND status = 'good'`, "CCCD:"+cccd).Scan(&good)
					sqldb.QueryRow(`SELECT count(*) FROM credentials c JOIN owners o ON o.id = c.owner_id JOIN certificates x ON x.serial = c.cert_serial
						JOIN registrations r ON r.credential_id = c.id JOIN enrolment_records e ON e.credential_id = c.id
						WHERE o.national_id = $1 AND x.status = 'good' AND r.id = $2 AND r.status = 'approved' AND e.registration_id = $2`,
						"CCCD:"+cccd, reg.ID).Scan(&named)
					if good != 1 || named != 1 {
						t.Errorf("after a crash at %s: %d good certificates, %d approved registrations naming the credential of the good one", point, good, named)
					}
					svc, o = open()
					defer o.Close()
					if c, err := svc.ClaimRegistration(ctx, reg.ID, reg.ClaimSecret, "app:test"); err != nil || !strings.HasPrefix(c.TOTPURI, "otpauth://totp/") {
						t.Errorf("the claim after a crash at %s: %v", point, err)
					}
				})
			}
		})
	}
}
