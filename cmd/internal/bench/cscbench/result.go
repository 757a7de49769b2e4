package cscbench

import (
	"fmt"
	"io"
	"maps"
	"slices"
	"strings"
	"text/tabwriter"

	"github.com/kyso-pki/kyso/cmd/internal/bench"
)

// Names of Result rows.
const (
	// RowBare is the bare PKCS#11 loop: C_SignInit and C_Sign on a
	// session per goroutine, one digest per call, nothing else.
	RowBare = "bare"
	// RowCredKey is kyso's key store signing with a credential's key as
	// signHash opens it (on PKCS#11, a wrapped key unwrapped for each
	// signature), one digest per call, without the service.
	RowCredKey = "cred-key"
	// RowFloor is the least a remote signer must do per request: HTTPS,
	// one durable write, a C_Sign per hash (floor.go).
	RowFloor = "floor"
	// RowSignHash is signatures/signHash over HTTPS with SADs made ahead.
	RowSignHash = "signhash"
	// RowRoundTrip is credentials/authorize then signatures/signHash over
	// HTTPS.
	RowRoundTrip = "roundtrip"
	// RowFlood is signatures/signHash to a real kysod, one request after
	// another, while connections flood oauth2/token for unknown clients
	// (FloodRow).
	RowFlood = "flood"
)

// Aim is the aim: signHash at least this share of the bare loop's
// signatures per second.
const Aim = 0.85

// The flood row's aims (issue 13): kysod's resident memory stays under
// FloodRSSAim at the flood's peak, and a legitimate signHash's p99 during
// the flood is at most FloodP99Aim times the quiet one.
const (
	FloodRSSAim = 300 << 20
	FloodP99Aim = 2.0
)

// Result is one measured row.
type Result struct {
	// Row is RowBare, RowSignHash or RowRoundTrip.
	Row string `json:"row"`
	// Algorithm is the key's.
	Algorithm string `json:"algorithm"`
	// Hashes is how many hashes one request signs (1 for bare).
	Hashes int `json:"hashes"`
	// Clients is how many clients sent requests at once (goroutines, for
	// bare).
	Clients int `json:"clients"`
	// Requests and Signatures are how many were made in Seconds of wall
	// time; for roundtrip a request is the authorize and signHash pair.
	Requests   int64   `json:"requests"`
	Signatures int64   `json:"signatures"`
	Seconds    float64 `json:"seconds"`
	// PerSecond is Signatures / Seconds; RequestsPerSecond Requests /
	// Seconds.
	PerSecond         float64 `json:"signatures_per_second"`
	RequestsPerSecond float64 `json:"requests_per_second"`
	// P50 and P99 are the median and the 99th-percentile latency of a
	// request, seconds (nearest rank).
	P50 float64 `json:"p50_seconds"`
	P99 float64 `json:"p99_seconds"`
	// VsBare is PerSecond over the bare row's of the same algorithm and
	// clients; zero when that row failed or was not run.
	VsBare float64 `json:"vs_bare,omitempty"`
	// VsKey is PerSecond over the cred-key row's of the same algorithm
	// and clients, for signhash and roundtrip rows: what the service and
	// HTTPS keep of what the key path allows.
	VsKey float64 `json:"vs_cred_key,omitempty"`
	// VsFloor is a signhash row's signatures per second over the floor
	// row's with the same hashes and clients.
	VsFloor float64 `json:"vs_floor,omitempty"`
	// Prepared is how many SADs were made ahead for a signhash row, in
	// PrepareSeconds (untimed).
	Prepared       int64   `json:"sads_prepared,omitempty"`
	PrepareSeconds float64 `json:"prepare_seconds,omitempty"`
	// Flood is how many connections flooded kysod during a flood row,
	// from FloodSources source addresses; FloodStats what they saw and
	// kysod's resident memory. QuietP50 and QuietP99 are the flood row's
	// signHash latencies before the flood (P50 and P99: during it).
	Flood        int         `json:"flood_connections,omitempty"`
	FloodSources int         `json:"flood_sources,omitempty"`
	FloodStats   *FloodStats `json:"flood,omitempty"`
	QuietP50     float64     `json:"quiet_p50_seconds,omitempty"`
	QuietP99     float64     `json:"quiet_p99_seconds,omitempty"`
	// Note says what is special about this row's run.
	Note string `json:"note,omitempty"`
	// Err is why the row failed.
	Err string `json:"error,omitempty"`
}

func (r *Result) ok() bool { return r.Err == "" && r.PerSecond > 0 }

// AimResult is the aim judged for one signhash row.
type AimResult struct {
	Algorithm string `json:"algorithm"`
	Hashes    int    `json:"hashes"`
	Clients   int    `json:"clients"`
	// What is the aim, e.g. "signhash ≥ 0.85× bare".
	What string `json:"what"`
	// Value is the row's VsBare (or VsFloor), zero when it or the row it
	// is compared with failed. For a flood row's aims it is the figure
	// over its bound: met at 1 or less.
	Value float64 `json:"value"`
	Met   bool    `json:"met"`
}

// Machine is where the bench ran.
type Machine = bench.Machine

// Report is what Run returns and `kyso bench csc --output json` prints.
type Report struct {
	Machine Machine `json:"machine"`
	// Seconds is how long each row was measured for.
	Seconds float64 `json:"seconds_per_row"`
	// Clients is the N of the 1 and N client rows.
	Clients int `json:"clients"`
	// Database says where the database was.
	Database string      `json:"database,omitempty"`
	Rows     []Result    `json:"rows"`
	Aims     []AimResult `json:"aims"`
	// Notes say how the rows were measured.
	Notes []string `json:"notes,omitempty"`
}

// Ratios fills VsBare of every row that is not bare, from the bare row of
// the same algorithm and clients, and VsKey of the signhash and roundtrip
// rows from the cred-key row.
func Ratios(rs []Result) {
	type key struct {
		row, alg string
		c, h     int
	}
	base := map[key]float64{}
	for _, r := range rs {
		if r.ok() {
			h := 0
			if r.Row == RowFloor {
				h = r.Hashes
			}
			base[key{r.Row, r.Algorithm, r.Clients, h}] = r.PerSecond
		}
	}
	for i := range rs {
		r := &rs[i]
		if !r.ok() || r.Row == RowBare || r.Row == RowFlood {
			continue
		}
		if b := base[key{RowBare, r.Algorithm, r.Clients, 0}]; b > 0 {
			r.VsBare = r.PerSecond / b
		}
		if b := base[key{RowCredKey, r.Algorithm, r.Clients, 0}]; b > 0 && r.Row != RowCredKey {
			r.VsKey = r.PerSecond / b
		}
		if b := base[key{RowFloor, r.Algorithm, r.Clients, r.Hashes}]; b > 0 && r.Row == RowSignHash {
			r.VsFloor = r.PerSecond / b
		}
	}
}

// Aims judges the aim for every signhash row, after Ratios.
func Aims(rs []Result) []AimResult {
	var out []AimResult
	for _, r := range rs {
		if r.Row == RowFlood {
			out = append(out, floodAims(r)...)
			continue
		}
		if r.Row != RowSignHash {
			continue
		}
		out = append(out, AimResult{Algorithm: r.Algorithm, Hashes: r.Hashes, Clients: r.Clients,
			What: fmt.Sprintf("signhash ≥ %.2f× bare", Aim), Value: r.VsBare, Met: r.VsBare >= Aim},
			AimResult{Algorithm: r.Algorithm, Hashes: r.Hashes, Clients: r.Clients,
				What: fmt.Sprintf("signhash ≥ %.2f× floor", Aim), Value: r.VsFloor, Met: r.VsFloor >= Aim})
	}
	return out
}

// floodAims judges a flood row: its peak RSS over FloodRSSAim, its p99
// over the quiet one; both met at 1 or less (zero when not measured).
func floodAims(r Result) []AimResult {
	rss, p99 := 0.0, 0.0
	if r.Err == "" && r.FloodStats != nil {
		rss = float64(r.FloodStats.RSSPeak) / FloodRSSAim
	}
	if r.Err == "" && r.QuietP99 > 0 {
		p99 = r.P99 / r.QuietP99 / FloodP99Aim
	}
	return []AimResult{
		{Algorithm: r.Algorithm, Hashes: r.Hashes, Clients: r.Clients, What: fmt.Sprintf("flood: kysod peak RSS ≤ %d MB", FloodRSSAim>>20), Value: rss, Met: rss > 0 && rss <= 1},
		{Algorithm: r.Algorithm, Hashes: r.Hashes, Clients: r.Clients, What: fmt.Sprintf("flood: signHash p99 ≤ %g× quiet", FloodP99Aim), Value: p99, Met: p99 > 0 && p99 <= 1},
	}
}

// Print writes the report: the machine, a table of the rows, the aims,
// the errors and the notes.
func Print(w io.Writer, rep *Report) error {
	m := rep.Machine
	cpu := m.CPUModel
	if cpu == "" {
		cpu = "unknown CPU"
	}
	fmt.Fprintf(w, "Machine: %d CPU (%s), %s, %s. %.3gs per row; N = %d clients.\n", m.CPUs, cpu, m.Platform, m.Go, rep.Seconds, rep.Clients)
	if rep.Database != "" {
		fmt.Fprintf(w, "Database: %s\n", rep.Database)
	}
	fmt.Fprintln(w)
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "algorithm\trow\thashes/req\tclients\trequests\tsig/s\treq/s\tp50\tp99\tvs bare\tvs cred-key\tvs floor")
	var errs []string
	for _, r := range rep.Rows {
		if r.Err != "" {
			errs = append(errs, fmt.Sprintf("%s %s, %d hashes, %d clients: %s", r.Algorithm, r.Row, r.Hashes, r.Clients, r.Err))
			fmt.Fprintf(tw, "%s\t%s\t%d\t%d\t\tfailed (error %d)\t\t\t\t-\t-\t-\n", r.Algorithm, r.Row, r.Hashes, r.Clients, len(errs))
			continue
		}
		fmt.Fprintf(tw, "%s\t%s\t%d\t%d\t%d\t%.0f\t%.0f\t%s\t%s\t%s\t%s\t%s\n", r.Algorithm, r.Row, r.Hashes, r.Clients, r.Requests,
			r.PerSecond, r.RequestsPerSecond, durationText(r.P50), durationText(r.P99), ratioText(r.VsBare), ratioText(r.VsKey), ratioText(r.VsFloor))
	}
	if err := tw.Flush(); err != nil {
		return err
	}
	for _, r := range rep.Rows {
		if r.Row != RowFlood || r.Err != "" || r.FloodStats == nil {
			continue
		}
		st := r.FloodStats
		var answers []string
		for _, k := range slices.Sorted(maps.Keys(st.Answers)) {
			answers = append(answers, fmt.Sprintf("%s ×%d", k, st.Answers[k]))
		}
		fmt.Fprintf(w, "\nFlood: %d connections from %d source address(es) sent %d unauthenticated oauth2/token requests in %.1fs, answered %s",
			r.Flood, r.FloodSources, st.Requests, st.Seconds, strings.Join(answers, ", "))
		if st.NoRetryAfter > 0 {
			fmt.Fprintf(w, " (%d 429/503 without Retry-After)", st.NoRetryAfter)
		}
		fmt.Fprintf(w, ".\n  kysod RSS: %d MB before, %d MB at the peak (aim < %d MB).\n", st.RSSBefore>>20, st.RSSPeak>>20, FloodRSSAim>>20)
		fmt.Fprintf(w, "  signHash, %d requests one after another: p50 %s, p99 %s quiet; p50 %s, p99 %s during the flood (%.2f×; aim ≤ %g×).\n",
			r.Requests, durationText(r.QuietP50), durationText(r.QuietP99), durationText(r.P50), durationText(r.P99), r.P99/max(r.QuietP99, 1e-9), FloodP99Aim)
	}
	if len(rep.Aims) > 0 {
		fmt.Fprintln(w, "\nAims:")
		tw = tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
		for _, a := range rep.Aims {
			verdict, v := "missed", fmt.Sprintf("%.3f×", a.Value)
			if a.Met {
				verdict = "met"
			}
			if a.Value == 0 {
				verdict, v = "not measured", "-"
			}
			fmt.Fprintf(tw, "  %s\t%d hashes/req\t%d clients\t%s\t%s\t%s\n", a.Algorithm, a.Hashes, a.Clients, a.What, v, verdict)
		}
		if err := tw.Flush(); err != nil {
			return err
		}
	}
	var notes []string
	for _, r := range rep.Rows {
		if r.Note != "" {
			notes = append(notes, fmt.Sprintf("%s %s, %d hashes, %d clients: %s", r.Algorithm, r.Row, r.Hashes, r.Clients, r.Note))
		}
	}
	bench.WriteTail(w, errs, append(notes, rep.Notes...))
	return nil
}

// durationText prints seconds as µs, ms or s.
func durationText(s float64) string {
	switch {
	case s <= 0:
		return "-"
	case s < 1e-3:
		return fmt.Sprintf("%.0fµs", s*1e6)
	case s < 1:
		return fmt.Sprintf("%.2fms", s*1e3)
	default:
		return fmt.Sprintf("%.2fs", s)
	}
}

func ratioText(v float64) string {
	if v <= 0 {
		return "-"
	}
	return fmt.Sprintf("%.3f", v)
}
