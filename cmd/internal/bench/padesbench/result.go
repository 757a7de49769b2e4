package padesbench

import (
	"fmt"
	"io"
	"text/tabwriter"

	"github.com/kyso-pki/kyso/cmd/internal/bench"
)

// Names of Result rows.
const (
	// RowFloor is the floor, in this process: read the file, SHA-256 it
	// (in the same pass as writing it out), one signature, append it.
	RowFloor = "floor"
	// RowKyso is pades.Sign in this process, file to file.
	RowKyso = "kyso"
	// RowFloorCLI is the floor in a child process (`kyso bench pdf
	// --floor`): what any signer run as a command pays, start-up and Go
	// runtime included.
	RowFloorCLI = "floor-cli"
	// RowKysoCLI is `kyso sign pdf` in a child process, with its key in a
	// softkey store.
	RowKysoCLI = "kyso-cli"
	// RowPyhanko is `pyhanko sign addsig --use-pades … pemder`.
	RowPyhanko = "pyhanko"
	// RowPdfsig is `pdfsig -add-signature` with the key in NSS.
	RowPdfsig = "pdfsig"
)

// Rows lists the row names in the order they are measured and printed.
var Rows = []string{RowFloor, RowKyso, RowFloorCLI, RowKysoCLI, RowPyhanko, RowPdfsig}

// Peers are the rows of other software.
var Peers = []string{RowPyhanko, RowPdfsig}

// Result is one measured row: one signer on one document.
type Result struct {
	// Size names the document (Size.Name); FileBytes is its size.
	Size      string `json:"size"`
	FileBytes int64  `json:"file_bytes"`
	// Name is the row: RowFloor, RowKyso, RowFloorCLI, RowKysoCLI,
	// RowPyhanko or RowPdfsig.
	Name string `json:"name"`
	// Child is set for rows run as a child process.
	Child bool `json:"child"`
	// Runs is how many times the row was timed; Best and Median are the
	// fastest and the median wall time, seconds.
	Runs   int     `json:"runs"`
	Best   float64 `json:"best_seconds"`
	Median float64 `json:"median_seconds"`
	// MaxRSS is the largest peak resident set size of a child over the
	// runs, bytes (getrusage ru_maxrss); RSSPerFileByte is MaxRSS over
	// FileBytes. Zero for rows in this process.
	MaxRSS         int64   `json:"max_rss_bytes,omitempty"`
	RSSPerFileByte float64 `json:"rss_per_file_byte,omitempty"`
	// RSSSampled is set when MaxRSS is not the child's ru_maxrss but the
	// largest VmHWM read from /proc/PID/status while it ran, every 2 ms: a
	// child started from this process (vfork, then exec) inherits this
	// process's peak in its ru_maxrss, so a child that stays below it is
	// measured by sampling, which can miss a peak in its last 2 ms.
	RSSSampled bool `json:"rss_sampled,omitempty"`
	// Alloc is, for rows in this process, the most the Go heap allocated
	// in one run (runtime.MemStats.TotalAlloc), bytes.
	Alloc int64 `json:"alloc_bytes,omitempty"`
	// Ratios holds Best over the Best of other rows of the same document,
	// keyed by the other row: kyso over "floor"; kyso-cli over
	// "floor-cli" and "floor"; a peer over "kyso-cli". Set by Ratios; a
	// row that failed gives and gets none.
	Ratios map[string]float64 `json:"ratios,omitempty"`
	// Retried counts failed attempts made again (a peer's known flaky
	// failure), not timed.
	Retried int `json:"retried,omitempty"`
	// Checked is what pdfsig says of the signed output: the signature's
	// type and validation lines.
	Checked string `json:"checked,omitempty"`
	// Note says what the row measures when the name does not.
	Note string `json:"note,omitempty"`
	// Err is why the row failed: the command's error and output, or what
	// pdfsig found wrong with the signed file.
	Err string `json:"error,omitempty"`
}

func (r *Result) ok() bool { return r.Err == "" && r.Best > 0 }

// Aim is one of the aims for one document, met or not.
type Aim struct {
	Size string `json:"size"`
	// What is the aim, e.g. "kyso ≤ 1.5× floor".
	What string `json:"what"`
	// Value is the measured ratio the aim is about, zero when a row it
	// needs failed.
	Value float64 `json:"value"`
	Met   bool    `json:"met"`
}

// Machine is where the bench ran.
type Machine = bench.Machine

// Report is what Run returns and `kyso bench pdf --output json` prints.
type Report struct {
	Machine Machine  `json:"machine"`
	Key     string   `json:"key"`
	Runs    int      `json:"runs"`
	Rows    []Result `json:"rows"`
	Aims    []Aim    `json:"aims"`
	// Notes say how the rows were measured.
	Notes []string `json:"notes,omitempty"`
}

// Ratios fills the Ratios of rs (see Result.Ratios).
func Ratios(rs []Result) {
	best := map[[2]string]float64{}
	for _, r := range rs {
		if r.ok() {
			best[[2]string{r.Size, r.Name}] = r.Best
		}
	}
	set := func(r *Result, to string) {
		b := best[[2]string{r.Size, to}]
		if b <= 0 || !r.ok() {
			return
		}
		if r.Ratios == nil {
			r.Ratios = map[string]float64{}
		}
		r.Ratios[to] = r.Best / b
	}
	for i := range rs {
		r := &rs[i]
		switch r.Name {
		case RowKyso:
			set(r, RowFloor)
		case RowKysoCLI:
			set(r, RowFloorCLI)
			set(r, RowFloor)
		case RowPyhanko, RowPdfsig:
			set(r, RowKysoCLI)
		}
	}
}

// Aims judges the aims for each document in rs, after Ratios:
// kyso within 1.5× of the floor (in this process, and as a command next
// to the floor as a command), kyso-cli faster than each peer, and
// kyso-cli's peak RSS under 1.5× the file.
func Aims(rs []Result) []Aim {
	var out []Aim
	var sizes []string
	rows := map[[2]string]*Result{}
	for i := range rs {
		r := &rs[i]
		if len(sizes) == 0 || sizes[len(sizes)-1] != r.Size {
			sizes = append(sizes, r.Size)
		}
		rows[[2]string{r.Size, r.Name}] = r
	}
	for _, z := range sizes {
		ratio := func(row, to string) float64 {
			if r := rows[[2]string{z, row}]; r != nil {
				return r.Ratios[to]
			}
			return 0
		}
		add := func(what string, v float64, met bool) {
			out = append(out, Aim{Size: z, What: what, Value: v, Met: v > 0 && met})
		}
		v := ratio(RowKyso, RowFloor)
		add("kyso ≤ 1.5× floor", v, v <= 1.5)
		v = ratio(RowKysoCLI, RowFloorCLI)
		add("kyso-cli ≤ 1.5× floor-cli", v, v <= 1.5)
		for _, p := range Peers {
			v = ratio(p, RowKysoCLI)
			add("kyso-cli faster than "+p+" ("+p+"/kyso-cli > 1)", v, v > 1)
		}
		var rss float64
		if r := rows[[2]string{z, RowKysoCLI}]; r != nil && r.ok() {
			rss = r.RSSPerFileByte
		}
		add("kyso-cli peak RSS < 1.5× file size", rss, rss < 1.5)
	}
	return out
}

// Print writes the report as a table per document, then the aims, the
// errors and the notes.
func Print(w io.Writer, rep *Report) error {
	m := rep.Machine
	fmt.Fprintf(w, "Machine: %d CPU (%s), %s, %s. Key %s; %d run(s) per row, round-robin; times are wall clock.\n",
		m.CPUs, orUnknown(m.CPUModel), m.Platform, m.Go, rep.Key, rep.Runs)
	var errs []string
	size := ""
	var tw *tabwriter.Writer
	flush := func() error {
		if tw == nil {
			return nil
		}
		return tw.Flush()
	}
	for _, r := range rep.Rows {
		if r.Size != size {
			if err := flush(); err != nil {
				return err
			}
			size = r.Size
			fmt.Fprintf(w, "\n%s (%s)\n", r.Size, bytesText(r.FileBytes))
			tw = tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
			fmt.Fprintln(tw, "row\truns\tbest\tmedian\tpeak RSS\tRSS/file\tGo alloc\tratios (best/best)")
		}
		if r.Err != "" {
			errs = append(errs, fmt.Sprintf("%s %s: %s", r.Size, r.Name, r.Err))
			fmt.Fprintf(tw, "%s\t%d\tfailed\t(error %d)\t\t\t\t-\n", r.Name, r.Runs, len(errs))
			continue
		}
		rss, per, alloc := "-", "-", "-"
		if r.MaxRSS > 0 {
			rss, per = bytesText(r.MaxRSS), fmt.Sprintf("%.2f×", r.RSSPerFileByte)
			if r.RSSSampled {
				rss = "~" + rss
			}
		}
		if r.Alloc > 0 {
			alloc = bytesText(r.Alloc)
		}
		runs := fmt.Sprint(r.Runs)
		if r.Retried > 0 {
			runs += fmt.Sprintf(" (+%d failed)", r.Retried)
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\n", r.Name, runs, secondsText(r.Best), secondsText(r.Median), rss, per, alloc, formatRatios(r.Ratios))
	}
	if err := flush(); err != nil {
		return err
	}
	if len(rep.Aims) > 0 {
		fmt.Fprintln(w, "\nAims:")
		tw = tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
		for _, a := range rep.Aims {
			verdict, v := "missed", fmt.Sprintf("%.2f×", a.Value)
			if a.Met {
				verdict = "met"
			}
			if a.Value == 0 {
				verdict, v = "not measured", "-"
			}
			fmt.Fprintf(tw, "  %s\t%s\t%s\t%s\n", a.Size, a.What, v, verdict)
		}
		if err := tw.Flush(); err != nil {
			return err
		}
	}
	names, rowNotes := make([]string, len(rep.Rows)), make([]string, len(rep.Rows))
	for i, r := range rep.Rows {
		names[i], rowNotes[i] = r.Name, r.Note
	}
	bench.WriteTail(w, errs, append(bench.RowNotes(names, rowNotes), rep.Notes...))
	return nil
}

func orUnknown(s string) string {
	if s == "" {
		return "model unknown"
	}
	return s
}

// The tables' formats, shared by every bench command.
var (
	secondsText  = bench.Seconds
	bytesText    = bench.Bytes
	formatRatios = bench.Ratios
)
