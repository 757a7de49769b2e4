//go:build kysocrash

package crashpoint

import (
	"os"
	"strconv"
	"sync/atomic"
	"syscall"
)

var (
	at    = os.Getenv("KYSO_CRASH_AT")
	after = func() int64 {
		n, err := strconv.ParseInt(os.Getenv("KYSO_CRASH_AFTER"), 10, 64)
		if err != nil || n < 1 {
			return 1
		}
		return n
	}()
	hits atomic.Int64
)

// Reach kills the process with SIGKILL the KYSO_CRASH_AFTERth time (1 by
// default) the point KYSO_CRASH_AT names is reached.
func Reach(name string) {
	if name != at || hits.Add(1) != after {
		return
	}
	os.Stderr.WriteString("crashpoint: SIGKILL at " + name + "\n")
	syscall.Kill(os.Getpid(), syscall.SIGKILL)
	select {}
}
