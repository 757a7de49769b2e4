package csc_test

import (
	"context"
	"strings"
	"testing"

	"github.com/kyso-pki/kyso/internal/testenv"
	"github.com/kyso-pki/kyso/pkg/csc"
)

// TestClientTLSFloor checks the CSC client's own HTTP client refuses a
// service that speaks only TLS 1.1 (Circular 15/2025 Annex I).
func TestClientTLSFloor(t *testing.T) {
	srv := testenv.TLS11Server(t)
	c := &csc.Client{BaseURL: srv.URL + "/csc/v2", ClientID: "portal", ClientSecret: "secret"}
	if _, err := c.Token(context.Background()); err == nil || !strings.Contains(err.Error(), "protocol version") {
		t.Errorf("token from a TLS 1.1 service: %v; want a protocol version error", err)
	}
}
