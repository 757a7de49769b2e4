package main

import (
	"bytes"
	"context"
	"encoding/csv"
	"fmt"
	"sort"
	"strconv"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/kyso-pki/kyso/pkg/display"
	"github.com/kyso-pki/kyso/pkg/store"
)

// reportCampaign is `kyso report campaign`: the enrolments of a period by
// province, ward and channel, with their certificates' state now — the
// count the provider reports to the city's department.
func reportCampaign(ctx context.Context, e *env, args []string) error {
	fs := newFlags(e, "report campaign", "report campaign --from YYYY-MM-DD --to YYYY-MM-DD [--province P] [--ward W] [--tz ZONE] [--data DIR] [--output text|json|csv]")
	d := addDataFlags(fs)
	from := fs.String("from", "", "first day of the period (inclusive), YYYY-MM-DD")
	to := fs.String("to", "", "last day of the period (inclusive), YYYY-MM-DD")
	province := fs.String("province", "", "only this province (as written in certificates, e.g. \"Hồ Chí Minh\")")
	ward := fs.String("ward", "", "only this ward")
	tz := tzFlag(fs, "of the days")
	population := fs.String("population", "", "a CSV of adults by province (province,adults,source), for the share of adults holding an active signature against the campaign's targets (30% by 2025, 70% by 2030)")
	out := fs.String("output", "text", "output format: text, json or csv")
	if err := parse(fs, args); err != nil {
		return err
	}
	if *out != "text" && *out != "json" && *out != "csv" {
		return usagef("--output is %q, want text, json or csv", *out)
	}
	zone, err := parseTZ(*tz)
	if err != nil {
		return err
	}
	if *from == "" || *to == "" {
		return usagef("--from and --to are required")
	}
	first, err := time.ParseInLocation(time.DateOnly, *from, zone)
	if err != nil {
		return usagef("--from %q is not a day (YYYY-MM-DD)", *from)
	}
	last, err := time.ParseInLocation(time.DateOnly, *to, zone)
	if err != nil {
		return usagef("--to %q is not a day (YYYY-MM-DD)", *to)
	}
	dir, o, err := d.open(ctx)
	if err != nil {
		return err
	}
	defer o.Close()
	svc, err := o.Signing(dir, nil)
	if err != nil {
		return err
	}
	var adults map[string]adultCount
	if *population != "" {
		if adults, err = readPopulation(*population); err != nil {
			return usagef("--population: %v", err)
		}
	}
	counts, err := svc.CountEnrolments(ctx, &store.EnrolmentFilter{From: first, To: last.AddDate(0, 0, 1), Province: *province, Ward: *ward})
	if err != nil {
		return err
	}
	shares := provinceShares(counts, adults)
	switch *out {
	case "json":
		if counts == nil {
			counts = []*store.EnrolmentCount{}
		}
		if adults == nil {
			return writeJSON(e.stdout, counts)
		}
		return writeJSON(e.stdout, map[string]any{"counts": counts, "provinces": shares})
	case "csv":
		w := csv.NewWriter(e.stdout)
		w.Write([]string{"province", "ward", "channel", "enrolments", "active", "expired", "revoked", "suspended"})
		for _, c := range counts {
			w.Write([]string{c.Province, c.Ward, c.Channel, strconv.FormatInt(c.Enrolments, 10), strconv.FormatInt(c.Active, 10),
				strconv.FormatInt(c.Expired, 10), strconv.FormatInt(c.Revoked, 10), strconv.FormatInt(c.Suspended, 10)})
		}
		w.Flush()
		return w.Error()
	}
	tw := tabwriter.NewWriter(e.stdout, 0, 0, 2, ' ', 0)
	fmt.Fprintf(tw, "PROVINCE\tWARD\tCHANNEL\tENROLMENTS\tACTIVE\tEXPIRED\tREVOKED\tSUSPENDED\n")
	var total store.EnrolmentCount
	for _, c := range counts {
		fmt.Fprintf(tw, "%s\t%s\t%s\t%d\t%d\t%d\t%d\t%d\n", c.Province, or(c.Ward, "—"), c.Channel, c.Enrolments, c.Active, c.Expired, c.Revoked, c.Suspended)
		total.Enrolments += c.Enrolments
		total.Active += c.Active
		total.Expired += c.Expired
		total.Revoked += c.Revoked
		total.Suspended += c.Suspended
	}
	fmt.Fprintf(tw, "TOTAL\t\t\t%d\t%d\t%d\t%d\t%d\n", total.Enrolments, total.Active, total.Expired, total.Revoked, total.Suspended)
	if err := tw.Flush(); err != nil {
		return err
	}
	if len(shares) > 0 {
		fmt.Fprintln(e.stdout)
		tw = tabwriter.NewWriter(e.stdout, 0, 0, 2, ' ', 0)
		fmt.Fprintf(tw, "PROVINCE\tACTIVE\tADULTS\tSHARE\t30%% TARGET (2025)\t70%% TARGET (2030)\tSOURCE\n")
		for _, sh := range shares {
			fmt.Fprintf(tw, "%s\t%d\t%d\t%.2f%%\t%s\t%s\t%s\n", sh.Province, sh.Active, sh.Adults, sh.Share*100, met(sh.Share, 0.30), met(sh.Share, 0.70), sh.Source)
		}
		return tw.Flush()
	}
	return nil
}

// adultCount is a province's adult population and where the figure comes
// from.
type adultCount struct {
	adults int64
	source string
}

// maxPopulationFile bounds --population.
const maxPopulationFile = 1 << 20

// readPopulation reads a CSV of province,adults,source (a header line
// naming them first): at most 100 provinces, each once.
func readPopulation(path string) (map[string]adultCount, error) {
	b, err := readBoundedFile(path, maxPopulationFile)
	if err != nil {
		return nil, err
	}
	rows, err := csv.NewReader(bytes.NewReader(b)).ReadAll()
	if err != nil {
		return nil, err
	}
	if len(rows) < 2 || len(rows) > 101 || len(rows[0]) < 3 || rows[0][0] != "province" || rows[0][1] != "adults" || rows[0][2] != "source" {
		return nil, fmt.Errorf("want a header province,adults,source and 1 to 100 rows")
	}
	out := map[string]adultCount{}
	for i, r := range rows[1:] {
		if len(r) < 3 {
			return nil, fmt.Errorf("row %d has %d fields, want 3", i+2, len(r))
		}
		n, err := strconv.ParseInt(strings.TrimSpace(r[1]), 10, 64)
		if err != nil || n <= 0 {
			return nil, fmt.Errorf("row %d: adults %q is not a positive number", i+2, r[1])
		}
		p := strings.TrimSpace(r[0])
		if err := display.Text("province", p); err != nil || p == "" {
			return nil, fmt.Errorf("row %d: province %q", i+2, r[0])
		}
		if _, dup := out[p]; dup {
			return nil, fmt.Errorf("row %d: %s given twice", i+2, p)
		}
		out[p] = adultCount{n, strings.TrimSpace(r[2])}
	}
	return out, nil
}

// provinceShare is a province's active signatures against its adults.
type provinceShare struct {
	Province string  `json:"province"`
	Active   int64   `json:"active"`
	Adults   int64   `json:"adults"`
	Share    float64 `json:"share"`
	Source   string  `json:"source"`
}

// provinceShares sums the active signatures by province and sets them
// against the adults of the provinces the population table names.
func provinceShares(counts []*store.EnrolmentCount, adults map[string]adultCount) []provinceShare {
	if adults == nil {
		return nil
	}
	active := map[string]int64{}
	for _, c := range counts {
		active[c.Province] += c.Active
	}
	var out []provinceShare
	for p, a := range adults {
		out = append(out, provinceShare{Province: p, Active: active[p], Adults: a.adults, Share: float64(active[p]) / float64(a.adults), Source: a.source})
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Province < out[j].Province })
	return out
}

// met says whether share reaches target.
func met(share, target float64) string {
	if share >= target {
		return "đạt (met)"
	}
	return fmt.Sprintf("chưa đạt (%.2f%% short)", (target-share)*100)
}

func or(a, b string) string {
	if a != "" {
		return a
	}
	return b
}
