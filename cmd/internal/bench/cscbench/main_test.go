package cscbench

import (
	"os"
	"testing"

	"github.com/kyso-pki/kyso/internal/testenv"
)

// TestMain removes the SoftHSM token directory the tests made, which the
// module uses until the binary ends.
func TestMain(m *testing.M) {
	code := m.Run()
	testenv.StopSoftHSM()
	os.Exit(code)
}
