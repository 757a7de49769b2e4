// Package report presents a verify.Report to people and programs, in
// Vietnamese (the default) or English, as text, JSON or a self-contained
// HTML page, with what Circular 15/2025/TT-BKHCN (Article 6, Annex II)
// asks validation software to show for each signature: valid or not, the
// certification service provider, the signer and their CCCD or MST, the
// unit managing the certificate, the signing time and time-stamp, the
// document's integrity, the signature's validity at signing time, the
// certificate's validity period, and a warning when revocation status
// could not be checked.
//
// The JSON keeps every field of verify.Report as it is, with its English
// codes (ETSI EN 319 102-1 indications and sub-indications), and adds a
// "display" object, in the chosen language, to the report and to each
// signature.
package report

import (
	_ "embed"
	"encoding/json"
	"fmt"
	"html/template"
	"io"
	"strings"
	"sync"
	"time"
	"unicode"
	"unicode/utf8"

	"github.com/kyso-pki/kyso/pkg/display"
	"github.com/kyso-pki/kyso/pkg/verify"
)

// Lang is a report language.
type Lang string

// Languages.
const (
	Vietnamese Lang = "vi"
	English    Lang = "en"
)

// ParseLang reads a language tag: "vi" or "en"; empty means Vietnamese.
func ParseLang(s string) (Lang, error) {
	switch strings.ToLower(strings.TrimSpace(s)) {
	case "", "vi", "vi-vn":
		return Vietnamese, nil
	case "en", "en-us", "en-gb":
		return English, nil
	}
	return "", fmt.Errorf("report: language %q is not vi or en", s)
}

// Options choose how a report is presented. Nil, and the zero value,
// mean Vietnamese with every time in Vietnam's time.
type Options struct {
	// Lang is the language; empty means Vietnamese.
	Lang Lang
	// Zone is the time zone every time is shown in, with its offset from
	// UTC ("GMT+7"). Nil means Vietnam's time (Asia/Ho_Chi_Minh, GMT+7)
	// in either language — the zone a visible signature's stamp shows
	// by default (pkg/stamp) — whatever zone the host runs in.
	Zone *time.Location
}

// messages returns the texts of o's language, times in o's zone.
func (o *Options) messages() *messages {
	var opts Options
	if o != nil {
		opts = *o
	}
	m := *vi
	if opts.Lang == English {
		m = *en
	}
	m.zone = display.Zone(opts.Zone)
	return &m
}

// Status is the outcome of a signature or document, for styling and for
// programs: "valid", "invalid" or "indeterminate".
type Status string

// Statuses.
const (
	Valid         Status = "valid"
	Invalid       Status = "invalid"
	Indeterminate Status = "indeterminate"
)

// Document is a report's presentation in one language. Its texts are
// for people, so every one is display.Escape'd: what the signed PDF chose
// (field and signer names, reason, location) shows as written, control
// and bidirectional characters as \x1b and \u202e; the verify.Report
// beside it in JSON keeps them as they are.
type Document struct {
	// Lang is the language.
	Lang Lang `json:"lang"`
	// Title is the report's title; File the document's name.
	Title string `json:"title"`
	File  string `json:"file,omitempty"`
	// Status and Verdict are the document's outcome.
	Status  Status `json:"status"`
	Verdict string `json:"verdict"`
	// Summary gives the size, revisions, signatures and validation time.
	Summary string `json:"summary"`
	// Footer says what made the report.
	Footer string `json:"footer"`
	// Signatures are the presentations of each signature, in order.
	Signatures []*Signature `json:"-"`
}

// Signature is the presentation of one signature or document time-stamp.
// Each field is text in the document's language, empty when it does not
// apply.
type Signature struct {
	Heading string `json:"heading"`
	// Status and StatusText are the outcome: "Chữ ký hợp lệ"…
	Status     Status `json:"status"`
	StatusText string `json:"status_text"`
	// Indication and SubIndication are the ETSI verdict in words; the
	// codes stay in the signature's own fields.
	Indication    string `json:"indication"`
	SubIndication string `json:"sub_indication,omitempty"`
	// Signer is the signer's (or time-stamping unit's) name; SignerID
	// their CCCD or MST.
	Signer   string `json:"signer,omitempty"`
	SignerID string `json:"signer_id,omitempty"`
	// IssuingOrganization is the certification service provider: the
	// issuer's O, else its CN.
	IssuingOrganization string `json:"issuing_organization,omitempty"`
	// ManagingUnit is the unit managing the certificate: the subject's O
	// and OU, else the issuing organisation.
	ManagingUnit string `json:"managing_unit,omitempty"`
	Serial       string `json:"serial,omitempty"`
	// Validity is the certificate's validity period.
	Validity string `json:"certificate_validity,omitempty"`
	// SigningTime is the claimed time; Timestamp the time-stamp's.
	SigningTime string `json:"signing_time,omitempty"`
	Timestamp   string `json:"timestamp,omitempty"`
	// Integrity and ValidAtSigning answer Annex II's two questions.
	Integrity      string `json:"integrity"`
	ValidAtSigning string `json:"valid_at_signing_time"`
	Covers         string `json:"covers,omitempty"`
	Level          string `json:"level,omitempty"`
	Reason         string `json:"reason,omitempty"`
	Location       string `json:"location,omitempty"`
	Certified      string `json:"certified,omitempty"`
	// RevocationWarning is set when revocation status could not be
	// checked.
	RevocationWarning string `json:"revocation_warning,omitempty"`
	// Reasons and Warnings are the verdict's findings, translated;
	// Changes the changes after signing (in English: they name PDF
	// objects).
	Reasons  []string `json:"reasons,omitempty"`
	Warnings []string `json:"warnings,omitempty"`
	Changes  []string `json:"changes,omitempty"`
	// AllowedChanges are the changes after signing that rules allow,
	// each with the rule, translated.
	AllowedChanges []string `json:"allowed_changes,omitempty"`

	// Rows are the labelled lines shown to a person, in order.
	Rows []Row `json:"-"`
}

// Row is one labelled line of a signature's presentation.
type Row struct {
	Label, Value string
}

// Build presents rep, of the file named name (may be empty), as opts says.
func Build(rep *verify.Report, name string, opts *Options) *Document {
	m := opts.messages()
	d := &Document{Lang: Lang(m.lang), Title: m.title, File: name, Footer: m.generated}
	d.Summary = fmt.Sprintf(m.summary, rep.Size, rep.Revisions, len(rep.Signatures), m.time(rep.ValidationTime))
	failed, indet := false, false
	for i, s := range rep.Signatures {
		v := m.signature(rep, i, s)
		d.Signatures = append(d.Signatures, v)
		switch v.Status {
		case Invalid:
			failed = true
		case Indeterminate:
			indet = true
		}
	}
	switch {
	case rep.Valid:
		d.Status, d.Verdict = Valid, m.docValid
	case failed || !indet:
		d.Status, d.Verdict = Invalid, m.docInvalid
	default:
		d.Status, d.Verdict = Indeterminate, m.docIndeterminate
	}
	d.escape()
	return d
}

// escape writes every text of d through display.Escape. A signed PDF
// chooses its field names, its signers' names, its reason and location,
// and the file has a name of its own: none may clear the terminal that
// shows the report, start a line of its own ("Chữ ký hợp lệ") or reorder
// what a page shows with a bidirectional override.
func (d *Document) escape() {
	d.Title, d.File, d.Verdict, d.Summary, d.Footer = display.Escape(d.Title), display.Escape(d.File), display.Escape(d.Verdict), display.Escape(d.Summary), display.Escape(d.Footer)
	for _, s := range d.Signatures {
		for _, p := range []*string{&s.Heading, &s.StatusText, &s.Indication, &s.SubIndication, &s.Signer, &s.SignerID, &s.IssuingOrganization,
			&s.ManagingUnit, &s.Serial, &s.Validity, &s.SigningTime, &s.Timestamp, &s.Integrity, &s.ValidAtSigning, &s.Covers, &s.Level,
			&s.Reason, &s.Location, &s.Certified, &s.RevocationWarning} {
			*p = display.Escape(*p)
		}
		for _, list := range [][]string{s.Reasons, s.Warnings, s.Changes} {
			for i := range list {
				list[i] = display.Escape(list[i])
			}
		}
		for i := range s.Rows {
			s.Rows[i].Value = display.Escape(s.Rows[i].Value)
		}
	}
}

// time formats t in the report's zone, in the language's form.
func (m *messages) time(t time.Time) string { return m.clock(t, m.zone) }

func (m *messages) signature(rep *verify.Report, i int, s *verify.Signature) *Signature {
	v := &Signature{}
	ts := s.Kind == verify.KindDocumentTimestamp
	v.Heading = fmt.Sprintf(m.sigHeading, i+1)
	if ts {
		v.Heading = fmt.Sprintf(m.tsHeading, i+1)
	}
	if s.Field != "" {
		v.Heading += ", " + fmt.Sprintf(m.fieldName, s.Field)
	}
	passed, failed, indet := m.sigPassed, m.sigFailed, m.sigIndeterminate
	if ts {
		passed, failed, indet = m.tsPassed, m.tsFailed, m.tsIndeterminate
	}
	switch s.Indication {
	case verify.TotalPassed:
		v.Status, v.StatusText = Valid, passed
	case verify.TotalFailed:
		v.Status, v.StatusText = Invalid, failed
	default:
		v.Status, v.StatusText = Indeterminate, indet
	}
	v.Indication = m.indications[s.Indication]
	sub := ""
	if s.SubIndication != "" {
		sub = m.subText(s.SubIndication)
		v.SubIndication = sub
	}
	if c := s.Signer; c != nil {
		v.Signer = c.Name
		switch {
		case c.CCCD != "":
			v.SignerID = fmt.Sprintf(m.cccd, c.CCCD)
		case c.MST != "":
			v.SignerID = fmt.Sprintf(m.mst, c.MST)
		}
		v.IssuingOrganization = firstOf(c.IssuerOrganization, c.IssuerName, c.Issuer)
		v.ManagingUnit = strings.Join(nonEmpty(c.Organization, c.OrganizationalUnit), " – ")
		if v.ManagingUnit == "" {
			v.ManagingUnit = v.IssuingOrganization
		}
		v.Serial = c.Serial
		v.Validity = fmt.Sprintf(m.validityRange, m.time(c.NotBefore), m.time(c.NotAfter))
	}
	if s.ClaimedTime != nil {
		v.SigningTime = fmt.Sprintf(m.claimedNote, m.time(*s.ClaimedTime))
	}
	v.Timestamp = m.noTimestamp
	if s.TimestampTime != nil {
		v.Timestamp = m.time(*s.TimestampTime)
	}
	switch {
	case s.Intact == nil:
		v.Integrity = m.intactUnknown
	case !*s.Intact:
		v.Integrity = m.notIntact
	case len(s.Changes) > 0:
		v.Integrity = m.intactLaterBad
	case s.CoversWholeDocument:
		v.Integrity = m.intactWhole
	default:
		v.Integrity = m.intactLaterAllowed
	}
	switch {
	case s.Indication == verify.TotalPassed && s.TimestampTime != nil:
		v.ValidAtSigning = fmt.Sprintf(m.atSigningStamped, m.time(*s.TimestampTime))
	case s.Indication == verify.TotalPassed:
		v.ValidAtSigning = fmt.Sprintf(m.atSigningNow, m.time(rep.ValidationTime))
	case s.Indication == verify.TotalFailed:
		v.ValidAtSigning = fmt.Sprintf(m.atSigningInvalid, sub)
	default:
		v.ValidAtSigning = fmt.Sprintf(m.atSigningUnknown, sub)
	}
	if s.Revision > 0 {
		if s.CoversWholeDocument {
			v.Covers = fmt.Sprintf(m.coversWhole, s.Revision, rep.Revisions)
		} else {
			v.Covers = fmt.Sprintf(m.coversPart, s.Revision, rep.Revisions)
		}
	}
	v.Level, v.Reason, v.Location = s.Level, s.Reason, s.Location
	if s.Certification > 0 {
		v.Certified = fmt.Sprintf(m.certified, s.Certification)
	}
	for i, f := range details(s.ReasonDetails, s.Reasons) {
		v.Reasons = append(v.Reasons, m.finding(f, s.SubIndication, i == 0))
		if revocationUnknown(f.Code) {
			v.RevocationWarning = m.revocationWarning
		}
	}
	for _, f := range details(s.WarningDetails, s.Warnings) {
		v.Warnings = append(v.Warnings, m.finding(f, "", false))
		if revocationUnknown(f.Code) {
			v.RevocationWarning = m.revocationWarning
		}
	}
	for _, f := range details(s.ChangeDetails, s.Changes) {
		v.Changes = append(v.Changes, m.change(f)) // escaped below, the report left as it is
	}
	for _, f := range s.AllowedChanges {
		v.AllowedChanges = append(v.AllowedChanges, m.allowed(f))
	}

	etsi := string(s.Indication)
	if s.SubIndication != "" {
		etsi += " / " + string(s.SubIndication)
	}
	signer := m.lSigner
	if ts {
		signer = m.lTSA
	}
	v.Rows = rows(
		m.lStatus, v.StatusText,
		m.lETSI, etsi,
		signer, v.Signer,
		m.lID, v.SignerID,
		m.lIssuer, v.IssuingOrganization,
		m.lUnit, v.ManagingUnit,
		m.lSerial, v.Serial,
		m.lValidity, v.Validity,
		m.lClaimed, v.SigningTime,
		m.lTimestamp, v.Timestamp,
		m.lIntegrity, v.Integrity,
		m.lAtSigning, v.ValidAtSigning,
		m.lCovers, v.Covers,
		m.lLevel, v.Level,
		m.lReason, v.Reason,
		m.lLocation, v.Location,
		m.lCertified, v.Certified,
	)
	return v
}

// subText names a sub-indication; one the table lacks keeps its code.
func (m *messages) subText(s verify.SubIndication) string {
	if t, ok := m.sub[s]; ok {
		return t
	}
	return string(s)
}

// details pairs the coded findings with the plain reasons of a report
// that has none (one made before codes, or decoded from older JSON).
func details(fs []verify.Finding, texts []string) []verify.Finding {
	if len(fs) == len(texts) {
		return fs
	}
	out := make([]verify.Finding, len(texts))
	for i, t := range texts {
		out[i] = verify.Finding{Text: t}
	}
	return out
}

func revocationUnknown(c verify.Code) bool {
	return c == verify.CodeRevocationUnknown || c == verify.CodeRevocationUnknownExpired
}

// finding says f in the language: its code's template with the params,
// or, for a finding without a template, the sub-indication it decided
// (first) with the English text as detail, or the English text alone.
func (m *messages) finding(f verify.Finding, sub verify.SubIndication, first bool) string {
	if m.codes == nil {
		return f.Text
	}
	tmpl, ok := m.codes[string(f.Code)+"/"+f.Params["what"]]
	if !ok {
		tmpl, ok = m.codes[string(f.Code)]
	}
	if !ok || f.Code == "" {
		if first && sub != "" {
			return fmt.Sprintf(m.detail, m.subText(sub), f.Text)
		}
		return fmt.Sprintf(m.englishOnly, f.Text)
	}
	var kv []string
	for k, val := range f.Params {
		if t, err := time.Parse(time.RFC3339, val); err == nil {
			val = m.time(t)
		}
		if k == "reason" {
			if r, ok := m.revocationReasons[val]; ok {
				val = r
			}
		}
		kv = append(kv, "{"+k+"}", val)
	}
	return strings.NewReplacer(kv...).Replace(tmpl)
}

// change says a verify.CodeChange finding in the language: its kind's
// template, the object it names translated, and that DocMDP forbids it
// when it says by which permission; the English text for what the
// language has no template for.
func (m *messages) change(f verify.Finding) string {
	tmpl, ok := m.changes[f.Params["what"]]
	if m.changes == nil || f.Code != verify.CodeChange || !ok {
		if m.changes == nil {
			return f.Text
		}
		return fmt.Sprintf(m.englishOnly, f.Text)
	}
	if p, ok := f.Params["perm"]; ok {
		tmpl += strings.ReplaceAll(m.forbids, "{perm}", p)
	}
	var kv []string
	for k, val := range f.Params {
		if k == "target" {
			val = m.target(f)
		}
		kv = append(kv, "{"+k+"}", val)
	}
	return m.sentence(strings.NewReplacer(kv...).Replace(tmpl))
}

// allowed says a verify.CodeAllowedChange finding in the language.
func (m *messages) allowed(f verify.Finding) string {
	rule, ok := m.rules[f.Params["rule"]]
	if m.rules == nil || !ok {
		return f.Text
	}
	return m.sentence(strings.NewReplacer("{target}", m.target(f), "{rule}", rule).Replace(m.allowedChange))
}

// target names the object a change finding names, in the language.
func (m *messages) target(f verify.Finding) string {
	return strings.ReplaceAll(m.targets[f.Params["target"]], "{arg}", f.Params["arg"])
}

// sentence is s with its first letter a capital.
func (m *messages) sentence(s string) string {
	r, n := utf8.DecodeRuneInString(s)
	return string(unicode.ToUpper(r)) + s[n:]
}

func rows(kv ...string) []Row {
	var out []Row
	for i := 0; i+1 < len(kv); i += 2 {
		if kv[i+1] != "" {
			out = append(out, Row{kv[i], kv[i+1]})
		}
	}
	return out
}

func firstOf(ss ...string) string {
	for _, s := range ss {
		if s != "" {
			return s
		}
	}
	return ""
}

func nonEmpty(ss ...string) []string {
	var out []string
	for _, s := range ss {
		if s != "" {
			out = append(out, s)
		}
	}
	return out
}

// WriteText writes the report for a person, in lines.
func WriteText(w io.Writer, rep *verify.Report, name string, opts *Options) error {
	d := Build(rep, name, opts)
	m := opts.messages()
	var b strings.Builder
	if d.File != "" {
		fmt.Fprintf(&b, "%s: %s\n", d.File, d.Verdict)
	} else {
		fmt.Fprintf(&b, "%s\n", d.Verdict)
	}
	fmt.Fprintf(&b, "%s\n", d.Summary)
	for _, s := range d.Signatures {
		fmt.Fprintf(&b, "\n%s\n", s.Heading)
		if s.RevocationWarning != "" {
			fmt.Fprintf(&b, "  !! %s\n", s.RevocationWarning)
		}
		for _, r := range s.Rows {
			fmt.Fprintf(&b, "  %s: %s\n", r.Label, r.Value)
		}
		list := func(label string, xs []string) {
			if len(xs) == 0 {
				return
			}
			fmt.Fprintf(&b, "  %s:\n", label)
			for _, x := range xs {
				fmt.Fprintf(&b, "    - %s\n", x)
			}
		}
		list(m.lReasons, s.Reasons)
		list(m.lWarnings, s.Warnings)
		list(m.lChanges, s.Changes)
		list(m.lAllowed, s.AllowedChanges)
	}
	_, err := io.WriteString(w, b.String())
	return err
}

// jsonReport is verify.Report with a presentation beside each part.
type jsonReport struct {
	*verify.Report
	Signatures []jsonSignature `json:"signatures"`
	Display    *Document       `json:"display"`
}

type jsonSignature struct {
	*verify.Signature
	Display *Signature `json:"display"`
}

// WriteJSON writes rep as JSON, indented: every field of verify.Report,
// and "display" objects as opts says.
func WriteJSON(w io.Writer, rep *verify.Report, name string, opts *Options) error {
	d := Build(rep, name, opts)
	out := jsonReport{Report: rep, Display: d, Signatures: []jsonSignature{}}
	for i, s := range rep.Signatures {
		out.Signatures = append(out.Signatures, jsonSignature{Signature: s, Display: d.Signatures[i]})
	}
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	return enc.Encode(out)
}

//go:embed report.html
var pageSource string

// page is the HTML report: one file, its style inside, no script and
// nothing fetched from elsewhere. It is parsed on first use, so that the
// text and JSON reports (and every program linking this package) do not
// parse it at start-up.
var page = sync.OnceValue(func() *template.Template {
	return template.Must(template.New("report").Parse(pageSource))
})

// WriteHTML writes the report as a self-contained HTML page.
func WriteHTML(w io.Writer, rep *verify.Report, name string, opts *Options) error {
	d := Build(rep, name, opts)
	m := opts.messages()
	return page().Execute(w, struct {
		*Document
		Signatures                                                         []*Signature
		FileLabel, ReasonsLabel, WarningsLabel, ChangesLabel, AllowedLabel string
	}{d, d.Signatures, m.file, m.lReasons, m.lWarnings, m.lChanges, m.lAllowed})
}

// Format is an output format.
type Format string

// Formats.
const (
	Text Format = "text"
	JSON Format = "json"
	HTML Format = "html"
)

// ParseFormat reads "text", "json" or "html"; empty means text.
func ParseFormat(s string) (Format, error) {
	switch Format(strings.ToLower(s)) {
	case "", Text:
		return Text, nil
	case JSON:
		return JSON, nil
	case HTML:
		return HTML, nil
	}
	return "", fmt.Errorf("report: output %q is not text, json or html", s)
}

// Write writes rep in format f, as opts says.
func Write(w io.Writer, rep *verify.Report, name string, f Format, opts *Options) error {
	switch f {
	case JSON:
		return WriteJSON(w, rep, name, opts)
	case HTML:
		return WriteHTML(w, rep, name, opts)
	default:
		return WriteText(w, rep, name, opts)
	}
}
