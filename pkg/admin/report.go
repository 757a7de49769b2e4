package admin

import (
	"bytes"
	"fmt"
	"net/http"
	"net/url"
	"slices"
	"strings"

	"github.com/kyso-pki/kyso/pkg/campaign"
	"github.com/kyso-pki/kyso/pkg/httpedge"
	"github.com/kyso-pki/kyso/pkg/signing"
)

// WithCampaign gives the campaign report the provider's name (for its
// PDF) and the adult population table, so that it sets each province's
// active signatures against its adults and the campaign's targets.
func (h *Handler) WithCampaign(provider string, p signing.Population) *Handler {
	h.provider, h.population = provider, p
	return h
}

// reportParams are the query parameters GET /admin/v1/reports/campaign
// takes.
var reportParams = map[string]bool{"from": true, "to": true, "tz": true, "province": true, "ward": true, "format": true, "chart": true}

// reportFormats are the formats of a campaign report: the media type of
// each and whether it is a chart.
var reportFormats = map[string]struct {
	mediaType string
	chart     bool
}{
	"json": {"application/json", false},
	"csv":  {"text/csv; charset=utf-8", false},
	"xlsx": {"application/vnd.openxmlformats-officedocument.spreadsheetml.sheet", false},
	"pdf":  {"application/pdf", false},
	"html": {"text/html; charset=utf-8", false},
	"svg":  {"image/svg+xml", true},
	"png":  {"image/png", true},
}

// campaignReport answers GET /admin/v1/reports/campaign?from=&to=
// [&tz=][&province=][&ward=][&format=json|csv|xlsx|pdf|html|svg|png][&chart=]:
// the period's enrolments by province, ward and channel with their
// certificates' state, as `kyso report campaign` gives them, to an
// officer.
func (h *Handler) campaignReport(w http.ResponseWriter, r *http.Request) {
	p := h.officer(w, r)
	if p == nil {
		return
	}
	q, ok := h.query(w, r, reportParams)
	if !ok {
		return
	}
	format, chart := q.Get("format"), q.Get("chart")
	if format == "" {
		format = "json"
	}
	f, known := reportFormats[format]
	switch {
	case !known:
		h.edge.Refuse(w, r, signing.KindInvalid, fmt.Sprintf("format %.20q: json, csv, xlsx, pdf, html, svg or png", format))
		return
	case chart != "" && !f.chart:
		h.edge.Refuse(w, r, signing.KindInvalid, "chart is for the formats svg and png")
		return
	case f.chart && chart == "":
		chart = campaign.Cumulative
	}
	if f.chart && !slices.Contains(campaign.Charts, chart) {
		h.edge.Refuse(w, r, signing.KindInvalid, fmt.Sprintf("chart %.20q: %s", chart, strings.Join(campaign.Charts, ", ")))
		return
	}
	rep, err := h.svc.CampaignReport(r.Context(), &signing.ReportQuery{From: q.Get("from"), To: q.Get("to"), Zone: q.Get("tz"),
		Province: q.Get("province"), Ward: q.Get("ward"), Population: h.population})
	if err != nil {
		h.edge.Fail(w, r, fmt.Errorf("admin: campaign report for officer %s: %w", p.ID, err))
		return
	}
	if format == "json" {
		httpedge.WriteJSON(w, http.StatusOK, rep)
		return
	}
	// Laid out in memory first: a failure is an error answer, never half
	// a file.
	var b bytes.Buffer
	switch format {
	case "csv":
		err = rep.WriteCSV(&b)
	case "xlsx":
		err = campaign.XLSX(&b, rep)
	case "pdf":
		err = campaign.PDF(&b, rep, &campaign.Options{Provider: h.provider})
	case "html":
		err = campaign.HTML(&b, rep, &campaign.Options{Provider: h.provider})
	case "svg":
		err = campaign.SVG(&b, rep, chart)
	case "png":
		err = campaign.PNG(&b, rep, chart)
	}
	if err != nil {
		h.edge.Fail(w, r, fmt.Errorf("admin: campaign report as %s: %w", format, err))
		return
	}
	name := "campaign-" + rep.From + "-" + rep.To
	if f.chart {
		name += "-" + chart
	}
	w.Header().Set("Content-Type", f.mediaType)
	w.Header().Set("Content-Disposition", `attachment; filename="`+name+`.`+format+`"`)
	w.Header().Set("X-Content-Type-Options", "nosniff")
	w.Write(b.Bytes())
}

// query returns the request's query parameters, or refuses the request
// and returns false when one is unknown or repeated, so that a typo does
// not widen the answer.
func (h *Handler) query(w http.ResponseWriter, r *http.Request, known map[string]bool) (url.Values, bool) {
	q := r.URL.Query()
	for k, v := range q {
		switch {
		case !known[k]:
			h.edge.Refuse(w, r, signing.KindInvalid, fmt.Sprintf("unknown parameter %.40q: %s are known", k, names(known)))
			return nil, false
		case len(v) > 1:
			h.edge.Refuse(w, r, signing.KindInvalid, fmt.Sprintf("parameter %s given %d times", k, len(v)))
			return nil, false
		}
	}
	return q, true
}

// names lists known's keys, sorted.
func names(known map[string]bool) string {
	s := make([]string, 0, len(known))
	for k := range known {
		s = append(s, k)
	}
	slices.Sort(s)
	return strings.Join(s, ", ")
}
