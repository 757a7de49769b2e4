package admin

import (
	"fmt"
	"net/http"
	"net/url"
	"slices"
	"strings"

	"github.com/kyso-pki/kyso/pkg/httpedge"
	"github.com/kyso-pki/kyso/pkg/signing"
)

// WithPopulation gives the campaign report the adult population table,
// so that it sets each province's active signatures against its adults
// and the campaign's targets.
func (h *Handler) WithPopulation(p signing.Population) *Handler {
	h.population = p
	return h
}

// reportParams are the query parameters GET /admin/v1/reports/campaign
// takes.
var reportParams = map[string]bool{"from": true, "to": true, "tz": true, "province": true, "ward": true, "format": true}

// campaignReport answers GET /admin/v1/reports/campaign?from=&to=
// [&tz=][&province=][&ward=][&format=json|csv]: the period's enrolments
// by province, ward and channel with their certificates' state, as `kyso
// report campaign` prints them, to an officer.
func (h *Handler) campaignReport(w http.ResponseWriter, r *http.Request) {
	p := h.officer(w, r)
	if p == nil {
		return
	}
	q, ok := h.query(w, r, reportParams)
	if !ok {
		return
	}
	format := q.Get("format")
	if format != "" && format != "json" && format != "csv" {
		h.edge.Refuse(w, r, signing.KindInvalid, fmt.Sprintf("format %.20q: json or csv", format))
		return
	}
	rep, err := h.svc.CampaignReport(r.Context(), &signing.ReportQuery{From: q.Get("from"), To: q.Get("to"), Zone: q.Get("tz"),
		Province: q.Get("province"), Ward: q.Get("ward"), Population: h.population})
	if err != nil {
		h.edge.Fail(w, r, fmt.Errorf("admin: campaign report for officer %s: %w", p.ID, err))
		return
	}
	if format == "csv" {
		w.Header().Set("Content-Type", "text/csv; charset=utf-8")
		w.Header().Set("Content-Disposition", `attachment; filename="campaign-`+rep.From+`-`+rep.To+`.csv"`)
		rep.WriteCSV(w)
		return
	}
	httpedge.WriteJSON(w, http.StatusOK, rep)
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
