package main

import (
	"context"
	"fmt"
	"slices"
	"text/tabwriter"

	"github.com/kyso-pki/kyso/pkg/signing"
	"github.com/kyso-pki/kyso/pkg/store"
)

// usageCmd prints the signatures counted per citizen and per portal, by
// category, free and metered (signing.Service.Usage).
func usageCmd(ctx context.Context, e *env, args []string) error {
	fs := newFlags(e, "usage", "usage --from YYYY-MM-DD --to YYYY-MM-DD [--cccd CCCD] [--client ID] [--data DIR] [--output json]")
	d := addDataFlags(fs)
	from := fs.String("from", "", "first UTC day counted, YYYY-MM-DD (required)")
	to := fs.String("to", "", "last UTC day counted, YYYY-MM-DD, at most 366 days after --from (required)")
	cccd := fs.String("cccd", "", "only this citizen's signatures (12 digits)")
	client := fs.String("client", "", "only this portal's signatures (its client ID)")
	out := outputFlag(fs)
	if _, err := parseArgs(fs, args, 0, "no arguments"); err != nil {
		return err
	}
	if err := checkOutput(*out); err != nil {
		return err
	}
	if *from == "" || *to == "" {
		return usagef("--from and --to are required")
	}
	for _, f := range []struct{ name, v string }{{"--from", *from}, {"--to", *to}} {
		if _, err := signing.ParseUsageDay(f.name, f.v); err != nil {
			return usagef("%v", err)
		}
	}
	svc, o, err := d.signing(ctx)
	if err != nil {
		return err
	}
	defer o.Close()
	u, err := svc.Usage(ctx, &signing.UsageQuery{From: *from, To: *to, CCCD: *cccd, ClientID: *client, Actor: actor()})
	if err != nil {
		return err
	}
	if *out == "json" {
		return writeJSON(e.stdout, u)
	}
	fmt.Fprintf(e.stdout, "signatures from %s to %s (UTC days)\n", u.From, u.To)
	for _, part := range []struct {
		title  string
		totals []*signing.UsageTotal
	}{{"per citizen", u.Citizens}, {"per portal", u.Portals}} {
		fmt.Fprintf(e.stdout, "\n%s:\n", part.title)
		tw := tabwriter.NewWriter(e.stdout, 0, 4, 2, ' ', 0)
		fmt.Fprintln(tw, "  ID\tCATEGORY\tFREE\tMETERED")
		for _, t := range part.totals {
			cats := make([]string, 0, len(t.ByCategory))
			for c := range t.ByCategory {
				cats = append(cats, c)
			}
			slices.Sort(cats)
			for _, c := range cats {
				fmt.Fprintf(tw, "  %s\t%s\t%d\t%d\n", t.ID, c, t.ByCategory[c].Free, t.ByCategory[c].Metered)
			}
		}
		tw.Flush()
	}
	if len(u.Lines) == 0 {
		fmt.Fprintln(e.stdout, "\nno signatures counted")
	}
	if len(u.Renewals) > 0 {
		fmt.Fprintln(e.stdout, "\ncertificates renewed, per citizen:")
		tw := tabwriter.NewWriter(e.stdout, 0, 4, 2, ' ', 0)
		fmt.Fprintln(tw, "  ID	FREE	METERED")
		for _, r := range u.Renewals {
			fmt.Fprintf(tw, "  %s\t%d\t%d\n", r.NationalID, r.Free, r.Metered)
		}
		tw.Flush()
	}
	if u.Truncated {
		fmt.Fprintf(e.stderr, "only the first %d lines: narrow the query with --cccd, --client or a shorter period\n", signing.MaxUsageRows)
	}
	return nil
}

// categoryFlag checks client create's --category.
func categoryFlag(v string) error {
	if err := signing.CheckCategory(v); err != nil {
		return usagef("--category: want %s or %s (default %s)", store.CategoryPublicService, store.CategoryCommercial, store.CategoryCommercial)
	}
	return nil
}
