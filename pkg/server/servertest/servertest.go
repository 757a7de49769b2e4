// Package servertest runs a catest hierarchy's PKI routes on a local HTTP
// server, for tests that fetch OCSP responses, CRLs and time-stamps the way
// a validator does.
package servertest

import (
	"context"
	"net"
	"net/http"
	"net/http/httptest"
	"time"

	"github.com/kyso-pki/kyso/pkg/ca/catest"
	"github.com/kyso-pki/kyso/pkg/server"
)

// Served is the hierarchy's PKI routes (/ca, /crl, /ocsp, /tsa) on a local
// HTTP server, and a client that reaches it for the certificates' URLs
// under http://ca.kyso.test.
type Served struct {
	// PKI is the handler; Server serves it.
	PKI    *server.PKI
	Server *httptest.Server
	// Client sends every request to Server, whatever the URL's host.
	Client *http.Client
}

// Close stops the server.
func (s *Served) Close() { s.Server.Close() }

// Serve starts pkg/server's PKI handler for p. Requests for another host
// than ca.kyso.test are refused, so a test cannot reach anything else.
func Serve(ctx context.Context, p *catest.PKI) (*Served, error) {
	return ServeOptions(ctx, p, nil)
}

// ServeOptions is Serve with the PKI handler's options (nil: the
// defaults), such as a fixed clock for OCSP responses.
func ServeOptions(ctx context.Context, p *catest.PKI, opts *server.PKIOptions) (*Served, error) {
	srv, err := server.NewPKI(ctx, p.CA, p.Store, opts)
	if err != nil {
		return nil, err
	}
	ts := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Host != "ca.kyso.test" {
			http.Error(w, "unexpected host "+r.Host, http.StatusMisdirectedRequest)
			return
		}
		srv.ServeHTTP(w, r)
	}))
	return &Served{PKI: srv, Server: ts, Client: ClientFor(ts)}, nil
}

// ClientFor returns a client that sends every request to ts.
func ClientFor(ts *httptest.Server) *http.Client {
	addr := ts.Listener.Addr().String()
	var d net.Dialer
	return &http.Client{Timeout: 10 * time.Second, Transport: &http.Transport{
		DialContext: func(ctx context.Context, network, _ string) (net.Conn, error) {
			return d.DialContext(ctx, network, addr)
		},
	}}
}
