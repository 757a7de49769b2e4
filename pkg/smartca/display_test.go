package smartca_test

import (
	"context"
	"encoding/json"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/kyso-pki/kyso/hsm"
	"github.com/kyso-pki/kyso/pkg/algid"
	"github.com/kyso-pki/kyso/pkg/owner"
	"github.com/kyso-pki/kyso/pkg/store"
)

// The strings of issue 13's review.
const (
	hostileDesc  = "Ký\x1b[2J\x1b[1;1H\x1b[32mAPPROVED SAFE\x1b[0m\nfake line"
	hostileDocID = "invoice\u202efdp.exe"
)

// TestHostileText is issue 13's third break, tried as the portal that
// broke it: a transaction_desc that clears the owner's terminal and
// draws "APPROVED SAFE", and a doc_id that shows as "invoiceexe.pdf".
// Each is refused with a 400 naming the field, the character and its
// position, and nothing is stored for the owner to see.
func TestHostileText(t *testing.T) {
	e := newEnv(t, hsm.ECDSAP256)
	sign := func(t *testing.T, ref, desc string, f map[string]any) envelope {
		t.Helper()
		return e.call(t, e.portal, "/smartca/v1/signatures/sign", map[string]any{"user_id": "079203001234", "transaction_id": ref,
			"transaction_desc": desc, "sign_files": []map[string]any{f}}, http.StatusBadRequest, nil)
	}
	withType := func(f map[string]any, ft string) map[string]any { f["file_type"] = ft; return f }
	for _, c := range []struct {
		name      string
		ref, desc string
		file      map[string]any
		want      string
	}{
		{"ANSI escapes and a newline in transaction_desc", "t1", hostileDesc, file("a.pdf", "a"),
			"transaction_desc: control character U+001B at position 3 is not allowed"},
		{"a newline alone in transaction_desc", "t2", "Hồ sơ\nDuyệt", file("a.pdf", "a"),
			"transaction_desc: control character U+000A at position 6 is not allowed"},
		{"right-to-left override in doc_id", "t3", "Hồ sơ", file(hostileDocID, "a"),
			"sign_files[0].doc_id: bidirectional control U+202E at position 8 is not allowed"},
		{"isolate in doc_id", "t4", "Hồ sơ", file("a\u2067b.pdf", "a"),
			"sign_files[0].doc_id: bidirectional control U+2067 at position 2 is not allowed"},
		{"zero-width space in transaction_desc", "t5", "Hợp\u200bđồng", file("a.pdf", "a"),
			"transaction_desc: invisible character U+200B at position 4 is not allowed"},
		{"byte order mark in transaction_id", "t6\ufeff", "Hồ sơ", file("a.pdf", "a"),
			"transaction_id: invisible character U+FEFF at position 3 is not allowed"},
		{"C1 control in transaction_desc", "t7", "a\u009b2J", file("a.pdf", "a"),
			"transaction_desc: control character U+009B at position 2 is not allowed"},
		{"line separator in file_type", "t8", "Hồ sơ", withType(file("a.pdf", "a"), "pdf\u2028"),
			"sign_files[0].file_type: line separator U+2028 at position 4 is not allowed"},
	} {
		t.Run(c.name, func(t *testing.T) {
			if env := sign(t, c.ref, c.desc, c.file); env.Message != c.want {
				t.Errorf("message %q, want %q", env.Message, c.want)
			}
		})
	}
	tok := e.login(t, e.citizen)
	var list owner.TransactionList
	if status, raw := e.ownerCall(t, http.MethodGet, "/owner/v1/transactions", tok, nil, &list); status != http.StatusOK || len(list.Transactions) != 0 {
		t.Errorf("the owner is shown: HTTP %d %s", status, raw)
	}
}

// TestStoredHostileTextIsEscaped: a transaction stored before the edge
// refused such text (written straight into the store here) reaches the
// owner's app escaped, so no app that prints it obeys it.
func TestStoredHostileTextIsEscaped(t *testing.T) {
	e := newEnv(t, hsm.ECDSAP256)
	ctx := context.Background()
	docs, _ := json.Marshal([]map[string]any{{"doc_id": hostileDocID, "hash": make([]byte, 32), "hash_algorithm": algid.SHA256.String()}})
	now := e.clock.Now()
	if _, _, err := e.st.CreateTransaction(ctx, &store.Transaction{ID: "legacy0000000001", ClientID: e.portal.id, ClientRef: "legacy-1",
		CredentialID: e.citizen.CredentialID, OwnerID: e.citizen.OwnerID, Description: hostileDesc, Documents: docs,
		Status: store.TxPending, CreatedAt: now, UpdatedAt: now, ExpiresAt: now.Add(time.Hour)}); err != nil {
		t.Fatal(err)
	}
	tok := e.login(t, e.citizen)
	var list owner.TransactionList
	status, raw := e.ownerCall(t, http.MethodGet, "/owner/v1/transactions", tok, nil, &list)
	if status != http.StatusOK || len(list.Transactions) != 1 {
		t.Fatalf("HTTP %d %s", status, raw)
	}
	tx := list.Transactions[0]
	if want := `Ký\x1b[2J\x1b[1;1H\x1b[32mAPPROVED SAFE\x1b[0m\x0afake line`; tx.Description != want {
		t.Errorf("description %q, want %q", tx.Description, want)
	}
	if want := `invoice\u202efdp.exe`; tx.Documents[0].DocID != want {
		t.Errorf("doc_id %q, want %q", tx.Documents[0].DocID, want)
	}
	if strings.Contains(string(raw), `\u001b`) || strings.Contains(string(raw), "\u202e") || strings.Contains(string(raw), `\n`) {
		t.Errorf("the answer carries the raw characters: %s", raw)
	}
}
