package httpedge

import (
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
)

func TestDecode(t *testing.T) {
	type body struct {
		A string `json:"a"`
	}
	for _, c := range []struct {
		name, ctype, body string
		strict            bool
		status            int
		msg               string
	}{
		{"ok", "application/json; charset=utf-8", ` {"a":"x"} `, true, 0, ""},
		{"text", "text/plain", `{}`, false, 415, "application/json"},
		{"null", "application/json", `null`, false, 400, "not a JSON object"},
		{"array", "application/json", `[1]`, false, 400, "not a JSON object"},
		{"trailing", "application/json", `{} {}`, false, 400, "after the JSON object"},
		{"unknown strict", "application/json", `{"b":1}`, true, 400, "malformed JSON"},
		{"unknown lax", "application/json", `{"b":1}`, false, 0, ""},
		{"too large", "application/json", `{"a":"` + strings.Repeat("x", 100) + `"}`, false, 413, "larger than 64 bytes"},
	} {
		r := httptest.NewRequest(http.MethodPost, "/", strings.NewReader(c.body))
		r.Header.Set("Content-Type", c.ctype)
		var v body
		e := Decode(httptest.NewRecorder(), r, &v, BodyOptions{Max: 64, DisallowUnknownFields: c.strict})
		switch {
		case c.status == 0 && e != nil:
			t.Errorf("%s: %v", c.name, e)
		case c.status != 0 && (e == nil || e.Status != c.status || !strings.Contains(e.Message, c.msg)):
			t.Errorf("%s: %+v, want %d %q", c.name, e, c.status, c.msg)
		}
	}
}

func TestAllowed(t *testing.T) {
	mux := http.NewServeMux()
	mux.HandleFunc("POST /x/a", func(http.ResponseWriter, *http.Request) {})
	mux.HandleFunc("GET /x/b", func(http.ResponseWriter, *http.Request) {})
	mux.HandleFunc("POST /x/b", func(http.ResponseWriter, *http.Request) {})
	mux.HandleFunc("/x/", func(http.ResponseWriter, *http.Request) {})
	for path, want := range map[string]string{"/x/a": "POST", "/x/b": "GET, POST", "/x/c": ""} {
		if got := Allowed(mux, httptest.NewRequest(http.MethodDelete, path, nil), "/x/"); got != want {
			t.Errorf("%s: %q, want %q", path, got, want)
		}
	}
}
