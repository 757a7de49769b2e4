package padesbench

import (
	"bytes"
	"os"
	"strconv"
	"time"
)

// vmHWM is the peak resident set size of process pid's current address
// space, bytes, from /proc/PID/status; zero where there is no such file.
func vmHWM(pid int) int64 {
	b, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/status")
	if err != nil {
		return 0
	}
	_, rest, ok := bytes.Cut(b, []byte("\nVmHWM:"))
	if !ok {
		return 0
	}
	line, _, _ := bytes.Cut(rest, []byte("\n"))
	kb, err := strconv.ParseInt(string(bytes.TrimSuffix(bytes.TrimSpace(line), []byte(" kB"))), 10, 64)
	if err != nil {
		return 0
	}
	return kb << 10
}

// hwmWatch samples a child's VmHWM while it runs.
type hwmWatch struct {
	done chan struct{}
	peak chan int64
}

// watchHWM samples pid's VmHWM at once and every 2 ms until stop.
func watchHWM(pid int) *hwmWatch {
	w := &hwmWatch{done: make(chan struct{}), peak: make(chan int64, 1)}
	go func() {
		var peak int64
		t := time.NewTicker(2 * time.Millisecond)
		defer t.Stop()
		for {
			peak = max(peak, vmHWM(pid))
			select {
			case <-w.done:
				w.peak <- peak
				return
			case <-t.C:
			}
		}
	}()
	return w
}

// stop ends the sampling and returns the largest VmHWM seen.
func (w *hwmWatch) stop() int64 {
	close(w.done)
	return <-w.peak
}
