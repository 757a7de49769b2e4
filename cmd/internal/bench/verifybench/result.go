package verifybench

import (
	"fmt"
	"io"
	"text/tabwriter"

	"github.com/kyso-pki/kyso/cmd/internal/bench"
)

// Ratios fills the Ratios of rs (see Result.Ratios).
func Ratios(rs []Result) {
	best := map[[2]string]float64{}
	for _, r := range rs {
		if r.ok() {
			best[[2]string{r.Doc, r.Name}] = r.Best
		}
	}
	set := func(r *Result, to string) {
		b := best[[2]string{r.Doc, to}]
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
		case RowKysoCLI:
			set(r, RowKyso)
		case RowPdfsig, RowPyhanko:
			set(r, RowKysoCLI)
			set(r, RowKyso)
		}
	}
}

// Print writes the report as a table per document, then the errors and
// the notes.
func Print(w io.Writer, rep *Report) error {
	fmt.Fprintf(w, "Machine: %d CPU, %s, %s; %d run(s) per row, round-robin; times are wall clock.\n", rep.CPUs, rep.Platform, rep.Go, rep.Runs)
	var errs []string
	doc := ""
	var tw *tabwriter.Writer
	flush := func() error {
		if tw == nil {
			return nil
		}
		return tw.Flush()
	}
	for _, r := range rep.Rows {
		if r.Doc != doc {
			if err := flush(); err != nil {
				return err
			}
			doc = r.Doc
			fmt.Fprintf(w, "\n%s: %d signature(s), B-LT, %s\n", r.Doc, r.Signatures, bytesText(r.FileBytes))
			tw = tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
			fmt.Fprintln(tw, "row\truns\tbest\tmedian\tratios (best/best)\tverdict")
		}
		if r.Err != "" {
			errs = append(errs, fmt.Sprintf("%s %s: %s", r.Doc, r.Name, r.Err))
			fmt.Fprintf(tw, "%s\t%d\tfailed\t(error %d)\t-\t-\n", r.Name, r.Runs, len(errs))
			continue
		}
		fmt.Fprintf(tw, "%s\t%d\t%s\t%s\t%s\t%s\n", r.Name, r.Runs, secondsText(r.Best), secondsText(r.Median), formatRatios(r.Ratios), r.Verdict)
	}
	if err := flush(); err != nil {
		return err
	}
	names, rowNotes := make([]string, len(rep.Rows)), make([]string, len(rep.Rows))
	for i, r := range rep.Rows {
		names[i], rowNotes[i] = r.Name, r.Note
	}
	bench.WriteTail(w, errs, append(bench.RowNotes(names, rowNotes), rep.Notes...))
	return nil
}

// The tables' formats, shared by every bench command.
var (
	secondsText  = bench.Seconds
	bytesText    = bench.Bytes
	formatRatios = bench.Ratios
)
