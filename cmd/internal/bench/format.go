// Package bench holds what `kyso bench` measures, one package for each
// bench (cabench, cscbench, keybench, padesbench, verifybench), and here
// what they share: the format of what they print — times, sizes and the
// ratios against the floor and the peers, the same way in every table.
package bench

import (
	"fmt"
	"math"
	"slices"
	"sort"
	"strings"
	"time"
)

// Percentile returns the p-th percentile (0 to 100, nearest rank) of d in
// seconds, sorting d; 0 when d is empty.
func Percentile(d []time.Duration, p float64) float64 {
	if len(d) == 0 {
		return 0
	}
	slices.Sort(d)
	i := int(math.Ceil(p/100*float64(len(d)))) - 1
	return d[min(max(i, 0), len(d)-1)].Seconds()
}

// Seconds formats a duration in seconds as µs, ms or s.
func Seconds(s float64) string {
	switch {
	case s < 1e-3:
		return fmt.Sprintf("%.0fµs", s*1e6)
	case s < 1:
		return fmt.Sprintf("%.1fms", s*1e3)
	default:
		return fmt.Sprintf("%.2fs", s)
	}
}

// Bytes formats a size as B, KiB, MiB or GiB.
func Bytes(n int64) string {
	switch {
	case n >= 1<<30:
		return fmt.Sprintf("%.1f GiB", float64(n)/(1<<30))
	case n >= 1<<20:
		return fmt.Sprintf("%.1f MiB", float64(n)/(1<<20))
	case n >= 1<<10:
		return fmt.Sprintf("%.1f KiB", float64(n)/(1<<10))
	default:
		return fmt.Sprintf("%d B", n)
	}
}

// Ratios formats named ratios as "1.12× floor, 0.98× pyhanko", sorted by
// name; "-" when there are none.
func Ratios(m map[string]float64) string {
	if len(m) == 0 {
		return "-"
	}
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	parts := make([]string, len(keys))
	for i, k := range keys {
		parts[i] = fmt.Sprintf("%.2f× %s", m[k], k)
	}
	return strings.Join(parts, ", ")
}
