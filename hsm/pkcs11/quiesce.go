//go:build cgo

package pkcs11

// quiesce runs fn while no goroutine of s is inside the module: it takes
// every session of the pool and the lock recovery holds. Signers keep
// looping; they wait in acquire (as long as their context lets them).
//
// Only tests use it, and the fault hooks of the crash-test build
// (fault.go, build tag kysocrash): the linker leaves it out of a release
// binary.
//
// SoftHSM 2.6.1 is not safe against C_CloseAllSessions on one thread while
// another is inside C_Sign on a session it closes: the process dies with
// SIGSEGV in C_Sign (the session is freed under it). So the tests kill the
// sessions between operations, which is what a module or HSM restart looks
// like to a client of a network HSM, and what a PKCS#11 module that honours
// CKF_OS_LOCKING_OK must survive anyway. Nor is its file store safe
// against another process re-initialising the token while this one reads
// it (see the package documentation); the tests re-initialise it while
// this process is quiet.
func (s *Store) quiesce(fn func()) {
	for i := 0; i < s.poolSize; i++ {
		s.sem <- struct{}{}
	}
	defer func() {
		for i := 0; i < s.poolSize; i++ {
			<-s.sem
		}
	}()
	s.mu.Lock()
	defer s.mu.Unlock()
	fn()
}
