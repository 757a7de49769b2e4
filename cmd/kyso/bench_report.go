package main

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"log/slog"
	"runtime"
	"slices"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/kyso-pki/kyso/cmd/internal/bench"
	"github.com/kyso-pki/kyso/cmd/internal/bench/gen"
	"github.com/kyso-pki/kyso/cmd/internal/datadir"
	"github.com/kyso-pki/kyso/pkg/audit"
	"github.com/kyso-pki/kyso/pkg/campaign"
	"github.com/kyso-pki/kyso/pkg/signing"
)

// ReportAim is issue 18's aim for every campaign report at a million
// enrolments.
const ReportAim = 2 * time.Second

// reportRow is one row of `kyso bench report`.
type reportRow struct {
	Name string `json:"name"`
	// Median and Max are seconds over the runs; Total adds the count's
	// median to a format's (a format renders the whole campaign's count).
	Median float64 `json:"median_s"`
	Max    float64 `json:"max_s"`
	Total  float64 `json:"total_s"`
	// Size is what the row made: the count's rows, or a format's bytes.
	Size   int64  `json:"size"`
	Unit   string `json:"unit"`
	Within bool   `json:"within_aim"`
	Err    string `json:"error,omitempty"`
}

// reportBench is what `kyso bench report` prints.
type reportBench struct {
	Database   string      `json:"database"`
	Enrolments int64       `json:"enrolments"`
	Generated  *genSummary `json:"generated,omitempty"`
	From       string      `json:"from"`
	To         string      `json:"to"`
	Runs       int         `json:"runs"`
	CPUs       int         `json:"cpus"`
	AimSeconds float64     `json:"aim_s"`
	Rows       []reportRow `json:"rows"`
}

// genSummary is what the generator wrote, as the benches print it.
type genSummary struct {
	Enrolments  int            `json:"enrolments"`
	Revoked     int            `json:"revoked"`
	Superseded  int            `json:"superseded"`
	Suspended   int            `json:"suspended"`
	Signatures  int            `json:"signatures"`
	AuditEvents int            `json:"audit_events"`
	ByChannel   map[string]int `json:"by_channel"`
	Seconds     float64        `json:"seconds"`
	// sample is gen's sample of the serials written.
	sample [][]byte
}

// benchReport is `kyso bench report` (issue 18): it times the campaign's
// reports — signing.Service.CampaignReport, for the whole campaign, one
// province, one ward and the last month, and each format the CLI and the
// admin API give (text, JSON, CSV, XLSX, SVG, PNG, PDF, HTML) — on the
// data directory's database, first filling it with a generated campaign
// when asked (--generate N).
func benchReport(ctx context.Context, e *env, args []string) error {
	fs := newFlags(e, "bench report", "bench report [--data DIR] [--db DSN] [--generate N [--months 18] [--seed 1]] [--from DAY --to DAY] [--runs 3] [--output json]")
	d := addDataFlags(fs)
	n := fs.Int("generate", 0, "first generate a campaign of N enrolments into the database (gen: owners, credentials, CA-signed certificates, revocations, audit events). WARNING: a throwaway database only; the generator needs it to itself while it writes")
	months := fs.Int("months", 18, "the generated campaign's length in months, ending now")
	seed := fs.Uint64("seed", 1, "the generator's seed (names, areas, times; keys and serials are random)")
	from := fs.String("from", "", "first day of the reports' period (default: --months months ago, in Vietnam's time)")
	to := fs.String("to", "", "last day of the reports' period (default: today)")
	runs := fs.Int("runs", 3, "times each row is run; the median and the slowest are shown")
	out := outputFlag(fs)
	if err := parse(fs, args); err != nil {
		return err
	}
	if err := checkOutput(*out); err != nil {
		return err
	}
	if *runs < 1 || *n < 0 || *n > gen.MaxEnrolments {
		return usagef("--runs must be ≥ 1 and --generate 0 to %d", gen.MaxEnrolments)
	}
	dir, o, svc, err := d.openSigning(ctx)
	if err != nil {
		return err
	}
	defer o.Close()
	res := &reportBench{Database: dbKind(dir.Config.DB), Runs: *runs, CPUs: runtime.NumCPU(), AimSeconds: ReportAim.Seconds()}
	if *n > 0 {
		if res.Generated, err = generate(ctx, e, dir, o, *n, *months, *seed); err != nil {
			return err
		}
	}
	vn, err := time.LoadLocation("Asia/Ho_Chi_Minh")
	if err != nil {
		return err
	}
	now := time.Now().In(vn)
	res.From, res.To = *from, *to
	if res.From == "" {
		res.From = now.AddDate(0, -*months, 0).Format(time.DateOnly)
	}
	if res.To == "" {
		res.To = now.Format(time.DateOnly)
	}
	fmt.Fprintf(e.stderr, "kyso bench report: %s, %s to %s, %d run(s) per row, %d CPU\n", res.Database, res.From, res.To, *runs, res.CPUs)

	whole := &signing.ReportQuery{From: res.From, To: res.To}
	rep, err := svc.CampaignReport(ctx, whole)
	if err != nil {
		return fmt.Errorf("bench report: %w", err)
	}
	res.Enrolments = rep.Total.Enrolments
	// The busiest province and its busiest ward, as an officer would ask.
	province, ward := busiest(rep)
	last := now.AddDate(0, -1, 0).Format(time.DateOnly)
	queries := []struct {
		name string
		q    *signing.ReportQuery
	}{
		{"count: whole campaign", whole},
		{"count: one province (" + province + ")", &signing.ReportQuery{From: res.From, To: res.To, Province: province}},
		{"count: one ward (" + ward + ")", &signing.ReportQuery{From: res.From, To: res.To, Province: province, Ward: ward}},
		{"count: last month", &signing.ReportQuery{From: last, To: res.To}},
	}
	var count float64
	for i, q := range queries {
		var rows int64
		r := timeRow(*runs, func() error {
			rep, err := svc.CampaignReport(ctx, q.q)
			if err == nil {
				rows = int64(len(rep.Counts))
			}
			return err
		})
		r.Name, r.Size, r.Unit, r.Total = q.name, rows, "rows", r.Median
		if i == 0 {
			count = r.Median
		}
		res.add(e, r)
	}
	provider := o.ProviderName(ctx)
	for _, f := range []struct{ format, chart string }{
		{"text", ""}, {"json", ""}, {"csv", ""}, {"xlsx", ""}, {"pdf", ""}, {"html", ""},
		{"svg", campaign.Cumulative}, {"svg", campaign.Channel}, {"svg", campaign.Area},
		{"png", campaign.Cumulative}, {"png", campaign.Channel}, {"png", campaign.Area},
	} {
		var size int64
		r := timeRow(*runs, func() error {
			var b bytes.Buffer
			err := writeReport(&b, rep, f.format, or(f.chart, campaign.Cumulative), provider)
			size = int64(b.Len())
			return err
		})
		r.Name, r.Size, r.Unit, r.Total = "format: "+f.format, size, "bytes", count+r.Median
		if f.chart != "" {
			r.Name += " (" + f.chart + ")"
		}
		res.add(e, r)
	}
	if *out == "json" {
		return writeJSON(e.stdout, res)
	}
	return res.print(e.stdout)
}

// timeRow runs fn runs times and gives the median and the slowest.
func timeRow(runs int, fn func() error) reportRow {
	var ts []float64
	for range runs {
		start := time.Now()
		if err := fn(); err != nil {
			return reportRow{Err: err.Error()}
		}
		ts = append(ts, time.Since(start).Seconds())
	}
	slices.Sort(ts)
	return reportRow{Median: ts[len(ts)/2], Max: ts[len(ts)-1]}
}

func (b *reportBench) add(e *env, r reportRow) {
	r.Within = r.Err == "" && r.Total < ReportAim.Seconds()
	b.Rows = append(b.Rows, r)
	if r.Err != "" {
		fmt.Fprintf(e.stderr, "  %-36s failed: %.200s\n", r.Name, r.Err)
		return
	}
	fmt.Fprintf(e.stderr, "  %-36s median %s\n", r.Name, bench.Seconds(r.Median))
}

func (b *reportBench) print(w io.Writer) error {
	fmt.Fprintf(w, "campaign reports on %s: %d enrolments, %s to %s; %d run(s) a row, %d CPU; aim: every report under %s\n",
		b.Database, b.Enrolments, b.From, b.To, b.Runs, b.CPUs, bench.Seconds(b.AimSeconds))
	if g := b.Generated; g != nil {
		fmt.Fprintf(w, "generated: %d enrolments (%s), %d revoked (%d superseded), %d suspended, %d signatures, %d audit events, in %s\n",
			g.Enrolments, channelsText(g.ByChannel), g.Revoked, g.Superseded, g.Suspended, g.Signatures, g.AuditEvents, bench.Seconds(g.Seconds))
	}
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', tabwriter.AlignRight)
	fmt.Fprintf(tw, "REPORT\tMEDIAN\tMAX\tWITH COUNT\tSIZE\tAIM\t\n")
	for _, r := range b.Rows {
		if r.Err != "" {
			fmt.Fprintf(tw, "%s\tfailed: %.80s\t\t\t\t\t\n", r.Name, r.Err)
			continue
		}
		size := fmt.Sprintf("%d rows", r.Size)
		if r.Unit == "bytes" {
			size = bench.Bytes(r.Size)
		}
		aim := "met"
		if !r.Within {
			aim = fmt.Sprintf("%.2f× over", r.Total/b.AimSeconds)
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\t\n", r.Name, bench.Seconds(r.Median), bench.Seconds(r.Max), bench.Seconds(r.Total), size, aim)
	}
	return tw.Flush()
}

func channelsText(m map[string]int) string {
	var parts []string
	for k, v := range m {
		parts = append(parts, fmt.Sprintf("%s %d", k, v))
	}
	slices.Sort(parts)
	return strings.Join(parts, ", ")
}

// busiest is the report's province with the most enrolments, and that
// province's busiest ward.
func busiest(rep *signing.CampaignReport) (string, string) {
	byProvince, byWard := map[string]int64{}, map[[2]string]int64{}
	for _, c := range rep.Counts {
		byProvince[c.Province] += c.Enrolments
		byWard[[2]string{c.Province, c.Ward}] += c.Enrolments
	}
	var p, w string
	for k, v := range byProvince {
		if v > byProvince[p] || (v == byProvince[p] && k < p) {
			p = k
		}
	}
	for k, v := range byWard {
		if k[0] == p && (v > byWard[[2]string{p, w}] || (v == byWard[[2]string{p, w}] && k[1] < w)) {
			w = k[1]
		}
	}
	return p, w
}

// dbKind names a DSN's database without its address or password.
func dbKind(dsn string) string {
	if strings.HasPrefix(dsn, "postgres") {
		return "postgres"
	}
	return "sqlite"
}

// generate fills the data directory's database with a campaign of n
// enrolments (gen.Generate), then seals the audit chain with a
// checkpoint, as kysod would at its next start.
func generate(ctx context.Context, e *env, dir *datadir.Dir, o *datadir.Opened, n, months int, seed uint64) (*genSummary, error) {
	is, err := gen.NewIssuer(ctx, o.CA, o.Store, o.Keys)
	if err != nil {
		return nil, err
	}
	dsn := dir.Config.DB
	fmt.Fprintf(e.stderr, "kyso bench: generating %d enrolments over %d months into %s\n", n, months, dbKind(dsn))
	shown := 0
	s, err := gen.Generate(ctx, dsn, is, &gen.Options{Enrolments: n, Months: months, Seed: seed, Progress: func(done int) {
		if done-shown >= n/10 || done == n {
			shown = done
			fmt.Fprintf(e.stderr, "  %d enrolments written\n", done)
		}
	}})
	if err != nil {
		return nil, fmt.Errorf("bench: generating: %w", err)
	}
	key, err := audit.OpenKey(ctx, o.Keys)
	if err != nil {
		return nil, err
	}
	cp, err := audit.NewCheckpointer(o.Store, key, time.Now, slog.New(slog.NewTextHandler(e.stderr, nil)))
	if err != nil {
		return nil, err
	}
	if _, err := cp.Checkpoint(ctx); err != nil {
		return nil, fmt.Errorf("bench: sealing the generated audit events: %w", err)
	}
	return &genSummary{Enrolments: s.Enrolments, Revoked: s.Revoked, Superseded: s.Superseded, Suspended: s.Suspended,
		Signatures: s.Signatures, AuditEvents: s.AuditEvents, ByChannel: s.ByChannel, Seconds: s.Elapsed.Seconds(), sample: s.Sample}, nil
}
