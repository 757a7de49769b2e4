package app_test

import (
	"context"
	"fmt"
	"net/http"
	"net/http/httptest"
	"testing"

	"github.com/kyso-pki/kyso/pkg/app"
	"github.com/kyso-pki/kyso/pkg/clientaddr"
	"github.com/kyso-pki/kyso/pkg/httpedge"
)

// forwarded is a transport that sends X-Forwarded-For, as a proxy, or an
// attacker, would.
type forwarded struct {
	base http.RoundTripper
	xff  string
}

func (f forwarded) RoundTrip(r *http.Request) (*http.Response, error) {
	r = r.Clone(r.Context())
	r.Header.Set("X-Forwarded-For", f.xff)
	return f.base.RoundTrip(r)
}

// TestRegisterFloodBehindProxy: the registration form's per-source bucket
// (burst 3) behind kysod's trusted_proxies (clientaddr). From a peer that
// is not a trusted proxy, X-Forwarded-For is ignored: a flood naming a new
// address in each request is still one source, limited. Through a trusted
// proxy each citizen has their own bucket — one flooding does not lock
// out another — and a chain whose leftmost entry names another citizen
// counts against the rightmost untrusted address, the one the proxy saw.
// The audit records the citizen's address, not the proxy's.
func TestRegisterFloodBehindProxy(t *testing.T) {
	ctx := context.Background()
	setup := func(t *testing.T, trusted string) *env {
		e := newEnvWith(t, func(o *app.Options) {
			o.RegisterLimit = httpedge.NewLimiter(httpedge.Rate{PerSecond: 0.001, Burst: 3}, nil)
		})
		tr, err := clientaddr.Parse([]string{trusted})
		if err != nil {
			t.Fatal(err)
		}
		e.srv = httptest.NewTLSServer(tr.Handler(e.app)) // the peer is 127.0.0.1
		t.Cleanup(e.srv.Close)
		return e
	}
	n := 0
	register := func(e *env, xff string) int {
		b := e.browser(t)
		b.c.Transport = forwarded{base: b.c.Transport, xff: xff}
		b.get("/app/register")
		n++
		status, _, _ := b.post("/app/register", registerForm(b.csrf(), fmt.Sprintf("0011980072%02d", n), "Ngô Thị Lan"))
		return status
	}

	t.Run("untrusted peer", func(t *testing.T) {
		e := setup(t, "10.0.0.0/8")
		var last int
		for i := range 6 {
			last = register(e, fmt.Sprintf("198.51.100.%d", i+1))
		}
		if last != http.StatusTooManyRequests {
			t.Errorf("a spoofed X-Forwarded-For from an untrusted peer escaped the bucket: HTTP %d", last)
		}
		if list, err := e.svc.Registrations(ctx, "", 0); err != nil || len(list) != 3 {
			t.Errorf("%d registrations recorded, want the 3 of one source's burst (%v)", len(list), err)
		}
	})

	t.Run("trusted proxy", func(t *testing.T) {
		e := setup(t, "127.0.0.1")
		var last int
		for range 4 {
			last = register(e, "198.51.100.2, 198.51.100.1") // the leftmost spoofed
		}
		if last != http.StatusTooManyRequests {
			t.Errorf("the 4th registration of one citizen behind the proxy: HTTP %d", last)
		}
		if st := register(e, "198.51.100.2"); st != http.StatusCreated {
			t.Errorf("another citizen behind the same proxy: HTTP %d, want their own bucket", st)
		}
		if st := register(e, "198.51.100.9, 198.51.100.1"); st != http.StatusTooManyRequests {
			t.Errorf("the flooding citizen naming another on the left: HTTP %d, want its own bucket, empty", st)
		}
		es, err := e.st.ListAudit(ctx, 0, 1000)
		if err != nil {
			t.Fatal(err)
		}
		actors := map[string]int{}
		for _, ev := range es {
			if ev.Action == "registration.create" {
				actors[ev.Actor]++
			}
		}
		if actors["app:198.51.100.1"] != 3 || actors["app:198.51.100.2"] != 1 || len(actors) != 2 {
			t.Errorf("registrations audited by source %v, want 3 from 198.51.100.1 and 1 from 198.51.100.2", actors)
		}
	})
}
