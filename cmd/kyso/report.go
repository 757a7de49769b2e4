package main

import (
	"context"
	"fmt"
	"io"
	"slices"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/kyso-pki/kyso/pkg/campaign"
	"github.com/kyso-pki/kyso/pkg/signing"
)

// reportCampaign is `kyso report campaign`: the enrolments of a period by
// province, ward and channel, with their certificates' state now — the
// count the provider reports to the city's department.
func reportCampaign(ctx context.Context, e *env, args []string) error {
	fs := newFlags(e, "report campaign", "report campaign --from YYYY-MM-DD --to YYYY-MM-DD [--province P] [--ward W] [--tz ZONE] [--data DIR] [--output text|json|csv|xlsx|pdf|html|svg|png [-o FILE] [--chart cumulative|channel|area] [--provider NAME]]")
	d := addDataFlags(fs)
	from := fs.String("from", "", "first day of the period (inclusive), YYYY-MM-DD")
	to := fs.String("to", "", "last day of the period (inclusive), YYYY-MM-DD")
	province := fs.String("province", "", "only this province (as written in certificates, e.g. \"Hồ Chí Minh\")")
	ward := fs.String("ward", "", "only this ward")
	tz := tzFlag(fs, "of the days")
	population := fs.String("population", "", "a CSV of adults by province (province,adults,source), for the share of adults holding an active signature against the campaign's targets (30% by 2025, 70% by 2030)")
	out := fs.String("output", "text", "output format: text, json or csv (printed), or xlsx (a workbook), pdf (the report to the department, for the organisation's seal: kyso sign pdf), html (the dashboard page), svg or png (a chart); those need -o")
	file := fs.String("o", "", "write the output to this file (required for xlsx, pdf, html, svg and png)")
	chart := fs.String("chart", campaign.Cumulative, "the chart --output svg or png draws: cumulative (against the targets with --population), channel or area")
	provider := fs.String("provider", "", "the provider's name the PDF and HTML reports print (default: the issuing CA's organisation, from kyso ca init --name)")
	if err := parse(fs, args); err != nil {
		return err
	}
	binary := map[string]bool{"xlsx": true, "pdf": true, "html": true, "svg": true, "png": true}
	switch {
	case *out != "text" && *out != "json" && *out != "csv" && !binary[*out]:
		return usagef("--output is %q, want text, json, csv, xlsx, pdf, html, svg or png", *out)
	case binary[*out] && *file == "":
		return usagef("--output %s needs -o FILE", *out)
	case !slices.Contains(campaign.Charts, *chart):
		return usagef("--chart is %q, want %s", *chart, strings.Join(campaign.Charts, ", "))
	}
	if _, err := parseTZ(*tz); err != nil {
		return err
	}
	if *from == "" || *to == "" {
		return usagef("--from and --to are required")
	}
	for _, f := range []struct{ name, v string }{{"--from", *from}, {"--to", *to}} {
		if _, err := time.Parse(time.DateOnly, f.v); err != nil {
			return usagef("%s %q is not a day (YYYY-MM-DD)", f.name, f.v)
		}
	}
	q := &signing.ReportQuery{From: *from, To: *to, Zone: *tz, Province: *province, Ward: *ward}
	if *population != "" {
		b, err := readBoundedFile(*population, signing.MaxPopulationFile)
		if err != nil {
			return usagef("--population: %v", err)
		}
		if q.Population, err = signing.ParsePopulation(b); err != nil {
			return usagef("--population %s: %v", *population, err)
		}
	}
	svc, o, err := d.signing(ctx)
	if err != nil {
		return err
	}
	defer o.Close()
	if *provider == "" {
		*provider = o.ProviderName(ctx)
	}
	rep, err := svc.CampaignReport(ctx, q)
	if err != nil {
		return err
	}
	if *file != "" {
		return replaceFile(*file, ".kyso-report-*", func(w io.Writer) error { return writeReport(w, rep, *out, *chart, *provider) })
	}
	return writeReport(e.stdout, rep, *out, *chart, *provider)
}

// writeReport writes rep to w in format: text, json, csv, xlsx, pdf, or
// chart as svg or png.
func writeReport(w io.Writer, rep *signing.CampaignReport, format, chart, provider string) error {
	switch format {
	case "xlsx":
		return campaign.XLSX(w, rep)
	case "pdf":
		return campaign.PDF(w, rep, &campaign.Options{Provider: provider})
	case "html":
		return campaign.HTML(w, rep, &campaign.Options{Provider: provider})
	case "svg":
		return campaign.SVG(w, rep, chart)
	case "png":
		return campaign.PNG(w, rep, chart)
	case "json":
		return writeJSON(w, rep)
	case "csv":
		return rep.WriteCSV(w)
	}
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	fmt.Fprintf(tw, "PROVINCE\tWARD\tCHANNEL\tENROLMENTS\tACTIVE\tEXPIRED\tREVOKED\tSUSPENDED\n")
	for _, c := range rep.Counts {
		fmt.Fprintf(tw, "%s\t%s\t%s\t%d\t%d\t%d\t%d\t%d\n", c.Province, or(c.Ward, "—"), c.Channel, c.Enrolments, c.Active, c.Expired, c.Revoked, c.Suspended)
	}
	t := rep.Total
	fmt.Fprintf(tw, "TOTAL\t\t\t%d\t%d\t%d\t%d\t%d\n", t.Enrolments, t.Active, t.Expired, t.Revoked, t.Suspended)
	if err := tw.Flush(); err != nil {
		return err
	}
	if len(rep.Provinces) > 0 {
		fmt.Fprintln(w)
		tw = tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
		fmt.Fprintf(tw, "PROVINCE\tACTIVE\tADULTS\tSHARE\t30%% TARGET (2025)\t70%% TARGET (2030)\tSOURCE\n")
		for _, sh := range rep.Provinces {
			fmt.Fprintf(tw, "%s\t%d\t%d\t%.2f%%\t%s\t%s\t%s\n", sh.Province, sh.Active, sh.Adults, sh.Share*100,
				met(sh.Share, signing.Target2025), met(sh.Share, signing.Target2030), sh.Source)
		}
		return tw.Flush()
	}
	return nil
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
