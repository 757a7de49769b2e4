// Package tlsmin is kyso's one rule for outgoing HTTPS: TLS 1.2 at least
// (Circular 15/2025/TT-BKHCN Annex I). Every client a kyso package makes
// for itself — revocation fetching, CSC and TSA clients, the webhook
// dispatcher, the CLI — takes its transport from here, so the floor does
// not rest on Go's default, which a GODEBUG setting or a future release
// could change.
package tlsmin

import (
	"crypto/tls"
	"net/http"
	"sync"
	"time"
)

// Version is the lowest TLS version kyso speaks.
const Version = tls.VersionTLS12

// transport is shared, so connections are pooled across clients.
var transport = sync.OnceValue(func() *http.Transport {
	t := http.DefaultTransport.(*http.Transport).Clone()
	t.TLSClientConfig = &tls.Config{MinVersion: Version}
	return t
})

// Transport returns the shared transport: http.DefaultTransport's settings
// (proxy from the environment, dial and idle timeouts) with TLS 1.2 as the
// minimum. Callers must not modify it; Clone it to change anything.
func Transport() *http.Transport { return transport() }

// Client returns a client on Transport with the given overall timeout
// (zero: none — avoid it).
func Client(timeout time.Duration) *http.Client {
	return &http.Client{Transport: Transport(), Timeout: timeout}
}

// Config returns a TLS client configuration with the minimum set, for
// transports that need their own (client certificates, private roots).
func Config() *tls.Config { return &tls.Config{MinVersion: Version} }
