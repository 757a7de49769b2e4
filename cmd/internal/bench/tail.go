package bench

import (
	"fmt"
	"io"
	"os"
	"runtime"
	"strings"
)

// Machine is where a bench ran, as every report heads it.
type Machine struct {
	CPUs     int    `json:"cpus"`
	CPUModel string `json:"cpu_model,omitempty"`
	Platform string `json:"platform"`
	Go       string `json:"go"`
}

// ThisMachine describes this computer: its CPUs (and their model, from
// /proc/cpuinfo where there is one), platform and Go version.
func ThisMachine() Machine {
	m := Machine{CPUs: runtime.NumCPU(), Platform: runtime.GOOS + "/" + runtime.GOARCH, Go: runtime.Version()}
	if b, err := os.ReadFile("/proc/cpuinfo"); err == nil {
		for _, line := range strings.Split(string(b), "\n") {
			if k, v, ok := strings.Cut(line, ":"); ok && strings.TrimSpace(k) == "model name" {
				m.CPUModel = strings.TrimSpace(v)
				break
			}
		}
	}
	return m
}

// WriteTail ends a report printed as text: the rows' errors, numbered, a
// multi-line error indented under its number, then the notes. Either list
// may be empty; an empty one prints nothing.
func WriteTail(w io.Writer, errs, notes []string) {
	if len(errs) > 0 {
		fmt.Fprintln(w, "\nErrors:")
		for i, e := range errs {
			fmt.Fprintf(w, "  %d. %s\n", i+1, strings.ReplaceAll(strings.TrimSpace(e), "\n", "\n     "))
		}
	}
	if len(notes) > 0 {
		fmt.Fprintln(w, "\nNotes:")
		for _, n := range notes {
			fmt.Fprintf(w, "  - %s\n", n)
		}
	}
}

// RowNotes returns each named row's note once, as "name: note", in the
// order of the rows, for WriteTail.
func RowNotes(names, notes []string) []string {
	var out []string
	seen := map[string]bool{}
	for i, n := range notes {
		if n != "" && !seen[names[i]] {
			seen[names[i]] = true
			out = append(out, names[i]+": "+n)
		}
	}
	return out
}
