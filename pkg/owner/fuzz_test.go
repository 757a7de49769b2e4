package owner_test

import (
	"bytes"
	"context"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/kyso-pki/kyso/hsm"
	"github.com/kyso-pki/kyso/internal/testpki"
	"github.com/kyso-pki/kyso/pkg/httpedge/httpedgetest"
	"github.com/kyso-pki/kyso/pkg/owner"
	"github.com/kyso-pki/kyso/pkg/signing"
)

// FuzzRequest posts arbitrary JSON bodies to the owners' API as the owner
// (login, approve and reject of a pending transaction): the answer is
// never a 5xx, always a JSON object, and holds no character display.Text
// refuses (httpedgetest.Answer) — the transaction list included, which
// shows the relying party's text. The placeholder PINPIN becomes the
// owner's PIN and CCCD their national ID, so inputs reach the factor
// checks.
func FuzzRequest(f *testing.F) {
	ctx := context.Background()
	p, err := testpki.New(ctx, f.TempDir())
	if err != nil {
		f.Fatal(err)
	}
	f.Cleanup(func() { p.Close() })
	now := time.Now()
	svc, err := signing.New(p.Store, p.Keys, p.CA, signing.Config{SkipSignerCheck: true, SecretsKey: bytes.Repeat([]byte{3}, 32),
		Password: signing.PasswordParams{MemoryKiB: 64, Time: 1, Threads: 1}, Now: func() time.Time { return now }})
	if err != nil {
		f.Fatal(err)
	}
	en, err := svc.Enrol(ctx, &signing.EnrolRequest{CCCD: "079203001234", Name: "Trần Thị Mai", Province: "Hà Nội", PIN: "135790", Algorithm: hsm.ECDSAP256})
	if err != nil {
		f.Fatal(err)
	}
	cl, err := svc.CreateClient(ctx, "Cổng dịch vụ công", "", "test")
	if err != nil {
		f.Fatal(err)
	}
	tx, _, err := svc.Submit(ctx, &signing.SubmitRequest{ClientID: cl.ID, ClientRef: "r1", NationalID: en.NationalID, Description: "Đăng ký khai sinh",
		Documents: []signing.Document{{DocID: "to-khai.pdf", Hash: make([]byte, 32)}}})
	if err != nil {
		f.Fatal(err)
	}
	code, err := signing.TOTPCode(en.TOTPURI, now)
	if err != nil {
		f.Fatal(err)
	}
	tok, _, err := svc.OwnerLogin(ctx, en.NationalID, "135790", code)
	if err != nil {
		f.Fatal(err)
	}
	paths := []string{"/owner/v1/login", "/owner/v1/transactions/" + tx.ID + "/approve", "/owner/v1/transactions/" + tx.ID + "/reject", "/owner/v1/transactions/nope/approve"}
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
	h := owner.NewHandler(svc, nil)
	f.Fuzz(func(t *testing.T, route uint8, body []byte) {
		body = bytes.ReplaceAll(body, []byte("PINPIN"), []byte("135790"))
		body = bytes.ReplaceAll(body, []byte("CCCD"), []byte(strings.TrimPrefix(en.NationalID, "CCCD:")))
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
