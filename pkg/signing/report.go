package signing

import (
	"bytes"
	"context"
	"encoding/csv"
	"fmt"
	"io"
	"slices"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/kyso-pki/kyso/pkg/display"
	"github.com/kyso-pki/kyso/pkg/store"
)

// The campaign's targets: the share of adults holding a digital
// signature by 2025 and by 2030.
const (
	Target2025 = 0.30
	Target2030 = 0.70
)

// Population is a province's adults and where the figure comes from: the
// campaign report's denominator, given by the provider as a data file.
type Population map[string]Adults

// Adults is one province's line of a Population.
type Adults struct {
	Adults int64
	Source string
}

// MaxPopulationFile bounds a population table's size in bytes.
const MaxPopulationFile = 1 << 20

// ParsePopulation reads a population table: CSV with a header line
// province,adults,source, then 1 to 100 provinces, each once, each with a
// positive count.
func ParsePopulation(b []byte) (Population, error) {
	if len(b) > MaxPopulationFile {
		return nil, fmt.Errorf("the population table is %d bytes, more than %d", len(b), MaxPopulationFile)
	}
	rows, err := csv.NewReader(bytes.NewReader(b)).ReadAll()
	if err != nil {
		return nil, err
	}
	if len(rows) < 2 || len(rows) > 101 || len(rows[0]) < 3 || rows[0][0] != "province" || rows[0][1] != "adults" || rows[0][2] != "source" {
		return nil, fmt.Errorf("want a header province,adults,source and 1 to 100 rows")
	}
	out := Population{}
	for i, r := range rows[1:] {
		if len(r) < 3 {
			return nil, fmt.Errorf("row %d has %d fields, want 3", i+2, len(r))
		}
		n, err := strconv.ParseInt(strings.TrimSpace(r[1]), 10, 64)
		if err != nil || n <= 0 {
			return nil, fmt.Errorf("row %d: adults %q is not a positive number", i+2, r[1])
		}
		p, src := strings.TrimSpace(r[0]), strings.TrimSpace(r[2])
		if err := display.Text("province", p); err != nil || p == "" || len(p) > 128 {
			return nil, fmt.Errorf("row %d: province %q", i+2, r[0])
		}
		if err := display.Text("source", src); err != nil || len(src) > 512 {
			return nil, fmt.Errorf("row %d: source %q", i+2, r[2])
		}
		if _, dup := out[p]; dup {
			return nil, fmt.Errorf("row %d: %s given twice", i+2, p)
		}
		out[p] = Adults{n, src}
	}
	return out, nil
}

// ReportQuery asks for a campaign report: the days From to To
// (YYYY-MM-DD, both inclusive) in Zone (an IANA name; empty: Vietnam's
// time), optionally one Province and one Ward; Population, when given,
// sets the active signatures against each province's adults.
type ReportQuery struct {
	From, To, Zone string
	Province, Ward string
	Population     Population
}

// CampaignReport is the count a provider reports to the city's
// department: the period's enrolments by province, ward and channel
// with their certificates' state at At, their total, and, with a
// population table, each province's share of adults against the targets.
type CampaignReport struct {
	From      string                  `json:"from"`
	To        string                  `json:"to"`
	Zone      string                  `json:"zone"`
	At        time.Time               `json:"at"`
	Counts    []*store.EnrolmentCount `json:"counts"`
	Total     store.EnrolmentCount    `json:"total"`
	Provinces []ProvinceShare         `json:"provinces,omitempty"`
	// Months are the period's calendar months (in Zone), in order: the
	// series the charts draw.
	Months []MonthCount `json:"months"`
	// Adults is the population table's total (0 without one).
	Adults int64 `json:"adults,omitempty"`
}

// MonthCount is one month of a campaign report: the enrolments made in
// it, by channel, and since the period's start.
type MonthCount struct {
	Month      string           `json:"month"` // YYYY-MM
	Enrolments int64            `json:"enrolments"`
	ByChannel  map[string]int64 `json:"by_channel"`
	Cumulative int64            `json:"cumulative"`
}

// ProvinceShare is a province's active signatures against its adults.
type ProvinceShare struct {
	Province string  `json:"province"`
	Active   int64   `json:"active"`
	Adults   int64   `json:"adults"`
	Share    float64 `json:"share"`
	Met2025  bool    `json:"met_2025"`
	Met2030  bool    `json:"met_2030"`
	Source   string  `json:"source"`
}

// CampaignReport counts q's period: its rows (CountEnrolments) and
// their sum, and its months (CountEnrolmentSeries). Bad days, zones and areas, and periods CountEnrolments
// refuses, are invalid_request.
func (s *Service) CampaignReport(ctx context.Context, q *ReportQuery) (*CampaignReport, error) {
	zone, err := display.LoadZone(q.Zone)
	if err != nil || len(q.Zone) > 64 {
		return nil, fail(KindInvalid, "the time zone %.64q is not an IANA zone such as Asia/Ho_Chi_Minh or UTC", q.Zone)
	}
	first, err := parseDay("from", q.From, zone)
	if err != nil {
		return nil, err
	}
	last, err := parseDay("to", q.To, zone)
	if err != nil {
		return nil, err
	}
	end := last.AddDate(0, 0, 1)
	province, ward := strings.TrimSpace(q.Province), strings.TrimSpace(q.Ward)
	if err := checkReportFilter(&store.EnrolmentFilter{From: first, To: end, Province: province, Ward: ward}); err != nil {
		return nil, err
	}
	r := &CampaignReport{From: q.From, To: q.To, Zone: zone.String(), At: s.now(), Counts: []*store.EnrolmentCount{}, Months: []MonthCount{}}
	// Two reads, each one pass over the period's enrolments: the rows by
	// area and channel with their certificates' state, and the monthly
	// series (in zone) by channel from the records alone.
	f := &store.EnrolmentFilter{From: first, To: end, Province: province, Ward: ward, At: r.At}
	counts, err := s.CountEnrolments(ctx, f)
	if err != nil {
		return nil, err
	}
	for _, c := range counts {
		r.Counts = append(r.Counts, c)
		add(&r.Total, c)
	}
	var bounds []time.Time
	for start := first; ; {
		next := time.Date(start.Year(), start.Month()+1, 1, 0, 0, 0, 0, zone)
		r.Months = append(r.Months, MonthCount{Month: start.Format("2006-01"), ByChannel: map[string]int64{}})
		if !next.Before(end) {
			break
		}
		bounds = append(bounds, next)
		start = next
	}
	series, err := s.st.CountEnrolmentSeries(ctx, f, bounds)
	if err != nil {
		return nil, err
	}
	for _, c := range series {
		m := &r.Months[c.Period]
		m.Enrolments += c.Enrolments
		m.ByChannel[c.Channel] += c.Enrolments
	}
	var cumulative int64
	for i := range r.Months {
		cumulative += r.Months[i].Enrolments
		r.Months[i].Cumulative = cumulative
	}
	sort.Slice(r.Counts, func(i, j int) bool {
		a, b := r.Counts[i], r.Counts[j]
		if a.Province != b.Province {
			return a.Province < b.Province
		}
		if a.Ward != b.Ward {
			return a.Ward < b.Ward
		}
		return a.Channel < b.Channel
	})
	r.Provinces = shares(r.Counts, q.Population)
	for _, a := range q.Population {
		r.Adults += a.Adults
	}
	return r, nil
}

// add adds c's counts to sum.
func add(sum, c *store.EnrolmentCount) {
	sum.Enrolments += c.Enrolments
	sum.Active += c.Active
	sum.Expired += c.Expired
	sum.Revoked += c.Revoked
	sum.Suspended += c.Suspended
}

// shares sums the active signatures by province and sets them against
// the adults of the provinces pop names.
func shares(counts []*store.EnrolmentCount, pop Population) []ProvinceShare {
	if pop == nil {
		return nil
	}
	active := map[string]int64{}
	for _, c := range counts {
		active[c.Province] += c.Active
	}
	out := make([]ProvinceShare, 0, len(pop))
	for p, a := range pop {
		sh := float64(active[p]) / float64(a.Adults)
		out = append(out, ProvinceShare{Province: p, Active: active[p], Adults: a.Adults, Share: sh,
			Met2025: sh >= Target2025, Met2030: sh >= Target2030, Source: a.Source})
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Province < out[j].Province })
	return out
}

// parseDay reads a day, YYYY-MM-DD, as its first instant in zone.
func parseDay(field, v string, zone *time.Location) (time.Time, error) {
	d, err := time.ParseInLocation(time.DateOnly, v, zone)
	if err != nil || len(v) != len(time.DateOnly) {
		if len(v) > 40 {
			v = v[:40] + "…"
		}
		return time.Time{}, fail(KindInvalid, "%s %q is not a date YYYY-MM-DD", field, v)
	}
	return d, nil
}

// WriteCSV writes the report's counts as CSV, a header line first.
func (r *CampaignReport) WriteCSV(w io.Writer) error {
	cw := csv.NewWriter(w)
	cw.Write([]string{"province", "ward", "channel", "enrolments", "active", "expired", "revoked", "suspended"})
	for _, c := range r.Counts {
		cw.Write([]string{c.Province, c.Ward, c.Channel, strconv.FormatInt(c.Enrolments, 10), strconv.FormatInt(c.Active, 10),
			strconv.FormatInt(c.Expired, 10), strconv.FormatInt(c.Revoked, 10), strconv.FormatInt(c.Suspended, 10)})
	}
	cw.Flush()
	return cw.Error()
}

// Sources lists the population table's sources the report's shares
// cite, each once, sorted.
func (r *CampaignReport) Sources() []string {
	var out []string
	for _, p := range r.Provinces {
		if !slices.Contains(out, p.Source) {
			out = append(out, p.Source)
		}
	}
	slices.Sort(out)
	return out
}
