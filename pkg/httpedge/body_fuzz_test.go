package httpedge

import (
	"bytes"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"testing"
)

// FuzzDecode reads arbitrary bodies as every API does: Decode refuses with
// 400 or 413 whatever is not one JSON object of at most Max bytes with
// nothing after it, and what it accepts is exactly that — the object
// encoding/json reads alone, into the same value.
func FuzzDecode(f *testing.F) {
	type body struct {
		A string         `json:"a"`
		B []int          `json:"b"`
		C map[string]any `json:"c"`
	}
	for _, s := range []string{` {"a":"x"} `, `{"a":"Ký\u001b[2J","b":[1,2],"c":{"d":null}}`, `null`, `[1]`, `{} {}`, `{"z":1}`, `{"a":1}`, `{"a":"\ud800"}`, "{\"a\":\"\xff\"}", ``, ` `, `{`, `{"b":[1e999]}`} {
		f.Add([]byte(s), false)
		f.Add([]byte(s), true)
	}
	const max = 256
	f.Fuzz(func(t *testing.T, in []byte, strict bool) {
		r := httptest.NewRequest(http.MethodPost, "/", bytes.NewReader(in))
		r.Header.Set("Content-Type", "application/json")
		var got body
		e := Decode(httptest.NewRecorder(), r, &got, BodyOptions{Max: max, DisallowUnknownFields: strict})
		if e != nil {
			if e.Status != http.StatusBadRequest && e.Status != http.StatusRequestEntityTooLarge || e.Message == "" {
				t.Fatalf("Decode(%q): %+v", in, e)
			}
			return
		}
		if len(in) > max {
			t.Fatalf("Decode accepted %d bytes, more than %d", len(in), max)
		}
		trimmed := bytes.TrimSpace(in)
		if len(trimmed) == 0 || trimmed[0] != '{' {
			t.Fatalf("Decode accepted %q, not an object", in)
		}
		var want body
		dec := json.NewDecoder(bytes.NewReader(in))
		if strict {
			dec.DisallowUnknownFields()
		}
		if err := dec.Decode(&want); err != nil || dec.More() {
			t.Fatalf("Decode accepted %q, which encoding/json refuses alone: %v", in, err)
		}
		a, _ := json.Marshal(got)
		b, _ := json.Marshal(want)
		if !bytes.Equal(a, b) {
			t.Fatalf("Decode(%q) read %s; encoding/json reads %s", in, a, b)
		}
	})
}
