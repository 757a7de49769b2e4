package testenv

import (
	"crypto/tls"
	"io"
	"log"
	"net/http"
	"net/http/httptest"
	"testing"
)

// TLS11Server starts an HTTPS server that speaks only TLS 1.0 and 1.1,
// answering every request with 200 and no body, for tests showing a client
// refuses anything below TLS 1.2 (Circular 15/2025 Annex I). It is closed
// when the test ends.
func TLS11Server(t testing.TB) *httptest.Server {
	t.Helper()
	srv := httptest.NewUnstartedServer(http.HandlerFunc(func(http.ResponseWriter, *http.Request) {}))
	srv.TLS = &tls.Config{MinVersion: tls.VersionTLS10, MaxVersion: tls.VersionTLS11}
	srv.Config.ErrorLog = log.New(io.Discard, "", 0) // the refused handshakes
	srv.StartTLS()
	t.Cleanup(srv.Close)
	return srv
}
