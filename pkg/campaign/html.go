package campaign

import (
	"bytes"
	"crypto/sha256"
	"encoding/base64"
	"fmt"
	"html/template"
	"io"

	"github.com/kyso-pki/kyso/pkg/signing"
)

// dashboardCSS is the dashboard's one style sheet, allowed by its hash
// in the page's own Content-Security-Policy: phone first, tables as cards
// on a narrow screen so that nothing scrolls sideways.
const dashboardCSS = `*{box-sizing:border-box}
body{margin:0;font-family:"DejaVu Sans",system-ui,sans-serif;color:#1f2937;background:#f9fafb;line-height:1.5}
main{max-width:1100px;margin:0 auto;padding:16px}
h1{font-size:1.4rem;margin:0 0 4px}h2{font-size:1.15rem;margin:24px 0 8px}
.en{color:#4b5563;font-weight:normal;font-size:.9em}
.meta{margin:0;color:#374151}
.totals{display:grid;grid-template-columns:repeat(auto-fit,minmax(150px,1fr));gap:8px;margin:0}
.totals div{background:#fff;border:1px solid #d1d5db;border-radius:8px;padding:8px 12px}
.totals dt{font-size:.85rem;color:#374151}.totals dd{margin:0;font-size:1.3rem;font-weight:bold}
figure{margin:0 0 16px;background:#fff;border:1px solid #d1d5db;border-radius:8px;padding:8px}
figure svg{width:100%;height:auto;display:block}
figcaption{font-size:.85rem;color:#374151}
table{border-collapse:collapse;width:100%;background:#fff}
th,td{border:1px solid #d1d5db;padding:4px 8px;text-align:left;overflow-wrap:anywhere}
td.n{text-align:right}
th{background:#e5e7eb}
.met{color:#166534}.short{color:#9a3412}
@media (max-width:700px){
table.cards thead{display:none}
table.cards,table.cards tbody,table.cards tr,table.cards td{display:block;width:100%}
table.cards tr{margin:0 0 8px;border:1px solid #d1d5db;border-radius:8px}
table.cards td{border:0;border-bottom:1px solid #e5e7eb;text-align:right}
table.cards td::before{content:attr(data-label);float:left;font-weight:bold;text-align:left;padding-right:8px}
}
@media (min-width:900px){.charts{display:grid;grid-template-columns:1fr 1fr;gap:16px}}`

// dashboardCSP is the page's Content-Security-Policy: nothing but its own
// style sheet.
var dashboardCSP = "default-src 'none'; style-src 'sha256-" + func() string {
	h := sha256.Sum256([]byte(dashboardCSS))
	return base64.StdEncoding.EncodeToString(h[:])
}() + "'; base-uri 'none'; form-action 'none'"

var dashboard = template.Must(template.New("dashboard").Funcs(template.FuncMap{
	"count":   count,
	"channel": func(c string) string { return channelNames[c] },
	"pct":     func(f float64) string { return fmt.Sprintf("%.2f%%", f*100) },
	"or":      or,
}).Parse(`<!DOCTYPE html>
<html lang="vi">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<meta http-equiv="Content-Security-Policy" content="{{.CSP}}">
<title>Báo cáo cấp chữ ký số {{.R.From}} – {{.R.To}}</title>
<style>{{.CSS}}</style>
</head>
<body>
<main>
<h1>Kết quả cấp chữ ký số <span class="en" lang="en">Digital signatures issued</span></h1>
{{if .Provider}}<p class="meta">Đơn vị <span lang="en">(provider)</span>: {{.Provider}}</p>{{end}}
<p class="meta">Kỳ báo cáo <span lang="en">(period)</span>: {{.R.From}} – {{.R.To}} ({{.R.Zone}}); trạng thái tính đến <span lang="en">(as of)</span> {{.At}} UTC</p>
<h2>Tổng hợp <span class="en" lang="en">Totals</span></h2>
<dl class="totals">
<div><dt>Đã cấp trong kỳ</dt><dd>{{count .R.Total.Enrolments}}</dd></div>
<div><dt>Đang hoạt động</dt><dd>{{count .R.Total.Active}}</dd></div>
<div><dt>Hết hạn</dt><dd>{{count .R.Total.Expired}}</dd></div>
<div><dt>Đã thu hồi</dt><dd>{{count .R.Total.Revoked}}</dd></div>
<div><dt>Tạm dừng</dt><dd>{{count .R.Total.Suspended}}</dd></div>
</dl>
{{if .R.Provinces}}<h2>Tỷ lệ người trưởng thành có chữ ký số <span class="en" lang="en">Share of adults</span></h2>
<table class="cards">
<thead><tr><th scope="col">Tỉnh, thành phố</th><th scope="col">Đang hoạt động</th><th scope="col">Người trưởng thành</th><th scope="col">Tỷ lệ</th><th scope="col">Mục tiêu 30% (2025)</th><th scope="col">Mục tiêu 70% (2030)</th></tr></thead>
<tbody>{{range .R.Provinces}}<tr><td data-label="Tỉnh">{{.Province}}</td><td class="n" data-label="Hoạt động">{{count .Active}}</td><td class="n" data-label="Người trưởng thành">{{count .Adults}}</td><td class="n" data-label="Tỷ lệ">{{pct .Share}}</td><td data-label="30% (2025)">{{if .Met2025}}<span class="met">đạt</span>{{else}}<span class="short">chưa đạt</span>{{end}}</td><td data-label="70% (2030)">{{if .Met2030}}<span class="met">đạt</span>{{else}}<span class="short">chưa đạt</span>{{end}}</td></tr>
{{end}}</tbody>
</table>
<p class="meta">Nguồn số liệu dân số <span lang="en">(population source)</span>: {{range $i, $s := .R.Sources}}{{if $i}}; {{end}}{{$s}}{{end}}</p>{{end}}
<h2>Biểu đồ <span class="en" lang="en">Charts</span></h2>
<div class="charts">{{range .Charts}}<figure>{{.SVG}}<figcaption>{{.Title}}</figcaption></figure>
{{end}}</div>
<h2>Chi tiết theo địa bàn và kênh <span class="en" lang="en">By area and channel</span></h2>
<table class="cards">
<thead><tr><th scope="col">Tỉnh</th><th scope="col">Phường, xã</th><th scope="col">Kênh</th><th scope="col">Đã cấp</th><th scope="col">Hoạt động</th><th scope="col">Hết hạn</th><th scope="col">Thu hồi</th><th scope="col">Tạm dừng</th></tr></thead>
<tbody>{{range .R.Counts}}<tr><td data-label="Tỉnh">{{.Province}}</td><td data-label="Phường, xã">{{or .Ward "—"}}</td><td data-label="Kênh">{{channel .Channel}}</td><td class="n" data-label="Đã cấp">{{count .Enrolments}}</td><td class="n" data-label="Hoạt động">{{count .Active}}</td><td class="n" data-label="Hết hạn">{{count .Expired}}</td><td class="n" data-label="Thu hồi">{{count .Revoked}}</td><td class="n" data-label="Tạm dừng">{{count .Suspended}}</td></tr>
{{else}}<tr><td colspan="8">Không có đăng ký trong kỳ <span lang="en">(no enrolments in the period)</span></td></tr>
{{end}}</tbody>
</table>
</main>
</body>
</html>
`))

// HTML writes the report as one self-contained page for the operator's
// dashboard: the totals, the shares against the targets, the three
// charts inline (SVG) and the counts by area and channel; Vietnamese
// first, laid out for a phone first, with a Content-Security-Policy of
// its own that allows nothing but its style sheet (no script, no
// request).
func HTML(w io.Writer, rep *signing.CampaignReport, o *Options) error {
	if o == nil {
		o = &Options{}
	}
	type chart struct {
		Title string
		SVG   template.HTML
	}
	var charts []chart
	for _, c := range Charts {
		var b bytes.Buffer
		if err := SVG(&b, rep, c); err != nil {
			return err
		}
		// SVG escapes every text it draws (xml.EscapeText).
		charts = append(charts, chart{Title(c, rep), template.HTML(b.String())})
	}
	return dashboard.Execute(w, map[string]any{
		"R": rep, "Provider": short(o.Provider, 120), "At": rep.At.UTC().Format("2006-01-02 15:04:05"),
		"CSP": dashboardCSP, "CSS": template.CSS(dashboardCSS), "Charts": charts,
	})
}
