package main

import (
	"encoding/json"
	"encoding/pem"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestApproveListEscapes is issue 13's third break as the owner met it:
// a transaction whose description clears the terminal and draws
// "APPROVED SAFE" on a fake line, and whose document ID shows as
// "invoiceexe.pdf", stored by a kysod from before the edge refused them
// and sent as it stored them (the owners' API of that kysod, played here
// by a stand-in). kyso approve --list prints one line per transaction
// with those characters escaped, so the terminal shows them rather than
// obeying them; so does an error the server describes with them.
func TestApproveListEscapes(t *testing.T) {
	t.Setenv("XDG_CACHE_HOME", t.TempDir())
	t.Setenv("HOME", t.TempDir())
	t.Setenv("KYSO_TEST_OTPAUTH", "otpauth://totp/kyso:CCCD:079203001234?algorithm=SHA1&digits=6&issuer=kyso&period=30&secret=WKWYDAGLIK4Y7ZILSETH2RMVPKQHWBXA")
	const (
		desc  = "Ký\x1b[2J\x1b[1;1H\x1b[32mAPPROVED SAFE\x1b[0m\nfake line"
		docID = "invoice\u202efdp.exe"
	)
	failLogin := false
	mux := http.NewServeMux()
	mux.HandleFunc("POST /owner/v1/login", func(w http.ResponseWriter, r *http.Request) {
		if failLogin {
			w.WriteHeader(http.StatusForbidden)
			json.NewEncoder(w).Encode(map[string]string{"error": "access_denied", "error_description": "sai\x1b[2J\nOK"})
			return
		}
		json.NewEncoder(w).Encode(map[string]any{"access_token": "tok", "token_type": "Bearer", "expires_in": 600})
	})
	mux.HandleFunc("POST /owner/v1/logout", func(w http.ResponseWriter, r *http.Request) { w.WriteHeader(http.StatusNoContent) })
	mux.HandleFunc("GET /owner/v1/transactions", func(w http.ResponseWriter, r *http.Request) {
		json.NewEncoder(w).Encode(map[string]any{"transactions": []map[string]any{{
			"id": "tx1", "client_name": "Cổng\u2067 dịch vụ", "description": desc, "status": "pending",
			"documents": []map[string]any{{"doc_id": docID, "hash": strings.Repeat("00", 32)}, {"doc_id": "phụ lục.pdf", "hash": strings.Repeat("11", 32)}},
		}}})
	})
	ts := httptest.NewTLSServer(mux)
	defer ts.Close()
	caFile := filepath.Join(t.TempDir(), "ca.pem")
	os.WriteFile(caFile, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: ts.Certificate().Raw}), 0o644)
	args := []string{"approve", "--url", ts.URL, "--national-id", "079203001234", "--pin", "271828",
		"--otpauth-source", "env:KYSO_TEST_OTPAUTH", "--ca-file", caFile, "--list"}

	out, errOut, code := kyso(t, args...)
	if code != 0 {
		t.Fatalf("approve --list: exit %d %s", code, errOut)
	}
	want := `tx1  Cổng\u2067 dịch vụ: Ký\x1b[2J\x1b[1;1H\x1b[32mAPPROVED SAFE\x1b[0m\x0afake line [invoice\u202efdp.exe, phụ lục.pdf]` + "\n"
	if out != want {
		t.Errorf("approve --list printed\n%q\nwant\n%q", out, want)
	}
	if strings.ContainsAny(out, "\x1b\u202e\u2067") || strings.Count(out, "\n") != 1 {
		t.Errorf("the terminal would obey %q", out)
	}

	failLogin = true
	_, errOut, code = kyso(t, args...)
	if code == 0 || strings.ContainsAny(errOut, "\x1b") || !strings.Contains(errOut, `sai\x1b[2J\x0aOK`) {
		t.Errorf("a refused login: exit %d %q", code, errOut)
	}
}
