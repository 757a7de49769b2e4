package httpedge

import (
	"net/http"
	"testing"
)

func TestBearer(t *testing.T) {
	const tok = "mF_9.B5f-4.1JqM~a+b/c=="
	for _, c := range []struct {
		name    string
		headers []string // Authorization headers, in order
		want    string   // "" when refused
	}{
		{"canonical", []string{"Bearer " + tok}, tok},
		{"lower case scheme", []string{"bearer " + tok}, tok},
		{"upper case scheme", []string{"BEARER " + tok}, tok},
		{"mixed case scheme", []string{"bEaReR " + tok}, tok},
		{"several spaces", []string{"Bearer   " + tok}, tok},
		{"kyso's own tokens, base64url", []string{"Bearer q3Vv1x0k9Yt2Wm8rZpLs4Hc7Nd6Fj5Bg0Ae1Ui2Oo3P"}, "q3Vv1x0k9Yt2Wm8rZpLs4Hc7Nd6Fj5Bg0Ae1Ui2Oo3P"},
		{"no header", nil, ""},
		{"empty header", []string{""}, ""},
		{"Basic", []string{"Basic YWxhZGRpbjpvcGVuc2VzYW1l"}, ""},
		{"scheme only", []string{"Bearer"}, ""},
		{"scheme and space", []string{"Bearer "}, ""},
		{"scheme run into the token", []string{"Bearer" + tok}, ""},
		{"tab, not a space", []string{"Bearer\t" + tok}, ""},
		{"padding only", []string{"Bearer =="}, ""},
		{"padding inside", []string{"Bearer ab=cd"}, ""},
		{"two tokens", []string{"Bearer abc def"}, ""},
		{"auth-params, not a token68", []string{`Bearer token="abc"`}, ""},
		{"not ASCII", []string{"Bearer abcđ"}, ""},
		{"two headers", []string{"Bearer " + tok, "Bearer other"}, ""},
		{"a prefix of Bearer", []string{"Bear " + tok}, ""},
	} {
		t.Run(c.name, func(t *testing.T) {
			r, err := http.NewRequest(http.MethodPost, "https://kyso.example.vn/", nil)
			if err != nil {
				t.Fatal(err)
			}
			for _, h := range c.headers {
				r.Header.Add("Authorization", h)
			}
			got, ok := Bearer(r)
			if ok != (c.want != "") || got != c.want {
				t.Errorf("Bearer(%q) = %q, %v; want %q", c.headers, got, ok, c.want)
			}
		})
	}
}
