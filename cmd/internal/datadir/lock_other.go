//go:build !unix

package datadir

import "os"

// tryLock takes no lock where flock(2) does not exist: there, processes
// sharing a fresh data directory rely on the creation steps' own tolerance
// of finding their work done.
func tryLock(*os.File) (bool, error) { return true, nil }

// unlock does nothing: tryLock took no lock.
func unlock(*os.File) {}

// isReadOnlyFS reports false: such errors are permission errors there.
func isReadOnlyFS(error) bool { return false }
