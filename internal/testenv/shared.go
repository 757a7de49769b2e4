package testenv

import (
	"os"
	"sync"
	"testing"
)

// Shared is a fixture that a package's tests and benchmarks share because
// it costs more to build than they do to run (a CA hierarchy issuing
// certificates through zlint): built the first time one asks for it, in a
// temporary directory that the package's TestMain removes (Main).
type Shared[T any] struct {
	// Prefix begins the temporary directory's name ("kyso-cms-test-").
	Prefix string
	// Build makes the fixture in dir.
	Build func(dir string) (T, error)
	// Close, when not nil, releases what a built fixture holds, before
	// its directory is removed.
	Close func(T)

	once  sync.Once
	val   T
	err   error
	dir   string
	built bool
}

// Get returns the fixture, building it on the first call. A build that
// failed fails tb, and every later tb that asks.
func (s *Shared[T]) Get(tb testing.TB) T {
	tb.Helper()
	s.once.Do(func() {
		if s.dir, s.err = os.MkdirTemp("", s.Prefix); s.err != nil {
			return
		}
		s.val, s.err = s.Build(s.dir)
		s.built = s.err == nil
	})
	if s.err != nil {
		tb.Fatalf("fixture: %v", s.err)
	}
	return s.val
}

// Main is a package's TestMain: it runs the tests, releases the fixture
// if it was built, removes its directory and exits with the tests' code.
func (s *Shared[T]) Main(m *testing.M) {
	code := m.Run()
	if s.built && s.Close != nil {
		s.Close(s.val)
	}
	if s.dir != "" {
		os.RemoveAll(s.dir)
	}
	os.Exit(code)
}
