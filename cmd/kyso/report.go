package main

import (
	"context"
	"encoding/csv"
	"fmt"
	"strconv"
	"text/tabwriter"
	"time"

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
	counts, err := svc.CountEnrolments(ctx, &store.EnrolmentFilter{From: first, To: last.AddDate(0, 0, 1), Province: *province, Ward: *ward})
	if err != nil {
		return err
	}
	switch *out {
	case "json":
		if counts == nil {
			counts = []*store.EnrolmentCount{}
		}
		return writeJSON(e.stdout, counts)
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
	return tw.Flush()
}

func or(a, b string) string {
	if a != "" {
		return a
	}
	return b
}
