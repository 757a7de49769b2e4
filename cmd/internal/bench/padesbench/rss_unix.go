//go:build unix

package padesbench

import (
	"os"
	"runtime"
	"syscall"
)

// maxRSS is a finished child's peak resident set size, bytes: getrusage's
// ru_maxrss, in KiB on Linux and the BSDs, in bytes on macOS.
func maxRSS(ps *os.ProcessState) int64 {
	ru, ok := ps.SysUsage().(*syscall.Rusage)
	if !ok {
		return 0
	}
	if runtime.GOOS == "darwin" || runtime.GOOS == "ios" {
		return int64(ru.Maxrss)
	}
	return int64(ru.Maxrss) << 10
}
