package main

import (
	"database/sql"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/kyso-pki/kyso/internal/testenv"
)

// TestDiskFull runs kysod on SQLite in a 32 MiB file system and fills it:
// writes are refused with 503 temporarily_unavailable, a description that
// says why and Retry-After, and logged as errors; kysod keeps serving
// (/livez, reads); when space returns, writes succeed again, nothing
// written before is lost, and SQLite's integrity check is clean.
func TestDiskFull(t *testing.T) {
	if os.Getuid() != 0 {
		testenv.Missing(t, "mounting a small file system needs root")
	}
	mnt := t.TempDir()
	if out, err := exec.Command("mount", "-t", "tmpfs", "-o", "size=32m,mode=0700", "tmpfs", mnt).CombinedOutput(); err != nil {
		testenv.Missing(t, "mount -t tmpfs: %v: %s", err, out)
	}
	t.Cleanup(func() { exec.Command("umount", "-l", mnt).Run() })
	kysod, kyso := binaries(t)
	data := filepath.Join(mnt, "data")
	d := startKysod(t, kysod, data)
	var cl struct {
		ID     string `json:"client_id"`
		Secret string `json:"client_secret"`
	}
	json.Unmarshal([]byte(runKyso(t, kyso, data, nil, "client", "create", "--name", "Cổng thử đĩa đầy", "--output", "json")), &cl)
	root := fetchPEM(t, "http://"+d.pk+"/ca/root.crt", filepath.Join(t.TempDir(), "root.pem"))
	hc := httpsClient(root)
	token := func() (int, string, http.Header) {
		t.Helper()
		resp, err := hc.PostForm("https://"+d.https+"/csc/v2/oauth2/token", url.Values{"grant_type": {"client_credentials"},
			"client_id": {cl.ID}, "client_secret": {cl.Secret}})
		if err != nil {
			t.Fatalf("oauth2/token: %v", err)
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		return resp.StatusCode, string(b), resp.Header
	}
	for range 20 {
		if st, body, _ := token(); st != 200 {
			t.Fatalf("a token with space: HTTP %d %s", st, body)
		}
	}
	db := filepath.Join(data, "kyso.db")
	tokensBefore := countRows(t, db, "tokens")

	// Fill the file system to the last byte.
	filler := filepath.Join(mnt, "filler")
	f, err := os.Create(filler)
	if err != nil {
		t.Fatal(err)
	}
	chunk := make([]byte, 1<<20)
	for {
		if _, err := f.Write(chunk); err != nil {
			if !errors.Is(err, syscall.ENOSPC) {
				t.Fatalf("filling: %v", err)
			}
			break
		}
	}
	for i := 1; i < 1<<20; i *= 2 { // the last partial chunks
		f.Write(chunk[:1<<20/i])
	}
	f.Close()

	// Writes are refused clearly; a few may still fit in pages SQLite
	// had free.
	refused := 0
	for range 200 {
		st, body, h := token()
		switch st {
		case 200:
			continue
		case http.StatusServiceUnavailable:
			refused++
			if !strings.Contains(body, "temporarily_unavailable") || !strings.Contains(body, "storage is full") || h.Get("Retry-After") == "" {
				t.Fatalf("a refusal on a full disk: %s (Retry-After %q)", body, h.Get("Retry-After"))
			}
		default:
			t.Fatalf("a token on a full disk: HTTP %d %s", st, body)
		}
		if refused >= 5 {
			break
		}
	}
	if refused < 5 {
		t.Fatal("200 token requests on a full disk were all granted: the disk was not full")
	}
	if resp, err := hc.Get("https://" + d.https + "/livez"); err != nil || resp.StatusCode != 200 {
		t.Fatalf("/livez on a full disk: %v %v", resp, err)
	}
	if resp, err := http.Get("http://" + d.pk + "/ca/root.crt"); err != nil || resp.StatusCode != 200 {
		t.Fatalf("a read on a full disk: %v %v", resp, err)
	}

	// Space returns: writes go through again.
	if err := os.Remove(filler); err != nil {
		t.Fatal(err)
	}
	var st int
	var body string
	for deadline := time.Now().Add(10 * time.Second); time.Now().Before(deadline); time.Sleep(200 * time.Millisecond) {
		if st, body, _ = token(); st == 200 {
			break
		}
	}
	if st != 200 {
		t.Fatalf("a token once space returned: HTTP %d %s", st, body)
	}
	d.stop(t)
	if n := countRows(t, db, "tokens"); n <= tokensBefore {
		t.Errorf("%d tokens after, %d before: something written before was lost", n, tokensBefore)
	}
	if !strings.Contains(d.logged(), "disk full") {
		t.Error("kysod logged no error about the full disk")
	}
	conn, err := sql.Open("sqlite", "file:"+db)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	var ok string
	if err := conn.QueryRow(`PRAGMA integrity_check`).Scan(&ok); err != nil || ok != "ok" {
		t.Fatalf("integrity_check after the disk was full: %q %v", ok, err)
	}
}

// countRows counts a table's rows in the SQLite database at path.
func countRows(t *testing.T, path, table string) int {
	t.Helper()
	conn, err := sql.Open("sqlite", "file:"+path+"?_pragma=busy_timeout(10000)")
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	var n int
	if err := conn.QueryRow(`SELECT count(*) FROM ` + table).Scan(&n); err != nil {
		t.Fatal(err)
	}
	return n
}
