//go:build cgo && kysocrash

package pkcs11

// The fault hooks of the crash-test build (build tag kysocrash, as
// internal/crashpoint): cmd/kysod's tests call them through a signal to
// make a running kysod's token fail as an HSM does. No release build has
// them.

// FaultCloseAllSessions closes every session of the process on the store's
// slot with C_CloseAllSessions, as a module or HSM restart does, between
// operations (see quiesce). The process is logged out with its last
// session. The store finds out at its next operation and recovers.
func (s *Store) FaultCloseAllSessions() error {
	var err error
	s.quiesce(func() { err = s.p.CloseAllSessions(s.slot) })
	return err
}

// FaultQuiesce runs fn while no goroutine of the store is inside the
// module: operations wait meanwhile. The tests re-initialise or restore the
// token from another process inside fn, which SoftHSM's file store needs
// (see quiesce).
func (s *Store) FaultQuiesce(fn func()) { s.quiesce(fn) }
