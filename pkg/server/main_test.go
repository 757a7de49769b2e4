package server

import (
	"os"
	"testing"

	"github.com/kyso-pki/kyso/internal/testenv"
)

// TestMain stops the throwaway PostgreSQL server the pre-signing tests
// start.
func TestMain(m *testing.M) {
	code := m.Run()
	testenv.StopPostgres()
	os.Exit(code)
}
