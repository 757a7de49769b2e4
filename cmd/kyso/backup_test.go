package main

import (
	"archive/tar"
	"compress/gzip"
	"context"
	"crypto/ecdsa"
	"crypto/sha256"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/kyso-pki/kyso/cmd/internal/datadir"
	"github.com/kyso-pki/kyso/hsm"
	"github.com/kyso-pki/kyso/internal/testenv"
	"github.com/kyso-pki/kyso/pkg/signing"
	"github.com/kyso-pki/kyso/pkg/store"
)

// openService opens the data directory dir as the CLI does, with the
// signing service over it.
func openService(t *testing.T, dir string) (*signing.Service, *datadir.Opened) {
	t.Helper()
	d, err := datadir.Load(dir)
	if err != nil {
		t.Fatal(err)
	}
	o, err := d.Open(context.Background(), nil)
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

// signOnce submits one hash for the owner and approves it with the PIN and
// the code of time at, and checks the signature with the certificate's key.
func signOnce(t *testing.T, svc *signing.Service, clientID string, en *signing.Enrolment, ref string, at time.Time) *signing.Transaction {
	t.Helper()
	ctx := context.Background()
	digest := sha256.Sum256([]byte(ref))
	tx, _, err := svc.Submit(ctx, &signing.SubmitRequest{ClientID: clientID, ClientRef: ref, NationalID: en.NationalID,
		Documents: []signing.Document{{DocID: ref, Hash: digest[:]}}})
	if err != nil {
		t.Fatal(err)
	}
	code, err := signing.TOTPCode(en.TOTPURI, at)
	if err != nil {
		t.Fatal(err)
	}
	done, err := svc.Approve(ctx, en.OwnerID, tx.ID, "271828", code)
	if err != nil {
		t.Fatalf("approving %s: %v", ref, err)
	}
	if len(done.Signatures) != 1 || !ecdsa.VerifyASN1(en.Certificate.PublicKey.(*ecdsa.PublicKey), digest[:], done.Signatures[0].Signature) {
		t.Fatalf("the signature of %s does not verify with the certificate's key", ref)
	}
	return done
}

// source is a data directory in use: a CA, a citizen, a portal, and one
// transaction signed at now, with the service still open over it.
type source struct {
	svc      *signing.Service
	o        *datadir.Opened
	en       *signing.Enrolment
	portalID string
	first    *signing.Transaction
	now      time.Time
}

// newSource makes a source in dir; extra are kyso ca init's further flags
// (--db).
func newSource(t *testing.T, dir, cccd string, extra ...string) *source {
	t.Helper()
	ctx := context.Background()
	if _, stderr, code := kyso(t, append([]string{"ca", "init", "--data", dir}, extra...)...); code != 0 {
		t.Fatalf("ca init: %s", stderr)
	}
	s := &source{now: time.Now()}
	s.svc, s.o = openService(t, dir)
	var err error
	if s.en, err = s.svc.Enrol(ctx, &signing.EnrolRequest{CCCD: cccd, Name: "Trần Thị Bình", Province: "Đà Nẵng", PIN: "271828",
		Algorithm: hsm.ECDSAP256, Actor: "test"}); err != nil {
		t.Fatal(err)
	}
	portal, err := s.svc.CreateClient(ctx, "Cổng dịch vụ công", "", "test")
	if err != nil {
		t.Fatal(err)
	}
	s.portalID = portal.ID
	s.first = signOnce(t, s.svc, s.portalID, s.en, "to-khai-1", s.now)
	return s
}

// signsAgain opens the restored directory dir: the transaction signed
// before the backup is there, and the same key, PIN and authenticator
// sign again (with the next code: the restored database remembers the
// one spent).
func (s *source) signsAgain(t *testing.T, dir string) {
	t.Helper()
	svc, o := openService(t, dir)
	defer o.Close()
	if got, err := svc.ClientTransaction(context.Background(), s.portalID, s.first.ID); err != nil || got.Status != store.TxSigned {
		t.Fatalf("the transaction signed before the backup, restored: %+v, %v", got, err)
	}
	signOnce(t, svc, s.portalID, s.en, "to-khai-2", s.now.Add(30*time.Second))
}

// TestBackupRestoreSignsAgain: a backup taken while the data directory is
// in use (a service keeps writing) restores into a new directory that
// holds the CA, the citizen, their key and what was signed, and signs
// again with the same key, PIN and authenticator.
func TestBackupRestoreSignsAgain(t *testing.T) {
	ctx := context.Background()
	base := t.TempDir()
	src, dst, file := filepath.Join(base, "src"), filepath.Join(base, "restored"), filepath.Join(base, "kyso-backup.tar.gz")
	s := newSource(t, src, "079203004321")
	svc, en, portal := s.svc, s.en, s.portalID

	// kysod's part: writes go on while the backup is taken.
	stop := make(chan struct{})
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		for i := 0; ; i++ {
			select {
			case <-stop:
				return
			default:
			}
			if _, _, err := svc.Submit(ctx, &signing.SubmitRequest{ClientID: portal, ClientRef: "busy-" + strconv.Itoa(i), NationalID: en.NationalID,
				Documents: []signing.Document{{DocID: "busy", Hash: make([]byte, 32)}}}); err != nil {
				t.Errorf("a write during the backup: %v", err)
				return
			}
		}
	}()
	stdout, stderr, code := kyso(t, "backup", "--data", src, "--out", file)
	close(stop)
	wg.Wait()
	s.o.Close()
	if code != 0 || !strings.Contains(stdout, "kyso.db") || !strings.Contains(stdout, "keys/") {
		t.Fatalf("backup: exit %d\n%s%s", code, stdout, stderr)
	}
	if fi, err := os.Stat(file); err != nil || fi.Mode().Perm() != 0o600 {
		t.Fatalf("the backup file: %v, %v", fi, err)
	}
	if stdout, stderr, code := kyso(t, "restore", "--from", file, "--data", dst); code != 0 || !strings.Contains(stdout, "restored") {
		t.Fatalf("restore: exit %d\n%s%s", code, stdout, stderr)
	}
	s.signsAgain(t, dst)
}

// TestRestoreRefuses: a restore refuses, leaving nothing behind, an
// archive with an entry a backup never holds (a path out of the
// directory, a link), one that is no backup, and a non-empty target; a
// backup refuses to overwrite a file.
func TestRestoreRefuses(t *testing.T) {
	base := t.TempDir()
	archive := func(name string, entries map[string]string, link bool) string {
		t.Helper()
		p := filepath.Join(base, name)
		f, err := os.Create(p)
		if err != nil {
			t.Fatal(err)
		}
		gz := gzip.NewWriter(f)
		tw := tar.NewWriter(gz)
		write := func(n, body string) {
			tw.WriteHeader(&tar.Header{Name: n, Mode: 0o600, Size: int64(len(body)), Typeflag: tar.TypeReg})
			tw.Write([]byte(body))
		}
		write(manifestName, `{"format":"kyso-backup/1"}`)
		for n, body := range entries {
			write(n, body)
		}
		if link {
			tw.WriteHeader(&tar.Header{Name: "keys/evil", Linkname: "/etc/passwd", Typeflag: tar.TypeSymlink})
		}
		tw.Close()
		gz.Close()
		f.Close()
		return p
	}
	for _, tc := range []struct {
		name, file, want string
	}{
		{"a path out of the directory", archive("dotdot.tar.gz", map[string]string{"../escaped": "x"}, false), `holds "../escaped"`},
		{"a nested key path", archive("nested.tar.gz", map[string]string{"keys/a/b": "x"}, false), `holds "keys/a/b"`},
		{"a symbolic link", archive("link.tar.gz", nil, true), `holds "keys/evil"`},
		{"a damaged database", archive("baddb.tar.gz", map[string]string{"kyso.db": strings.Repeat("not a database ", 300)}, false), "database"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			target := filepath.Join(base, "out-"+strings.ReplaceAll(tc.name, " ", "-"))
			_, stderr, code := kyso(t, "restore", "--from", tc.file, "--data", target)
			if code != 1 || !strings.Contains(stderr, tc.want) {
				t.Fatalf("exit %d: %s", code, stderr)
			}
			if _, err := os.Stat(target); err == nil {
				t.Errorf("%s was made", target)
			}
			if _, err := os.Stat(filepath.Join(base, "escaped")); err == nil {
				t.Errorf("a file escaped the target")
			}
		})
	}
	notBackup := filepath.Join(base, "plain.tar.gz")
	os.WriteFile(notBackup, []byte("hello"), 0o600)
	if _, stderr, code := kyso(t, "restore", "--from", notBackup, "--data", filepath.Join(base, "x")); code != 1 || !strings.Contains(stderr, "not a kyso backup") {
		t.Errorf("a file that is no backup: exit %d: %s", code, stderr)
	}
	full := filepath.Join(base, "full")
	os.MkdirAll(full, 0o700)
	os.WriteFile(filepath.Join(full, "kyso.json"), []byte("{}"), 0o600)
	if _, stderr, code := kyso(t, "restore", "--from", notBackup, "--data", full); code != 2 || !strings.Contains(stderr, "not empty") {
		t.Errorf("a non-empty target: exit %d: %s", code, stderr)
	}
	if _, stderr, code := kyso(t, "backup", "--data", full, "--out", notBackup); code != 2 || !strings.Contains(stderr, "never overwrites") {
		t.Errorf("a backup over a file: exit %d: %s", code, stderr)
	}
}

// TestBackupRestorePostgres: on PostgreSQL the backup holds the data
// directory's files and says the database is not in it; the documented
// route — pg_dump --format=custom, pg_restore into a new database, kyso
// restore, kyso.json's db pointed at the new database — signs again with
// the same key, PIN and authenticator.
func TestBackupRestorePostgres(t *testing.T) {
	base := t.TempDir()
	src, dst, file, dump := filepath.Join(base, "src"), filepath.Join(base, "restored"), filepath.Join(base, "kyso-backup.tar.gz"), filepath.Join(base, "kyso.dump")
	dsn := testenv.NewPostgres(t)
	s := newSource(t, src, "079203004322", "--db", dsn)
	s.o.Close()
	stdout, stderr, code := kyso(t, "backup", "--data", src, "--out", file)
	if code != 0 || strings.Contains(stdout, "kyso.db") || !strings.Contains(stdout, "not in this backup: the database (PostgreSQL)") {
		t.Fatalf("backup: exit %d\n%s%s", code, stdout, stderr)
	}
	if out, err := exec.Command(testenv.PostgresTool(t, "pg_dump"), "--format=custom", "--file="+dump, dsn).CombinedOutput(); err != nil {
		t.Fatalf("pg_dump: %v\n%s", err, out)
	}
	restoredDSN := testenv.NewPostgres(t)
	if out, err := exec.Command(testenv.PostgresTool(t, "pg_restore"), "--no-owner", "--exit-on-error", "--dbname="+restoredDSN, dump).CombinedOutput(); err != nil {
		t.Fatalf("pg_restore: %v\n%s", err, out)
	}
	if stdout, stderr, code := kyso(t, "restore", "--from", file, "--data", dst); code != 0 {
		t.Fatalf("restore: exit %d\n%s%s", code, stdout, stderr)
	}
	d, err := datadir.Load(dst)
	if err != nil {
		t.Fatal(err)
	}
	d.Config.DB = restoredDSN
	if err := d.Save(); err != nil {
		t.Fatal(err)
	}
	s.signsAgain(t, dst)
}
