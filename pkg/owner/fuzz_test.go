package owner_test

import (
	"bytes"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/kyso-pki/kyso/pkg/httpedge/httpedgetest"
	"github.com/kyso-pki/kyso/pkg/owner"
)

// FuzzRequest posts arbitrary JSON bodies to the owners' API as the owner
// (login, approve and reject of a pending transaction): the answer is
// never a 5xx, always a JSON object, and holds no character display.Text
// refuses (httpedgetest.Answer) — the transaction list included, which
// shows the relying party's text. The placeholder PINPIN becomes the
// owner's PIN and CCCD their national ID, so inputs reach the factor
// checks.
func FuzzRequest(f *testing.F) {
	e := newEnv(f)
	tx := e.submit(f, e.citizen, "r1")
	tok := e.login(f, e.citizen)
	paths := []string{"/owner/v1/login", "/owner/v1/transactions/" + tx + "/approve", "/owner/v1/transactions/" + tx + "/reject", "/owner/v1/transactions/nope/approve"}
	for _, s := range []string{
		`{"national_id":"CCCD","pin":"PINPIN","otp":"000000"}`,
		`{"national_id":"CCCD:CCCD","pin":"000000","otp":"000000"}`,
		`{"national_id":"0792\u202e03001234","pin":"PINPIN","otp":"1"}`,
		`{"pin":"PINPIN","otp":"000000"}`,
		`{"pin":"","otp":""}`,
		`{}`, `{"approve_all":true}`, `{"pin":1}`, `null`, `[]`, ``, `{}{}`,
	} {
		for i := range paths {
			f.Add(uint8(i), []byte(s))
		}
	}
	h := owner.NewHandler(e.svc, nil)
	f.Fuzz(func(t *testing.T, route uint8, body []byte) {
		body = bytes.ReplaceAll(body, []byte("PINPIN"), []byte("135790"))
		body = bytes.ReplaceAll(body, []byte("CCCD"), []byte(strings.TrimPrefix(e.citizen.NationalID, "CCCD:")))
		req := httptest.NewRequest(http.MethodPost, paths[int(route)%len(paths)], bytes.NewReader(body))
		req.Header.Set("Content-Type", "application/json")
		req.Header.Set("Authorization", "Bearer "+tok)
		w := httptest.NewRecorder()
		h.ServeHTTP(w, req)
		httpedgetest.Answer(t, w.Code, w.Body.Bytes())
		list := httptest.NewRequest(http.MethodGet, "/owner/v1/transactions", nil)
		list.Header.Set("Authorization", "Bearer "+tok)
		w = httptest.NewRecorder()
		h.ServeHTTP(w, list)
		httpedgetest.Answer(t, w.Code, w.Body.Bytes())
	})
}
