package main

import (
	"bufio"
	"bytes"
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"database/sql"
	"encoding/hex"
	"encoding/json"
	"encoding/pem"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	_ "modernc.org/sqlite"

	"github.com/kyso-pki/kyso/cmd/internal/datadir"
	"github.com/kyso-pki/kyso/pkg/audit"
	"github.com/kyso-pki/kyso/pkg/store"
)

// TestAuditVerifyExport: on a data directory whose log kysod's
// Checkpointer sealed, `kyso audit verify` passes (with the key store's
// key or the auditor's PEM copy, and not with another key), `kyso audit
// export` writes lines whose hashes an auditor recomputes, and a change
// made in the database is named with its event and exit status 1.
func TestAuditVerifyExport(t *testing.T) {
	ctx := context.Background()
	dir, data, run := initData(t)
	// What kysod does at start: the audit key, the first checkpoint.
	d, err := datadir.Load(data)
	if err != nil {
		t.Fatal(err)
	}
	o, err := d.Open(ctx, nil)
	if err != nil {
		t.Fatal(err)
	}
	key, err := audit.OpenKey(ctx, o.Keys)
	if err != nil {
		t.Fatal(err)
	}
	cpr, err := audit.NewCheckpointer(o.Store, key, nil, nil)
	if err != nil {
		t.Fatal(err)
	}
	cp, err := cpr.Checkpoint(ctx)
	if err != nil {
		t.Fatal(err)
	}
	o.Close()
	if cp.Seq < 3 {
		t.Fatalf("ca init wrote %d audit events", cp.Seq)
	}

	out, _ := run(0, "audit", "verify", "--data", data)
	if !strings.Contains(out, "chain        ok") || !strings.Contains(out, fmt.Sprintf("sealed up to event %d", cp.Seq)) {
		t.Fatalf("audit verify:\n%s", out)
	}
	pemOut, _ := run(0, "audit", "key", "--data", data)
	keyFile := filepath.Join(dir, "audit-key.pem")
	if err := os.WriteFile(keyFile, []byte(pemOut), 0o644); err != nil {
		t.Fatal(err)
	}
	run(0, "audit", "verify", "--data", data, "--key", keyFile)
	other, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	der, _ := x509.MarshalPKIXPublicKey(&other.PublicKey)
	otherFile := filepath.Join(dir, "other.pem")
	if err := os.WriteFile(otherFile, pem.EncodeToMemory(&pem.Block{Type: "PUBLIC KEY", Bytes: der}), 0o644); err != nil {
		t.Fatal(err)
	}
	out, errOut := run(1, "audit", "verify", "--data", data, "--key", otherFile)
	if !strings.Contains(out+errOut, "checkpoint: event") {
		t.Fatalf("a checkpoint checked with another key:\n%s%s", out, errOut)
	}

	// Export: every event line recomputes to its hash and links to the
	// line before; the checkpoint line names the last.
	exported := filepath.Join(dir, "audit.jsonl")
	run(0, "audit", "export", "--data", data, "--from", "2000-01-01", "--out", exported)
	f, err := os.ReadFile(exported)
	if err != nil {
		t.Fatal(err)
	}
	var prev []byte
	events, checkpoints := 0, 0
	sc := bufio.NewScanner(bytes.NewReader(f))
	for sc.Scan() {
		var l audit.Line
		if err := json.Unmarshal(sc.Bytes(), &l); err != nil {
			t.Fatalf("export line %q: %v", sc.Text(), err)
		}
		switch l.Type {
		case "event":
			events++
			e := &store.AuditEvent{ID: l.ID, Time: l.Time, Actor: l.Actor, Action: l.Action, Subject: l.Subject, Outcome: l.Outcome, Details: []byte(l.Details)}
			h := store.AuditHash(e, prev)
			if l.PrevHash != hex.EncodeToString(prev) || l.Hash != hex.EncodeToString(h) || l.Chain != store.AuditChainVersion {
				t.Fatalf("export line %d does not recompute: %s", l.ID, sc.Text())
			}
			prev = h
		case "checkpoint":
			checkpoints++
			if *l.Seq != cp.Seq || l.Hash != hex.EncodeToString(prev) {
				t.Fatalf("checkpoint line %s, want seq %d hash %x", sc.Text(), cp.Seq, prev)
			}
		}
	}
	if int64(events) != cp.Seq || checkpoints != 1 {
		t.Fatalf("export: %d events, %d checkpoints", events, checkpoints)
	}
	if out, errOut := run(0, "audit", "export", "--data", data, "--from", "2999-01-01"); out != "" || !strings.Contains(errOut, "exported 0 audit events") {
		t.Fatalf("an export of the future: %q %q", out, errOut)
	}
	run(2, "audit", "export", "--data", data, "--from", "yesterday")
	run(2, "audit", "export", "--data", data, "--from", "2026-02-01", "--to", "2026-01-01")

	// The attacker edits an event in the database.
	db, err := sql.Open("sqlite", filepath.Join(data, "kyso.db"))
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	for _, q := range []string{`DROP TRIGGER audit_events_no_update`, `UPDATE audit_events SET actor = 'cli:someone-else' WHERE id = 2`} {
		if _, err := db.Exec(q); err != nil {
			t.Fatal(err)
		}
	}
	out, errOut = run(1, "audit", "verify", "--data", data)
	if !strings.Contains(out, "modified: event 2 at ") || !strings.Contains(errOut, "the audit log is broken") {
		t.Fatalf("audit verify of a modified log:\n%s%s", out, errOut)
	}
}
