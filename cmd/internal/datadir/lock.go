package datadir

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"log/slog"
	"os"
	"path/filepath"
	"sync"
	"time"
)

// LockFile is the name of the lock file in a data directory.
const LockFile = ".lock"

// lockPoll is how often Lock tries again while another process holds the
// lock.
const lockPoll = 50 * time.Millisecond

// Unlock releases a lock taken by Lock. Calling it more than once is
// harmless.
type Unlock func()

// Lock takes an exclusive lock on the data directory at path, creating the
// directory (0700) and DIR/.lock when needed, and returns when it holds the
// lock or ctx ends. Hold it around first-start creation — the passphrase,
// the secrets key, the development CA hierarchy, the daemon's TLS key and
// certificate — so that processes started at the same moment on a fresh
// directory create each thing once and the others find it made; release it
// once they are made, as several processes may serve from one directory.
// log (nil: discarded) hears when another process makes Lock wait.
//
// The lock is flock(2) on DIR/.lock: it ends with the process, however the
// process ends, and binds only processes on this machine. Replicas on
// several machines sharing a database are not serialised by it; the
// creation steps themselves tolerate finding their work already done.
// A directory this process may not write (a read-only configuration
// directory) is not locked: the returned Unlock does nothing, as such a
// process creates nothing in it.
func Lock(ctx context.Context, path string, log *slog.Logger) (Unlock, error) {
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	if err := os.MkdirAll(path, 0o700); err != nil {
		return nil, fmt.Errorf("datadir: creating %s: %w", path, err)
	}
	name := filepath.Join(path, LockFile)
	f, err := os.OpenFile(name, os.O_RDWR|os.O_CREATE, 0o600)
	if errors.Is(err, fs.ErrPermission) || isReadOnlyFS(err) {
		log.Debug("data directory not writable; not locking it", "file", name, "err", err)
		return func() {}, nil
	}
	if err != nil {
		return nil, fmt.Errorf("datadir: opening the lock %s: %w", name, err)
	}
	waiting := false
	for {
		ok, err := tryLock(f)
		if err != nil {
			f.Close()
			return nil, fmt.Errorf("datadir: locking %s: %w", name, err)
		}
		if ok {
			break
		}
		if !waiting {
			waiting = true
			log.Info("waiting for another process to finish setting up the data directory", "lock", name)
		}
		select {
		case <-ctx.Done():
			f.Close()
			return nil, fmt.Errorf("datadir: waiting for the lock %s: %w", name, ctx.Err())
		case <-time.After(lockPoll):
		}
	}
	var once sync.Once
	return func() {
		once.Do(func() {
			unlock(f)
			f.Close()
		})
	}, nil
}
