package smartca_test

import (
	"bytes"
	"crypto"
	"crypto/ecdsa"
	"crypto/rsa"
	"crypto/sha256"
	"crypto/x509"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"net/http"
	"reflect"
	"strings"
	"testing"

	"github.com/kyso-pki/kyso/hsm"
	"github.com/kyso-pki/kyso/pkg/display"
	"github.com/kyso-pki/kyso/pkg/owner"
	"github.com/kyso-pki/kyso/pkg/smartca"
)

// TestFlow is a portal's whole journey: find the citizen's certificate,
// ask for two signatures, poll while the citizen decides, the citizen
// approves in the owner API, poll again and get signatures that verify
// with the certificate's key, and receive the same result by webhook.
func TestFlow(t *testing.T) {
	for _, alg := range []hsm.Algorithm{hsm.ECDSAP256, hsm.RSA2048} {
		t.Run(string(alg), func(t *testing.T) {
			e := newEnv(t, alg)

			var certs smartca.CertificateData
			msg := e.call(t, e.portal, "/smartca/v1/credentials/get_certificate", map[string]any{"user_id": "079203001234"}, http.StatusOK, &certs)
			if msg.Message == "" || len(certs.UserCertificates) != 1 {
				t.Fatalf("get_certificate: %+v %+v", msg, certs)
			}
			uc := certs.UserCertificates[0]
			cert := parseCert(t, uc.CertData)
			if uc.CertID != e.citizen.CredentialID || uc.CertStatus != "active" || !bytes.Equal(cert.Raw, e.citizen.Certificate.Raw) {
				t.Errorf("certificate: %+v", uc)
			}
			// One serial form everywhere (whole octets, as openssl and the
			// CLI print it: kyso's serials start 01), and the subject with
			// the UID as text, not as #-hex DER.
			if want := display.FormatSerialInt(cert.SerialNumber); uc.SerialNumber != want || !strings.HasPrefix(want, "01") {
				t.Errorf("serial_number %q, want %q", uc.SerialNumber, want)
			}
			if !strings.HasPrefix(uc.CertSubject, "UID=CCCD:079203001234,CN=") || !strings.HasSuffix(uc.CertSubject, ",C=VN") || uc.CertValidTo == "" {
				t.Errorf("certificate details: %+v", uc)
			}
			ca, root := parseCert(t, uc.ChainData.CACert), parseCert(t, uc.ChainData.RootCert)
			if err := cert.CheckSignatureFrom(ca); err != nil {
				t.Errorf("ca_cert did not issue the certificate: %v", err)
			}
			if err := root.CheckSignatureFrom(root); err != nil {
				t.Errorf("root_cert is not self-signed: %v", err)
			}
			for _, q := range []struct {
				req  map[string]any
				want int
			}{
				{map[string]any{"user_id": "CCCD:079203001234", "serial_number": strings.ToLower(uc.SerialNumber)}, 1},
				{map[string]any{"user_id": "079203001234", "serial_number": "0" + uc.SerialNumber}, 1},
				{map[string]any{"user_id": "079203001234", "serial_number": strings.TrimPrefix(uc.SerialNumber, "0")}, 1},
				{map[string]any{"user_id": "079203001234", "serial_number": "ABCDEF"}, 0},
			} {
				var d smartca.CertificateData
				e.call(t, e.portal, "/smartca/v1/credentials/get_certificate", q.req, http.StatusOK, &d)
				if len(d.UserCertificates) != q.want {
					t.Errorf("get_certificate %v: %d certificates, want %d", q.req, len(d.UserCertificates), q.want)
				}
			}

			files := []map[string]any{file("to-khai.pdf", "tờ khai"), file("phu-luc.pdf", "phụ lục")}
			var sd smartca.SignData
			env := e.call(t, e.portal, "/smartca/v1/signatures/sign", map[string]any{"user_id": "079203001234", "transaction_id": "portal-1",
				"transaction_desc": "Đăng ký khai sinh", "serial_number": strings.TrimPrefix(uc.SerialNumber, "0"), "sign_files": files}, http.StatusOK, &sd)
			if env.Message != "Đang chờ người dùng xác nhận" || sd.TransactionID != "portal-1" || sd.TranCode == "" {
				t.Fatalf("sign: %+v %+v", env, sd)
			}
			if st, _ := e.status(t, e.portal, sd.TranCode); st.Status != "pending" || len(st.Signatures) != 0 || st.TransactionID != "portal-1" {
				t.Fatalf("status before approval: %+v", st)
			}
			if n := e.once(t); n != 0 || len(e.rcv.deliveries()) != 0 {
				t.Fatalf("a webhook before the transaction ended (%d)", n)
			}

			tok := e.login(t, e.citizen)
			var list owner.TransactionList
			if status, raw := e.ownerCall(t, http.MethodGet, "/owner/v1/transactions", tok, nil, &list); status != http.StatusOK || len(list.Transactions) != 1 {
				t.Fatalf("owner's list: HTTP %d %s", status, raw)
			}
			tx := list.Transactions[0]
			if tx.ID != sd.TranCode || tx.ClientName != "Cổng dịch vụ công" || tx.Description != "Đăng ký khai sinh" || tx.HashAlgorithm != "SHA-256" || len(tx.Documents) != 2 {
				t.Fatalf("owner sees %+v", tx)
			}
			for i, d := range tx.Documents {
				if d.DocID != files[i]["doc_id"] || d.Hash != files[i]["data_to_be_signed"] {
					t.Errorf("document %d: %+v", i, d)
				}
			}
			var dec owner.Decision
			status, raw := e.decide(t, e.citizen, tok, sd.TranCode, true)
			if json.Unmarshal(raw, &dec); status != http.StatusOK || dec.Status != "signed" || dec.ID != sd.TranCode {
				t.Fatalf("approve: HTTP %d %s", status, raw)
			}

			st, statusBody := e.status(t, e.portal, sd.TranCode)
			if st.Status != "signed" || st.TranCode != sd.TranCode || len(st.Signatures) != 2 {
				t.Fatalf("status after approval: %+v", st)
			}
			for i, s := range st.Signatures {
				if s.DocID != files[i]["doc_id"] || s.TimestampSignature != "" {
					t.Errorf("signature %d: %+v", i, s)
				}
				h, _ := hex.DecodeString(files[i]["data_to_be_signed"].(string))
				verify(t, cert, h, s.SignatureValue)
			}
			if byRef, _ := e.status(t, e.portal, "portal-1"); !reflect.DeepEqual(byRef, st) {
				t.Errorf("status by transaction_id differs: %+v", byRef)
			}

			if n := e.once(t); n != 1 {
				t.Fatalf("dispatcher tried %d webhooks, want 1", n)
			}
			got := e.rcv.deliveries()
			if len(got) != 1 {
				t.Fatalf("%d webhooks received", len(got))
			}
			checkDelivery(t, got[0], e.portal)
			var a, b any
			json.Unmarshal(got[0].body, &a)
			json.Unmarshal(statusBody, &b)
			if !reflect.DeepEqual(a, b) {
				t.Errorf("webhook body %s\ndiffers from the status call's %s", got[0].body, statusBody)
			}
			if n := e.once(t); n != 0 || len(e.rcv.deliveries()) != 1 {
				t.Errorf("a delivered webhook was sent again")
			}
		})
	}
}

func parseCert(t *testing.T, b64 string) *x509.Certificate {
	t.Helper()
	der, err := base64.StdEncoding.DecodeString(b64)
	if err != nil {
		t.Fatal(err)
	}
	c, err := x509.ParseCertificate(der)
	if err != nil {
		t.Fatal(err)
	}
	return c
}

func verify(t *testing.T, cert *x509.Certificate, digest []byte, b64 string) {
	t.Helper()
	sig, err := base64.StdEncoding.DecodeString(b64)
	if err != nil {
		t.Fatal(err)
	}
	switch k := cert.PublicKey.(type) {
	case *ecdsa.PublicKey:
		if !ecdsa.VerifyASN1(k, digest, sig) {
			t.Error("the ECDSA signature does not verify with the certificate's key")
		}
	case *rsa.PublicKey:
		if err := rsa.VerifyPSS(k, crypto.SHA256, digest, sig, &rsa.PSSOptions{SaltLength: crypto.SHA256.Size()}); err != nil {
			t.Errorf("the RSASSA-PSS signature does not verify with the certificate's key: %v", err)
		}
	default:
		t.Fatalf("key %T", k)
	}
}

// TestIdempotent: the same transaction_id with the same request is the
// same transaction; with another request it is refused; another relying
// party may use the same ID for its own transaction.
func TestIdempotent(t *testing.T) {
	e := newEnv(t, hsm.ECDSAP256)
	a := e.submit(t, e.portal, "hs-2025-001", file("a.pdf", "a"))
	if b := e.submit(t, e.portal, "hs-2025-001", file("a.pdf", "a")); b != a {
		t.Errorf("resubmission: tran_code %s, first %s", b, a)
	}
	e.call(t, e.portal, "/smartca/v1/signatures/sign", map[string]any{"user_id": "079203001234", "transaction_id": "hs-2025-001",
		"sign_files": []map[string]any{file("a.pdf", "something else")}}, http.StatusConflict, nil)
	if c := e.submit(t, e.other, "hs-2025-001", file("a.pdf", "a")); c == a {
		t.Error("another relying party's transaction_id reused the first one's transaction")
	}
	tok := e.login(t, e.citizen)
	var list owner.TransactionList
	e.ownerCall(t, http.MethodGet, "/owner/v1/transactions", tok, nil, &list)
	if len(list.Transactions) != 2 {
		t.Errorf("the owner sees %d transactions, want 2", len(list.Transactions))
	}
}

// TestCredentials: wrong or missing sp credentials get the envelope with
// 401 on every method, and nothing is done.
func TestCredentials(t *testing.T) {
	e := newEnv(t, hsm.ECDSAP256)
	code := e.submit(t, e.portal, "ref-1", file("a.pdf", "a"))
	bad := []*party{
		{id: e.portal.id, secret: "wrong"},
		{id: e.portal.id, secret: e.other.secret},
		{id: "no-such-client", secret: e.portal.secret},
		{id: "", secret: ""},
		{id: e.portal.id, secret: ""},
	}
	for i, p := range bad {
		e.call(t, p, "/smartca/v1/credentials/get_certificate", map[string]any{"user_id": "079203001234"}, http.StatusUnauthorized, nil)
		e.call(t, p, "/smartca/v1/signatures/sign", map[string]any{"user_id": "079203001234", "transaction_id": "ref-x",
			"sign_files": []map[string]any{file("a.pdf", "a")}}, http.StatusUnauthorized, nil)
		e.call(t, p, "/smartca/v1/signatures/sign/"+code+"/status", nil, http.StatusUnauthorized, nil)
		if t.Failed() {
			t.Fatalf("credentials %d", i)
		}
	}
	tok := e.login(t, e.citizen)
	var list owner.TransactionList
	e.ownerCall(t, http.MethodGet, "/owner/v1/transactions", tok, nil, &list)
	if len(list.Transactions) != 1 {
		t.Errorf("%d transactions pending, want only the first", len(list.Transactions))
	}
}

// TestOtherClient: a relying party cannot read another's transaction, by
// kyso's code or by the other's reference.
func TestOtherClient(t *testing.T) {
	e := newEnv(t, hsm.ECDSAP256)
	code := e.submit(t, e.portal, "mine-1", file("a.pdf", "a"))
	for _, id := range []string{code, "mine-1", "nonexistent"} {
		env := e.call(t, e.other, "/smartca/v1/signatures/sign/"+id+"/status", nil, http.StatusNotFound, nil)
		if env.Message == "" {
			t.Error("not found without a message")
		}
	}
}

// TestBadRequests: malformed, oversized and mistyped bodies, wrong methods
// and bad fields get a 4xx envelope, and the server keeps serving.
func TestBadRequests(t *testing.T) {
	e := newEnv(t, hsm.ECDSAP256)
	sp := `"sp_id":"` + e.portal.id + `","sp_password":"` + e.portal.secret + `"`
	good := `{` + sp + `,"user_id":"079203001234"}`
	h := sha256.Sum256([]byte("x"))
	hash := hex.EncodeToString(h[:])
	sign := func(userID, ref, files string) string {
		return `{` + sp + `,"user_id":` + userID + `,"transaction_id":` + ref + `,"sign_files":` + files + `}`
	}
	fileJSON := `[{"doc_id":"a.pdf","sign_type":"hash","data_to_be_signed":"` + hash + `"}]`
	huge := append([]byte(`{"sp_id":"`), bytes.Repeat([]byte("a"), smartca.MaxBody)...)
	huge = append(huge, `"}`...)
	cert := "/smartca/v1/credentials/get_certificate"
	signPath := "/smartca/v1/signatures/sign"
	for _, c := range []struct {
		name, path, ct string
		body           any
		want           int
	}{
		{"wrong content type", cert, "text/plain", good, http.StatusUnsupportedMediaType},
		{"form body", cert, "application/x-www-form-urlencoded", "sp_id=a&sp_password=b", http.StatusUnsupportedMediaType},
		{"no content type", cert, "", good, http.StatusUnsupportedMediaType},
		{"malformed JSON", cert, "application/json", `{"sp_id":`, http.StatusBadRequest},
		{"not an object", cert, "application/json", `[1,2,3]`, http.StatusBadRequest},
		{"data after the object", cert, "application/json", good + `{}`, http.StatusBadRequest},
		{"wrong field type", cert, "application/json", `{"sp_id":5}`, http.StatusBadRequest},
		{"oversized", cert, "application/json", huge, http.StatusRequestEntityTooLarge},
		{"empty body", cert, "application/json", "", http.StatusBadRequest},
		{"no user_id", cert, "application/json", `{` + sp + `}`, http.StatusBadRequest},
		{"user_id with NUL", cert, "application/json", `{` + sp + `,"user_id":"0792\u0000"}`, http.StatusBadRequest},
		{"unknown user", cert, "application/json", `{` + sp + `,"user_id":"CCCD:079203009999"}`, http.StatusNotFound},
		{"serial not hex", cert, "application/json", `{` + sp + `,"user_id":"079203001234","serial_number":"xyz"}`, http.StatusBadRequest},
		{"no sign_files", signPath, "application/json", sign(`"079203001234"`, `"r1"`, `[]`), http.StatusBadRequest},
		{"no transaction_id", signPath, "application/json", sign(`"079203001234"`, `""`, fileJSON), http.StatusBadRequest},
		{"transaction_id with NUL", signPath, "application/json", sign(`"079203001234"`, `"r\u0000"`, fileJSON), http.StatusBadRequest},
		{"transaction_id too long", signPath, "application/json", sign(`"079203001234"`, `"`+strings.Repeat("r", 129)+`"`, fileJSON), http.StatusBadRequest},
		{"hash not hex", signPath, "application/json", sign(`"079203001234"`, `"r1"`, `[{"doc_id":"a","data_to_be_signed":"zz"}]`), http.StatusBadRequest},
		{"hash too short", signPath, "application/json", sign(`"079203001234"`, `"r1"`, `[{"doc_id":"a","data_to_be_signed":"abcd"}]`), http.StatusBadRequest},
		{"sign_type file", signPath, "application/json", sign(`"079203001234"`, `"r1"`, `[{"doc_id":"a","sign_type":"file","data_to_be_signed":"`+hash+`"}]`), http.StatusBadRequest},
		{"no doc_id", signPath, "application/json", sign(`"079203001234"`, `"r1"`, `[{"data_to_be_signed":"`+hash+`"}]`), http.StatusBadRequest},
		{"doc_id twice", signPath, "application/json", sign(`"079203001234"`, `"r1"`, `[{"doc_id":"a","data_to_be_signed":"`+hash+`"},{"doc_id":"a","data_to_be_signed":"`+hash+`"}]`), http.StatusBadRequest},
		{"unknown serial", signPath, "application/json", `{` + sp + `,"user_id":"079203001234","transaction_id":"r1","serial_number":"01","sign_files":` + fileJSON + `}`, http.StatusNotFound},
		{"description too long", signPath, "application/json", `{` + sp + `,"user_id":"079203001234","transaction_id":"r1","transaction_desc":"` + strings.Repeat("ư", 501) + `","sign_files":` + fileJSON + `}`, http.StatusBadRequest},
		{"unknown method", "/smartca/v1/signatures/verify", "application/json", good, http.StatusNotFound},
	} {
		t.Run(c.name, func(t *testing.T) {
			status, raw := e.post(t, c.path, c.ct, c.body)
			env := checkEnvelope(t, status, raw, c.want, nil)
			if env.Message == "" {
				t.Error("no message")
			}
		})
	}
	t.Run("GET", func(t *testing.T) {
		req, _ := http.NewRequest(http.MethodGet, e.srv.URL+signPath, nil)
		resp, err := e.srv.Client().Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		var env envelope
		if json.NewDecoder(resp.Body).Decode(&env); resp.StatusCode != http.StatusMethodNotAllowed || env.StatusCode != 405 || resp.Header.Get("Allow") != "POST" {
			t.Errorf("GET: HTTP %d %+v Allow %q", resp.StatusCode, env, resp.Header.Get("Allow"))
		}
	})
	var d smartca.CertificateData
	e.call(t, e.portal, cert, map[string]any{"user_id": "079203001234"}, http.StatusOK, &d)
	if len(d.UserCertificates) != 1 {
		t.Error("the server stopped serving")
	}
}
