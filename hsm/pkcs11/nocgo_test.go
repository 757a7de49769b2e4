//go:build !cgo

package pkcs11

import (
	"context"
	"errors"
	"strings"
	"testing"

	"github.com/kyso-pki/kyso/hsm"
)

func TestOpenWithoutCgo(t *testing.T) {
	u, err := hsm.ParseURI("pkcs11:token=kyso?pin-value=1234")
	if err != nil {
		t.Fatal(err)
	}
	_, err = Open(context.Background(), u, nil)
	if !errors.Is(err, hsm.ErrUnavailable) || !strings.Contains(err.Error(), "built without cgo, so without PKCS#11 support") {
		t.Fatalf("Open without cgo: err = %v", err)
	}
}
