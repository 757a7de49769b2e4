package main

import (
	"bytes"
	"database/sql"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/kyso-pki/kyso/internal/testenv"
)

// TestPostgresRestart restarts PostgreSQL under load (SmartCA submissions
// from four portals' workers), as an operator's restart or a failover
// does: while it is down kysod answers 503 temporarily_unavailable (never
// a 500, never a hang) and /readyz says not ready; once it is back kysod
// reconnects by itself; every transaction the portals resubmit after a
// refusal exists exactly once — none lost, none doubled.
func TestPostgresRestart(t *testing.T) {
	kysod, kyso := binaries(t)
	dsn := testenv.NewPostgres(t)
	dir := t.TempDir()
	data, config := filepath.Join(dir, "data"), filepath.Join(dir, "kysod.yaml")
	// No rate limits: the load is four workers as fast as they go.
	if err := os.WriteFile(config, []byte("rate_limits: {per_source: {rate: -1}, per_client: {rate: -1}}\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	d := startKysod(t, kysod, data, "KYSO_DB="+dsn, "KYSO_CONFIG="+config)
	defer d.stop(t)
	var cl struct {
		ID     string `json:"client_id"`
		Secret string `json:"client_secret"`
	}
	json.Unmarshal([]byte(runKyso(t, kyso, data, nil, "client", "create", "--name", "Cổng thử khởi động lại", "--output", "json", "--db", dsn)), &cl)
	runKyso(t, kyso, data, nil, "enroll", "--cccd", "079203008888", "--name", "Lý Thường Kiệt", "--province", "Hà Nội", "--pin", "556677", "--db", dsn)
	root := fetchPEM(t, "http://"+d.pk+"/ca/root.crt", filepath.Join(t.TempDir(), "root.pem"))
	hc := httpsClient(root)
	hc.Timeout = 20 * time.Second
	submit := func(id string) int {
		body, _ := json.Marshal(map[string]any{"sp_id": cl.ID, "sp_password": cl.Secret, "user_id": "079203008888", "transaction_id": id,
			"sign_files": []map[string]string{{"doc_id": "a.pdf", "file_type": "pdf", "sign_type": "hash", "data_to_be_signed": hex.EncodeToString(make([]byte, 32))}}})
		resp, err := hc.Post("https://"+d.https+"/smartca/v1/signatures/sign", "application/json", bytes.NewReader(body))
		if err != nil {
			return -1
		}
		resp.Body.Close()
		return resp.StatusCode
	}
	readyz := func() int {
		resp, err := hc.Get("https://" + d.https + "/readyz")
		if err != nil {
			return -1
		}
		resp.Body.Close()
		return resp.StatusCode
	}

	var mu sync.Mutex
	answers := map[string]int{}
	var stop atomic.Bool
	var wg sync.WaitGroup
	for w := range 4 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := 0; !stop.Load(); i++ {
				id := fmt.Sprintf("pg-%d-%d", w, i)
				st := submit(id)
				mu.Lock()
				answers[id] = st
				mu.Unlock()
				if st != 200 {
					time.Sleep(100 * time.Millisecond)
				}
			}
		}()
	}
	time.Sleep(2 * time.Second)
	notReady := make(chan bool, 1)
	go func() {
		for deadline := time.Now().Add(10 * time.Second); time.Now().Before(deadline); time.Sleep(100 * time.Millisecond) {
			if readyz() == http.StatusServiceUnavailable {
				notReady <- true
				return
			}
		}
		notReady <- false
	}()
	testenv.RestartPostgres(t, 3*time.Second)
	if !<-notReady {
		t.Error("/readyz never said not ready while PostgreSQL was down")
	}
	back := false
	for deadline := time.Now().Add(15 * time.Second); time.Now().Before(deadline); time.Sleep(200 * time.Millisecond) {
		if readyz() == 200 && submit(fmt.Sprintf("pg-probe-%d", time.Now().UnixNano())) == 200 {
			back = true
			break
		}
	}
	if !back {
		t.Fatal("kysod did not serve again within 15 s of PostgreSQL's return")
	}
	time.Sleep(time.Second)
	stop.Store(true)
	wg.Wait()

	counts := map[int]int{}
	for id, st := range answers {
		counts[st]++
		if st == http.StatusServiceUnavailable || st == -1 {
			// The portal submits again what was refused or unanswered.
			if again := submit(id); again != 200 {
				t.Errorf("%s resubmitted after PostgreSQL returned: HTTP %d", id, again)
			}
		}
	}
	t.Logf("answers during the restart: %v (status: count; -1: no answer)", counts)
	if counts[http.StatusServiceUnavailable] == 0 {
		t.Error("no submission was refused while PostgreSQL was down: the restart was not under load")
	}
	for st, n := range counts {
		if st != 200 && st != http.StatusServiceUnavailable && st != -1 {
			t.Errorf("%d submissions were answered %d; a database outage must be a 503", n, st)
		}
	}
	conn, err := sql.Open("pgx", dsn)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	var rows, distinct int
	if err := conn.QueryRow(`SELECT count(*), count(DISTINCT client_ref) FROM transactions WHERE client_ref LIKE 'pg-%' AND client_ref NOT LIKE 'pg-probe-%'`).Scan(&rows, &distinct); err != nil {
		t.Fatal(err)
	}
	if rows != distinct || distinct != len(answers) {
		t.Errorf("%d transactions for %d references, %d submitted: lost or doubled", rows, distinct, len(answers))
	}
}
