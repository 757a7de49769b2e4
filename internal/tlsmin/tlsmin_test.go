package tlsmin_test

import (
	"crypto/tls"
	"strings"
	"testing"
	"time"

	"github.com/kyso-pki/kyso/internal/testenv"
	"github.com/kyso-pki/kyso/internal/tlsmin"
)

func TestClientRefusesTLS11(t *testing.T) {
	srv := testenv.TLS11Server(t)
	_, err := tlsmin.Client(5 * time.Second).Get(srv.URL)
	if err == nil || !strings.Contains(err.Error(), "protocol version") {
		t.Fatalf("GET from a TLS 1.1 server: %v; want a protocol version error", err)
	}
	if tlsmin.Transport().TLSClientConfig.MinVersion != tls.VersionTLS12 || tlsmin.Config().MinVersion != tls.VersionTLS12 {
		t.Error("minimum is not TLS 1.2")
	}
}
