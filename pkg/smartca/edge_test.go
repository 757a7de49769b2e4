package smartca_test

import (
	"net/http"
	"strings"
	"testing"

	"github.com/kyso-pki/kyso/hsm"
	"github.com/kyso-pki/kyso/pkg/httpedge"
	"github.com/kyso-pki/kyso/pkg/httpedge/httpedgetest"
	"github.com/kyso-pki/kyso/pkg/signing"
	"github.com/kyso-pki/kyso/pkg/smartca"
)

// TestErrorTable: every error kind of the core has its status in the
// SmartCA dialect (which repeats it as status_code and has no codes).
func TestErrorTable(t *testing.T) {
	httpedgetest.Errors(t, smartca.Errors, map[signing.Kind]httpedge.Wire{
		signing.KindInternal:      {Status: 500},
		signing.KindInvalid:       {Status: 400},
		signing.KindNotFound:      {Status: 404},
		signing.KindConflict:      {Status: 409},
		signing.KindExpired:       {Status: 400},
		signing.KindDenied:        {Status: 403},
		signing.KindLocked:        {Status: 429},
		signing.KindClientInvalid: {Status: 401},
		signing.KindTokenInvalid:  {Status: 401},
		signing.KindBusy:          {Status: 503},
		signing.KindRateLimited:   {Status: 429},
	})
}

// TestEdgeHeaders: every answer, refusals included, is no-store and has
// its own request ID; a wrong sp_password — SmartCA's expired or invalid
// credential, as it has no tokens — is 401 like an invalid token
// elsewhere.
func TestEdgeHeaders(t *testing.T) {
	e := newEnv(t, hsm.ECDSAP256)
	send := func(t *testing.T, method, path, body string, h http.Header) *http.Response {
		req, err := http.NewRequest(method, e.srv.URL+path, strings.NewReader(body))
		if err != nil {
			t.Fatal(err)
		}
		for k, v := range h {
			req.Header[k] = v
		}
		req.Header.Set("Content-Type", "application/json")
		resp, err := e.srv.Client().Do(req)
		if err != nil {
			t.Fatal(err)
		}
		return resp
	}
	cert := "/smartca/v1/credentials/get_certificate"
	sp := `"sp_id":"` + e.portal.id + `","sp_password":"` + e.portal.secret + `"`
	for _, c := range []struct {
		method, path, body string
		status             int
	}{
		{"POST", cert, `{` + sp + `,"user_id":"079203001234"}`, 200},
		{"POST", cert, `{"sp_id":"` + e.portal.id + `","sp_password":"wrong","user_id":"079203001234"}`, 401},
		{"POST", cert, `{` + sp + `,"user_id":"0792 03"}`, 400},
		{"POST", cert, `{`, 400},
		{"GET", cert, "", 405},
		{"POST", "/smartca/v1/nothing", "{}", 404},
	} {
		resp := send(t, c.method, c.path, c.body, nil)
		if resp.StatusCode != c.status {
			t.Errorf("%s %s: HTTP %d, want %d", c.method, c.path, resp.StatusCode, c.status)
		}
		httpedgetest.Edge(t, resp)
	}
	httpedgetest.RequestIDs(t, func(t *testing.T, h http.Header) *http.Response {
		return send(t, "POST", cert, `{"sp_id":"x","sp_password":"y"}`, h)
	})
}
