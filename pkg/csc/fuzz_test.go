package csc_test

import (
	"bytes"
	"context"
	"net/http"
	"net/http/httptest"
	"testing"

	"github.com/kyso-pki/kyso/hsm"
	"github.com/kyso-pki/kyso/pkg/csc"
	"github.com/kyso-pki/kyso/pkg/httpedge/httpedgetest"
)

// FuzzRequest posts arbitrary JSON bodies to every method of the CSC API
// that reads one, as a relying party holding a token: the answer is
// never a 5xx, always a JSON object, and holds no character display.Text
// refuses (httpedgetest.Answer). The placeholder CRED becomes the
// enrolled credential's ID and PINPIN the owner's PIN, so inputs reach the
// factor checks.
func FuzzRequest(f *testing.F) {
	ctx := context.Background()
	e := newEnv(f, hsm.ECDSAP256, false)
	svc, en, cl := e.svc, e.cred, e.client
	token := func(t testing.TB) string {
		tok, _, err := svc.ClientToken(ctx, cl.ClientID, cl.ClientSecret, "")
		if err != nil {
			t.Fatal(err)
		}
		return tok
	}
	tok := token(f)
	paths := []string{"credentials/list", "credentials/info", "credentials/authorize", "signatures/signHash", "signatures/signDoc", "auth/revoke"}
	const hash = `"LCa0a2j/xo/5m0U8HTBBNBNCLXBkg7+g+YpeiGJm564="`
	for _, s := range []string{
		`{"userID":"079203001234","credInfo":true,"certificates":"chain","certInfo":true,"authInfo":true,"maxResults":10}`,
		`{"credentialID":"CRED","certificates":"single","certInfo":true}`,
		`{"credentialID":"CRED","numSignatures":1,"hashes":[` + hash + `],"hashAlgorithmOID":"2.16.840.1.101.3.4.2.1","authData":[{"id":"PIN","value":"PINPIN"},{"id":"OTP","value":"123456"}],"description":"Ký hợp đồng"}`,
		`{"credentialID":"CRED","numSignatures":1,"hash":[` + hash + `],"PIN":"PINPIN","OTP":"000000","description":"Ký\u001b[2J\nfake","clientData":"x"}`,
		`{"credentialID":"CRED","SAD":"x","hashes":[` + hash + `],"hashAlgorithmOID":"2.16.840.1.101.3.4.2.1","signAlgo":"1.2.840.10045.4.3.2"}`,
		`{"credentialID":"CRED","SAD":"x","hashes":[` + hash + `],"signAlgo":"1.2.840.113549.1.1.10","signAlgoParams":"MAA="}`,
		`{"credentialID":"CRED","SAD":"x","documents":[{"document":"JVBERi0=","signature_format":"P","conformance_level":"AdES-B-B"}]}`,
		`{"token":"x","token_type_hint":"access_token"}`,
		`{}`, `{"certificates":""}`, `{"hashes":null}`, `{"numSignatures":-1}`, `{"a":1e999}`, `null`, `[]`, ``,
	} {
		for i := range paths {
			f.Add(uint8(i), []byte(s))
		}
	}
	h := csc.NewHandler(svc, nil)
	f.Fuzz(func(t *testing.T, route uint8, body []byte) {
		body = bytes.ReplaceAll(body, []byte("CRED"), []byte(en.CredentialID))
		body = bytes.ReplaceAll(body, []byte("PINPIN"), []byte("246810"))
		path := paths[int(route)%len(paths)]
		bearer := tok
		if path == "auth/revoke" { // may revoke the token it is sent with
			bearer = token(t)
		}
		req := httptest.NewRequest(http.MethodPost, "/csc/v2/"+path, bytes.NewReader(body))
		req.Header.Set("Content-Type", "application/json")
		req.Header.Set("Authorization", "Bearer "+bearer)
		w := httptest.NewRecorder()
		h.ServeHTTP(w, req)
		httpedgetest.Answer(t, w.Code, w.Body.Bytes())
		if w.Code >= 400 && !bytes.Contains(w.Body.Bytes(), []byte(`"error"`)) {
			t.Fatalf("HTTP %d without a CSC error: %s", w.Code, w.Body.Bytes())
		}
	})
}
