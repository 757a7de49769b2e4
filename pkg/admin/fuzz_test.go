package admin_test

import (
	"bytes"
	"crypto/x509"
	"encoding/json"
	"encoding/pem"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"unicode"

	"github.com/kyso-pki/kyso/pkg/admin"
	"github.com/kyso-pki/kyso/pkg/display"
	"github.com/kyso-pki/kyso/pkg/httpedge/httpedgetest"
)

// FuzzEnrol posts arbitrary enrolments as a registration officer: the
// answer is never a 5xx, always a JSON object, and holds no character
// display.Text refuses; an enrolment accepted put in the certificate a
// name that shows as it is, in Latin letters alone, and took a PIN that
// is neither one digit repeated nor a run.
func FuzzEnrol(f *testing.F) {
	svc, _ := newServer(f)
	tok := officerToken(f, svc)
	for _, s := range []string{
		`{"cccd":"079203007777","name":"Đặng Thùy Trâm","province":"Quảng Ngãi","pin":"246802","phone":"+84 912 345 678","email":"tram@example.vn"}`,
		`{"cccd":"079203007778","name":"Nguyễn Vаn An","province":"Hà Nội","pin":"271828"}`,
		`{"cccd":"079203007779","name":"An\u202eBình","province":"Hà Nội","pin":"271828","phone":"09\u001b[2J"}`,
		`{"cccd":"079203007780","name":"Lê Văn Tám","province":"Hà Nội","pin":"123456"}`,
		`{"cccd":"079203007781","name":"Lê Văn Tám","province":"Hà Nội","pin":"000000","algorithm":"rsa-2048"}`,
		`{}`, `{"role":"admin"}`, `{"pin":123456}`, `null`, `[]`, ``,
	} {
		f.Add([]byte(s))
	}
	h := admin.NewHandler(svc, nil)
	f.Fuzz(func(t *testing.T, body []byte) {
		req := httptest.NewRequest(http.MethodPost, "/admin/v1/enrolments", bytes.NewReader(body))
		req.Header.Set("Content-Type", "application/json")
		req.Header.Set("Authorization", "Bearer "+tok)
		w := httptest.NewRecorder()
		h.ServeHTTP(w, req)
		httpedgetest.Answer(t, w.Code, w.Body.Bytes(), "answer.certificate")
		if w.Code != http.StatusCreated {
			return
		}
		var in admin.EnrolRequest
		var en admin.Enrolment
		json.Unmarshal(body, &in)
		json.Unmarshal(w.Body.Bytes(), &en)
		blk, _ := pem.Decode([]byte(en.Certificate))
		if blk == nil {
			t.Fatalf("no certificate: %s", w.Body.Bytes())
		}
		cert, err := x509.ParseCertificate(blk.Bytes)
		if err != nil {
			t.Fatal(err)
		}
		name := cert.Subject.CommonName
		if _, _, mixed := display.MixedScript(name); mixed || display.Text("name", name) != nil ||
			strings.ContainsFunc(name, func(r rune) bool { return unicode.IsLetter(r) && display.ScriptName(r) != "Latin" }) {
			t.Fatalf("enrolled the name %q", name)
		}
		if ascending, descending, same := pinShape(in.PIN); ascending || descending || same {
			t.Fatalf("enrolled the PIN %q", in.PIN)
		}
	})
}

// pinShape reports whether pin's digits each follow the one before by
// +1 or -1 (modulo 10), or are all the same.
func pinShape(pin string) (ascending, descending, same bool) {
	ascending, descending, same = true, true, true
	for i := 1; i < len(pin); i++ {
		d := (int(pin[i]) - int(pin[i-1]) + 10) % 10
		ascending, descending, same = ascending && d == 1, descending && d == 9, same && d == 0
	}
	return
}
