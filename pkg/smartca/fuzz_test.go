package smartca_test

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"net/http/httptest"
	"testing"

	"github.com/kyso-pki/kyso/hsm"
	"github.com/kyso-pki/kyso/pkg/display"
	"github.com/kyso-pki/kyso/pkg/httpedge/httpedgetest"
	"github.com/kyso-pki/kyso/pkg/smartca"
)

// FuzzRequest posts arbitrary bodies to every method: the answer is always
// an envelope whose status_code is the HTTP status, never a 5xx, and
// holds no character display.Text refuses; a transaction it accepts
// stores no transaction_id, transaction_desc or doc_id that would show
// the owner something else. The
// placeholders SPID and SPPW become a real relying party's credentials, so
// inputs get past authentication.
func FuzzRequest(f *testing.F) {
	e := newEnv(f, hsm.ECDSAP256)
	code := e.submit(f, e.portal, "fuzz-1", file("a.pdf", "a"))
	paths := []string{"/smartca/v1/credentials/get_certificate", "/smartca/v1/signatures/sign",
		"/smartca/v1/signatures/sign/" + code + "/status", "/smartca/v1/signatures/sign/fuzz-1/status"}
	sp := `"sp_id":"SPID","sp_password":"SPPW"`
	for _, s := range []string{
		`{` + sp + `,"user_id":"079203001234"}`,
		`{` + sp + `,"user_id":"MST:0101234567-001","serial_number":"0A:FF"}`,
		`{` + sp + `,"user_id":"079203001234","transaction_id":"t1","transaction_desc":"Hồ sơ","sign_files":[{"doc_id":"a","file_type":"pdf","sign_type":"hash","data_to_be_signed":"ca978112ca1bbdcafac231b39a23dc4da786eff8147c4e72b9807785afee48bb"}]}`,
		`{` + sp + `,"user_id":"079203001234","transaction_id":"fuzz-1","sign_files":[{"doc_id":"a","data_to_be_signed":"00"}]}`,
		`{` + sp + `}`,
		`{"sp_id":"SPID","sp_password":"x"}`,
		`{"sp_id":null,"user_id":[]}`,
		`{` + sp + `,"user_id":"\u0000"}`,
		`{` + sp + `,"user_id":"079203001234","transaction_id":"t2","transaction_desc":"Ký\u001b[2J\u001b[1;1H\u001b[32mAPPROVED SAFE\u001b[0m\nfake line","sign_files":[{"doc_id":"invoice\u202efdp.exe","data_to_be_signed":"ca978112ca1bbdcafac231b39a23dc4da786eff8147c4e72b9807785afee48bb"}]}`,
		`{` + sp + `,"user_id":"079203001234","transaction_id":"t3","transaction_desc":"Hợp đồng","sign_files":[{"doc_id":"b.pdf","file_type":"pdf","data_to_be_signed":"ca978112ca1bbdcafac231b39a23dc4da786eff8147c4e72b9807785afee48bb"}]}`,
		`{` + sp + `,"sign_files":[null,{}]}`,
		``, `null`, `[]`, `"x"`, `{}{}`, `{"a":1e999}`,
	} {
		for i := range paths {
			f.Add(uint8(i), []byte(s))
		}
	}
	h := smartca.NewHandler(e.svc, nil)
	f.Fuzz(func(t *testing.T, route uint8, body []byte) {
		body = bytes.ReplaceAll(body, []byte("SPID"), []byte(e.portal.id))
		body = bytes.ReplaceAll(body, []byte("SPPW"), []byte(e.portal.secret))
		req := httptest.NewRequest(http.MethodPost, paths[int(route)%len(paths)], bytes.NewReader(body))
		req.Header.Set("Content-Type", "application/json")
		w := httptest.NewRecorder()
		h.ServeHTTP(w, req)
		var env struct {
			StatusCode int             `json:"status_code"`
			Message    *string         `json:"message"`
			Data       json.RawMessage `json:"data"`
		}
		if err := json.Unmarshal(w.Body.Bytes(), &env); err != nil {
			t.Fatalf("HTTP %d, not JSON: %v: %s", w.Code, err, w.Body.Bytes())
		}
		if w.Code >= 500 || env.StatusCode != w.Code || env.Message == nil {
			t.Fatalf("HTTP %d: %s", w.Code, w.Body.Bytes())
		}
		httpedgetest.Answer(t, w.Code, w.Body.Bytes())
		if w.Code != http.StatusOK || int(route)%len(paths) != 1 {
			return
		}
		// An accepted request stored nothing the owner would see as
		// other than it is.
		txs, err := e.svc.OwnerTransactions(context.Background(), e.citizen.OwnerID, false)
		if err != nil {
			t.Fatal(err)
		}
		for _, tx := range txs {
			checks := []error{display.Text("transaction_id", tx.ClientRef), display.Text("transaction_desc", tx.Description)}
			for _, d := range tx.Documents {
				checks = append(checks, display.Text("doc_id", d.DocID))
			}
			if err := errors.Join(checks...); err != nil {
				t.Fatalf("stored %q: %v", body, err)
			}
		}
	})
}
