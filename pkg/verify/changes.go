package verify

import (
	"bytes"
	"encoding/xml"
	"errors"
	"fmt"
	"io"
	"maps"
	"slices"
	"strings"

	"github.com/kyso-pki/kyso/pkg/pdf"
)

// maxChanges bounds the changes reported for one signature.
const maxChanges = 50

// checkChanges analyses what the revisions after a signature changed
// (ISO 32000-2 §12.8.2.2, ETSI EN 319 142-1 clause 5.4): later signatures,
// validation data (DSS) and document time-stamps are always allowed, form
// filling when the document's DocMDP permission is 2 or 3 (2 when the
// document is not certified), annotations when it is 3. Anything else —
// changed page content, redefined objects, replaced catalogs or page
// trees, added pages, removed objects — means the signature no longer
// covers what the document shows.
func (v *validation) checkChanges(s *sigState) {
	old, err := v.revision(v.ends[s.rev].end)
	if err != nil {
		return // check reported it
	}
	d := &differ{old: old, cur: v.final, perm: v.permission(s), roles: map[int]role{}, apUses: map[int][]apUse{}}
	d.run()
	s.report.AllowedChanges = d.allowed
	if len(d.changes) == 0 {
		return
	}
	for _, c := range d.changes {
		s.report.Changes = append(s.report.Changes, c.Text)
	}
	s.report.ChangeDetails = d.changes
	s.failWith(TotalFailed, SigConstraintsFailure, note(CodeChangedAfterSigning, params("first", d.changes[0].Text, "count", len(d.changes)),
		"the document was changed after this signature in ways its permissions (DocMDP P=%d) do not allow: %s", d.perm, d.changes[0].Text))
}

// permission is the DocMDP level for changes after s: that of the
// document's certification signature if it is s or comes before it,
// otherwise 2 (form filling and signing).
func (v *validation) permission(s *sigState) int {
	for _, c := range v.sigs {
		if c.report.Certification > 0 && c.end <= s.end {
			return c.report.Certification
		}
	}
	return 2
}

// roleKind says what an object of the signed revision is for.
type roleKind int

const (
	roleOther roleKind = iota
	roleCatalog
	roleAcroForm
	roleFieldsArray
	rolePage
	roleAnnotsArray
	roleField
	roleSigField
	roleWidget
	roleAnnotation
	roleAppearance
	roleSigAppearance
	roleSignature
	roleDSS
	roleInfo
	roleMetadata
)

type role struct {
	kind roleKind
	name string // for messages: "page 2", "field Name"
	// target and arg say name for a translation: a key of targetNames and
	// the page number or field name it holds.
	target, arg string
}

// targetNames are the English names of the objects a change names, by
// the target key a presenter translates; {arg} is a page number or a
// field's name.
var targetNames = map[string]string{
	"catalog":               "the catalog",
	"info":                  "the document information",
	"metadata":              "the XMP metadata",
	"dss":                   "the DSS",
	"acroform":              "the interactive form",
	"fields":                "the form's field list",
	"field":                 "field {arg}",
	"field_appearance":      "an appearance of field {arg}",
	"signature":             "the signature of field {arg}",
	"field_widget":          "a widget of field {arg}",
	"page":                  "page {arg}",
	"page_annots":           "the annotations of page {arg}",
	"page_widget":           "a widget on page {arg}",
	"page_annot":            "an annotation on page {arg}",
	"page_annot_appearance": "an annotation's appearance on page {arg}",
}

// changeKinds are the kinds of CodeChange findings, their what parameter.
var changeKinds = []string{
	"root", "encryption", "duplicate", "deleted", "object_deleted", "unreadable", "page_count", "page_tree",
	"rewritten", "signed", "filled", "appearance", "changed", "appearance_shared", "replaced", "key", "field_removed", "field_added",
	"sig_field_added", "annot_removed", "annot_direct", "annot_not_dict", "widget_added", "annot_added",
	"metadata_direct", "not_stream", "metadata_unreadable", "not_xmp", "object_dict_typed", "object_dict",
	"object_stream_typed", "object_stream", "object_other",
}

// ChangeKinds returns the kinds of CodeChange findings (their what
// parameter), for presenters to check they translate each.
func ChangeKinds() []string { return slices.Clone(changeKinds) }

// newRole is a role of kind named by target (a key of targetNames) and
// arg.
func newRole(kind roleKind, target string, arg any) role {
	a := fmt.Sprint(arg)
	if arg == nil {
		a = ""
	}
	return role{kind: kind, name: strings.ReplaceAll(targetNames[target], "{arg}", a), target: target, arg: a}
}

// TargetNames returns the English names of the objects a change finding
// (CodeChange) names by its target parameter, {arg} standing for its arg
// parameter: for presenters to check they translate each.
func TargetNames() map[string]string { return maps.Clone(targetNames) }

// differ compares the signed revision old with the current document.
type differ struct {
	old, cur *pdf.Reader
	perm     int
	roles    map[int]role
	changes  []Finding
	// reported counts the changes reported, beyond maxChanges too.
	reported int
	// allowed are the changes allowed, each with the rule that allows it.
	allowed []Finding
	// p3 is set when DocMDP P=3 allowed an annotation change.
	p3 bool
	// apUses are, by appearance stream, where the signed revision refers
	// to it from a field's widget: the places (object and keys) and the
	// fields whose widgets use it.
	apUses map[int][]apUse
	// refs counts, lazily, the references to each object number in the
	// signed revision's objects.
	refs map[int]int
}

// apUse is one reference to an appearance stream from a field's /AP.
type apUse struct {
	place    string // the object holding the reference and the keys to it
	field    int    // the field's object number
	sig      bool   // a signature field
	stateful bool   // the widget has /AS: a check box or radio button
}

// report records a change not allowed: a CodeChange finding of kind
// what with params kv, and the English text.
func (d *differ) report(what string, kv []any, format string, args ...any) {
	if !slices.Contains(changeKinds, what) {
		panic("verify: change kind " + what + " is not in changeKinds")
	}
	d.reported++
	if len(d.changes) < maxChanges {
		d.changes = append(d.changes, note(CodeChange, params(append([]any{"what", what}, kv...)...), format, args...))
	}
}

// ChangeRules are the rules that allow a change after signing, by the
// rule parameter of a CodeAllowedChange finding, in English: pyHanko's
// difference rules (its DEFAULT_DIFF_POLICY), which kyso's change
// analysis follows, and DocMDP P=3 for annotations.
func ChangeRules() map[string]string { return maps.Clone(changeRules) }

var changeRules = map[string]string{
	"dss":                 "pyHanko's DSSCompareRule (validation data added to the DSS)",
	"docinfo":             "pyHanko's DocInfoRule (the document information)",
	"metadata":            "pyHanko's MetadataUpdateRule (well-formed XMP metadata)",
	"catalog":             "pyHanko's CatalogModificationRule (/AcroForm, /DSS, /Extensions, /Metadata, /MarkInfo and /Version only)",
	"sig_field_creation":  "pyHanko's SigFieldCreationRule (a new signature field and its widget)",
	"sig_field":           "pyHanko's SigFieldModificationRule (an empty signature field signed)",
	"field":               "pyHanko's GenericFieldModificationRule (form filling)",
	"appearance_in_place": "pyHanko's in-place appearance update (a field's own appearance stream redrawn as it is filled in or signed)",
	"annotations":         "DocMDP P=3 (annotations, ISO 32000-2 §12.8.2.2)",
}

// allow records that the change of the object r names is allowed by
// rule, a key of changeRules.
func (d *differ) allow(r role, rule string) {
	if len(d.allowed) < maxChanges {
		d.allowed = append(d.allowed, note(CodeAllowedChange, params("target", r.target, "arg", r.arg, "rule", rule),
			"%s was changed, as %s allows", r.name, changeRules[rule]))
	}
}

// on is the params naming r, for report.
func on(r role, kv ...any) []any {
	return append([]any{"target", r.target, "arg", r.arg}, kv...)
}

func (d *differ) set(o pdf.Object, r role) {
	ref, ok := o.(pdf.Ref)
	if !ok {
		return
	}
	if _, done := d.roles[ref.Num]; !done {
		d.roles[ref.Num] = r
	}
}

// classify gives roles to the objects of the signed revision.
func (d *differ) classify() {
	rd := d.old
	cat, catRef, err := rd.Catalog()
	if err != nil {
		return
	}
	d.roles[catRef.Num] = newRole(roleCatalog, "catalog", nil)
	d.set(rd.Trailer().Get("Info"), newRole(roleInfo, "info", nil))
	d.set(cat.Get("Metadata"), newRole(roleMetadata, "metadata", nil))
	d.set(cat.Get("DSS"), newRole(roleDSS, "dss", nil))
	if dss, _ := rd.Get(cat.Get("DSS")); dss != nil {
		if dd, ok := dss.(*pdf.Dict); ok {
			for _, k := range dd.Keys() {
				d.set(dd.Get(k), newRole(roleDSS, "dss", nil))
			}
		}
	}
	d.set(cat.Get("AcroForm"), newRole(roleAcroForm, "acroform", nil))
	if af, _, err := rd.AcroForm(); err == nil && af != nil {
		d.set(af.Get("Fields"), newRole(roleFieldsArray, "fields", nil))
	}
	if fields, err := rd.Fields(); err == nil {
		for _, f := range fields {
			r := newRole(roleField, "field", f.Name)
			ap := newRole(roleAppearance, "field_appearance", f.Name)
			if f.IsSignature() {
				r.kind, ap.kind = roleSigField, roleSigAppearance
				d.set(f.Value, newRole(roleSignature, "signature", f.Name))
			}
			d.roles[f.Ref.Num] = r
			use := apUse{field: f.Ref.Num, sig: f.IsSignature()}
			d.appearances(f.Ref, f.Dict, ap, &use)
			if kids, _ := rd.Get(f.Dict.Get("Kids")); kids != nil {
				if arr, ok := kids.(pdf.Array); ok {
					for _, k := range arr {
						d.set(k, newRole(roleWidget, "field_widget", f.Name))
						if kd, _ := rd.Get(k); kd != nil {
							if kdd, ok := kd.(*pdf.Dict); ok {
								d.appearances(k, kdd, ap, &use)
							}
						}
					}
				}
			}
		}
	}
	pages, err := rd.Pages()
	if err != nil {
		return
	}
	for i, p := range pages {
		d.roles[p.Ref.Num] = newRole(rolePage, "page", i+1)
		d.set(p.Dict.Get("Annots"), newRole(roleAnnotsArray, "page_annots", i+1))
		annots, _ := rd.Get(p.Dict.Get("Annots"))
		arr, _ := annots.(pdf.Array)
		for _, a := range arr {
			ad, _ := rd.Get(a)
			add, ok := ad.(*pdf.Dict)
			if !ok {
				continue
			}
			if add.Get("Subtype") == pdf.Name("Widget") {
				d.set(a, newRole(roleWidget, "page_widget", i+1))
			} else {
				d.set(a, newRole(roleAnnotation, "page_annot", i+1))
				d.appearances(a, add, newRole(roleAppearance, "page_annot_appearance", i+1), nil)
			}
		}
	}
}

// appearances gives r to the appearance streams of an annotation's /AP;
// for a field's widget (use not nil), it records each reference to them
// in apUses.
func (d *differ) appearances(ref pdf.Object, annot *pdf.Dict, r role, use *apUse) {
	holder := fmt.Sprint(ref, "/AP")
	if apRef, ok := annot.Get("AP").(pdf.Ref); ok {
		holder = apRef.String()
	}
	ap, _ := d.old.Get(annot.Get("AP"))
	apd, ok := ap.(*pdf.Dict)
	if !ok {
		return
	}
	record := func(o pdf.Object, place string) {
		d.set(o, r)
		if sr, ok := o.(pdf.Ref); ok && use != nil {
			u := *use
			u.place, u.stateful = place, annot.Get("AS") != nil
			d.apUses[sr.Num] = append(d.apUses[sr.Num], u)
		}
	}
	for _, k := range apd.Keys() {
		record(apd.Get(k), holder+"/"+string(k))
		sub, _ := d.old.Get(apd.Get(k))
		if sd, ok := sub.(*pdf.Dict); ok { // appearance states
			place := holder + "/" + string(k)
			if sr, ok := apd.Get(k).(pdf.Ref); ok {
				place = sr.String()
			}
			for _, sk := range sd.Keys() {
				record(sd.Get(sk), place+"/"+string(sk))
			}
		}
	}
}

// appearanceInPlace reports whether a field's appearance stream num,
// rewritten in its own object, is a change pyHanko's difference analysis
// allows (its in-place appearance update, checked by
// GenericFieldModificationRule and SigFieldModificationRule): every
// reference to the stream in the signed revision is from the /AP of a
// field's widget, none a check box's or radio button's (those switch
// /AS among their appearances, never redraw one), and each signature
// field among them is signed only now. A stream reused by a signature
// field that stays unsigned, or by a signed one, or drawn on a page, may
// not change.
func (d *differ) appearanceInPlace(num int) bool {
	uses := d.apUses[num]
	places := map[string]bool{}
	for _, u := range uses {
		places[u.place] = true
		if u.stateful || (u.sig && !d.signedNow(u.field)) {
			return false
		}
	}
	return len(uses) > 0 && d.refCount(num) == len(places)
}

// signedNow reports whether the signature field num was unsigned in the
// signed revision and is signed now.
func (d *differ) signedNow(num int) bool {
	was, _ := d.old.Resolve(pdf.Ref{Num: num})
	now, _ := d.cur.Resolve(pdf.Ref{Num: num})
	wd, ok1 := was.(*pdf.Dict)
	nd, ok2 := now.(*pdf.Dict)
	return ok1 && ok2 && wd.Get("V") == nil && nd.Get("V") != nil
}

// maxRefScan bounds the objects refCount reads.
const maxRefScan = 1 << 20

// refCount is how many references to object num the objects of the
// signed revision and its trailer hold; counted for every object on first
// use, which only a rewritten appearance stream asks for.
func (d *differ) refCount(num int) int {
	if d.refs == nil {
		d.refs = map[int]int{}
		var walk func(o pdf.Object, depth int)
		walk = func(o pdf.Object, depth int) {
			if depth > 64 {
				return
			}
			switch x := o.(type) {
			case pdf.Ref:
				d.refs[x.Num]++
			case *pdf.Dict:
				for _, k := range x.Keys() {
					walk(x.Get(k), depth+1)
				}
			case pdf.Array:
				for _, e := range x {
					walk(e, depth+1)
				}
			case *pdf.Stream:
				walk(x.Dict, depth+1)
			}
		}
		walk(d.old.Trailer(), 0)
		for i, ref := range d.old.Objects() {
			if i == maxRefScan {
				break
			}
			if o, err := d.old.Resolve(ref); err == nil {
				walk(o, 0)
			}
		}
	}
	return d.refs[num]
}

// run compares every object of both revisions.
func (d *differ) run() {
	d.classify()
	oldRoot, _ := d.old.Trailer().Get("Root").(pdf.Ref)
	curRoot, _ := d.cur.Trailer().Get("Root").(pdf.Ref)
	if oldRoot != curRoot {
		// A writer may put the catalog in a new object: it is judged
		// against the signed one as a change of it (pyHanko's
		// CatalogModificationRule compares the catalogs' contents).
		a, errA := d.old.Resolve(oldRoot)
		b, errB := d.cur.Resolve(curRoot)
		if _, ok := b.(*pdf.Dict); errA != nil || errB != nil || !ok || d.roles[curRoot.Num].kind != roleOther {
			d.report("root", []any{"now", curRoot.String(), "was", oldRoot.String()}, "the trailer's /Root now points to another catalog (%v instead of %v)", curRoot, oldRoot)
		} else if !d.equal(a, b, 0) {
			d.judge(oldRoot.Num, a, b)
		}
	}
	if d.cur.Trailer().Get("Encrypt") != nil && d.old.Trailer().Get("Encrypt") == nil {
		d.report("encryption", nil, "encryption was added")
	}
	oldDups := map[int]bool{}
	for _, n := range d.old.Duplicates() {
		oldDups[n] = true
	}
	for _, n := range d.cur.Duplicates() {
		if !oldDups[n] {
			d.report("duplicate", []any{"object", n}, "object %d is defined twice in one cross-reference section, which readers resolve differently", n)
		}
	}
	curNums := map[int]bool{}
	for _, ref := range d.cur.Objects() {
		curNums[ref.Num] = true
	}
	for _, ref := range d.old.Objects() {
		if !curNums[ref.Num] && d.roles[ref.Num].kind != roleOther {
			d.report("deleted", on(d.roles[ref.Num], "object", ref.Num), "%s (object %d) was deleted", d.roles[ref.Num].name, ref.Num)
		} else if !curNums[ref.Num] && !d.structural(ref) {
			d.report("object_deleted", []any{"object", ref.Num}, "object %d was deleted", ref.Num)
		}
	}
	for _, ref := range d.cur.Objects() {
		if len(d.changes) >= maxChanges {
			return
		}
		ol, inOld := d.old.Where(ref.Num)
		if !inOld {
			continue // a new object: judged through what refers to it
		}
		if cl, _ := d.cur.Where(ref.Num); cl == ol && d.sameStream(ol) {
			continue
		}
		oldRef := pdf.Ref{Num: ref.Num, Gen: ol.Gen}
		a, errA := d.old.Resolve(oldRef)
		b, errB := d.cur.Resolve(ref)
		if errB != nil {
			d.report("unreadable", []any{"object", ref.Num, "detail", errB.Error()}, "object %d cannot be read any more: %v", ref.Num, errB)
			continue
		}
		if errA == nil && d.equal(a, b, 0) {
			continue
		}
		d.judge(ref.Num, a, b)
	}
	oldPages, err1 := d.old.Pages()
	curPages, err2 := d.cur.Pages()
	if err1 == nil && err2 == nil && len(oldPages) != len(curPages) {
		d.report("page_count", []any{"was", len(oldPages), "now", len(curPages)}, "the document had %d pages when signed and has %d now", len(oldPages), len(curPages))
	} else if err2 != nil {
		d.report("page_tree", []any{"detail", err2.Error()}, "the page tree cannot be read any more: %v", err2)
	}
}

// sameStream reports whether a compressed object's object stream is the
// same in both revisions.
func (d *differ) sameStream(l pdf.Location) bool {
	if !l.InStream {
		return true
	}
	a, ok1 := d.old.Where(l.Stream)
	b, ok2 := d.cur.Where(l.Stream)
	return ok1 && ok2 && a == b
}

// structural reports whether ref is a cross-reference or object stream,
// which an update may drop.
func (d *differ) structural(ref pdf.Ref) bool {
	o, err := d.old.Resolve(ref)
	st, ok := o.(*pdf.Stream)
	if err != nil || !ok {
		return false
	}
	t := st.Dict.Get("Type")
	return t == pdf.Name("XRef") || t == pdf.Name("ObjStm")
}

// judge decides whether a changed object was allowed to change, and
// records the rule that allowed it.
func (d *differ) judge(num int, a, b pdf.Object) {
	before := d.reported
	d.p3 = false
	rule := d.judgeRole(num, a, b)
	if d.reported == before && rule != "" {
		if d.p3 {
			rule = "annotations"
		}
		d.allow(d.roles[num], rule)
	}
}

// judgeRole reports what is not allowed of a change of object num, by
// its role, and returns the rule that allows the rest ("" when nothing
// does).
func (d *differ) judgeRole(num int, a, b pdf.Object) string {
	r := d.roles[num]
	switch r.kind {
	case roleDSS:
		return "dss"
	case roleInfo:
		return "docinfo"
	case roleMetadata:
		d.metadata(r, b)
		return "metadata"
	case roleCatalog:
		// pyHanko's CatalogModificationRule: /AcroForm, /DSS, /Extensions,
		// /Metadata, /MarkInfo and /Version may change, /AcroForm and
		// /Metadata as their own rules say.
		d.dictKeys(r, a, b, map[pdf.Name]bool{"AcroForm": true, "DSS": true, "Extensions": true, "Metadata": true, "MarkInfo": true, "Version": true})
		ad, _ := a.(*pdf.Dict)
		bd, _ := b.(*pdf.Dict)
		if ad != nil && bd != nil {
			if af, ok := ad.Get("AcroForm").(*pdf.Dict); ok {
				d.acroForm(af, bd.Get("AcroForm"))
			}
			if m := bd.Get("Metadata"); !d.equal(ad.Get("Metadata"), m, 0) {
				if _, ok := m.(pdf.Ref); !ok {
					d.report("metadata_direct", nil, "the catalog: /Metadata is not a reference to a stream")
				} else {
					o, _ := d.cur.Get(m)
					d.metadata(newRole(roleMetadata, "metadata", nil), o)
				}
			}
		}
		return "catalog"
	case roleAcroForm:
		d.acroForm(a, b)
		return "sig_field_creation"
	case roleFieldsArray:
		d.fieldList(r, a, b)
		return "sig_field_creation"
	case rolePage:
		d.dictKeys(r, a, b, map[pdf.Name]bool{"Annots": true})
		ad, _ := a.(*pdf.Dict)
		bd, _ := b.(*pdf.Dict)
		if ad != nil && bd != nil {
			oa, _ := d.old.Get(ad.Get("Annots"))
			ca, _ := d.cur.Get(bd.Get("Annots"))
			d.annotList(newRole(roleAnnotsArray, "page_annots", r.arg), oa, ca)
			if d.equal(ad.Get("Annots"), bd.Get("Annots"), 0) {
				// Only the spelling of numbers changed: nothing explains
				// writing the page again (pyHanko: an unexplained xref).
				d.report("rewritten", on(r), "%s was written again with no change that is allowed", r.name)
			}
		}
		return "sig_field_creation"
	case roleAnnotsArray:
		d.annotList(r, a, b)
		return "sig_field_creation"
	case roleSigField:
		ad, _ := a.(*pdf.Dict)
		if ad != nil && ad.Get("V") != nil {
			d.dictKeys(r, a, b, map[pdf.Name]bool{})
			return ""
		}
		d.dictKeys(r, a, b, map[pdf.Name]bool{"V": true, "AP": true, "AS": true, "F": true, "MK": true})
		if d.perm < 2 && !d.isDocTimestamp(b) {
			d.report("signed", on(r, "perm", d.perm), "%s was signed, which DocMDP P=%d forbids", r.name, d.perm)
		}
		return "sig_field"
	case roleField:
		d.dictKeys(r, a, b, map[pdf.Name]bool{"V": true, "AP": true, "AS": true, "MK": true})
		d.needPerm(2, "filled", on(r), "%s was filled in", r.name)
		return "field"
	case roleWidget:
		d.dictKeys(r, a, b, map[pdf.Name]bool{"AP": true, "AS": true, "MK": true})
		d.needPerm(2, "appearance", on(r), "%s changed its appearance", r.name)
		return "field"
	case roleAppearance:
		if r.target != "field_appearance" {
			d.needPerm(3, "changed", on(r), "%s was changed", r.name)
			return "annotations"
		}
		if !d.appearanceInPlace(num) {
			d.report("appearance_shared", on(r), "%s was changed, and is not a redrawing pyHanko's in-place appearance update allows: the stream is also used elsewhere, or by a check box or radio button", r.name)
			return ""
		}
		d.needPerm(2, "changed", on(r), "%s was changed", r.name)
		return "appearance_in_place"
	case roleAnnotation:
		d.needPerm(3, "changed", on(r), "%s was changed", r.name)
		return "annotations"
	case roleSigAppearance:
		if !d.appearanceInPlace(num) {
			d.report("appearance_shared", on(r), "%s was changed, and is not a redrawing pyHanko's in-place appearance update allows: the stream is also used elsewhere, or by a signature field not signed now", r.name)
			return ""
		}
		// The field is signed now and the stream is its own.
		d.needPerm(2, "changed", on(r), "%s was changed", r.name)
		return "appearance_in_place"
	case roleSignature:
		d.report("changed", on(r), "%s was changed", r.name)
	default:
		what, typ := describeObject(b)
		d.report(what, []any{"object", num, "type", typ}, "object %d (%s) was changed", num, describeObjectEnglish(what, typ))
	}
	return ""
}

// needPerm reports a change of kind what that DocMDP allows from P=p on,
// when the signature's permission is below.
func (d *differ) needPerm(p int, what string, kv []any, format string, args ...any) {
	if d.perm < p {
		d.report(what, append(kv, "perm", d.perm), format+fmt.Sprintf(", which DocMDP P=%d forbids", d.perm), args...)
	} else if p == 3 {
		d.p3 = true
	}
}

// dictKeys reports keys of r that changed other than those allowed.
func (d *differ) dictKeys(r role, a, b pdf.Object, allowed map[pdf.Name]bool) {
	ad, ok1 := a.(*pdf.Dict)
	bd, ok2 := b.(*pdf.Dict)
	if !ok1 || !ok2 {
		d.report("replaced", on(r), "%s was replaced by another kind of object", r.name)
		return
	}
	keys := slices.Clone(ad.Keys())
	for _, k := range bd.Keys() {
		if ad.Get(k) == nil {
			keys = append(keys, k)
		}
	}
	for _, k := range keys {
		if allowed[k] || d.sameValue(ad.Get(k), bd.Get(k)) {
			continue
		}
		d.report("key", on(r, "key", string(k)), "%s: /%s was changed", r.name, k)
	}
}

// acroForm checks a changed interactive form dictionary.
func (d *differ) acroForm(a, b pdf.Object) {
	ao, _ := d.old.Get(a)
	bo, _ := d.cur.Get(b)
	d.dictKeys(newRole(roleAcroForm, "acroform", nil), ao, bo, map[pdf.Name]bool{"Fields": true, "SigFlags": true, "DR": true, "DA": true, "NeedAppearances": true})
	ad, _ := ao.(*pdf.Dict)
	bd, _ := bo.(*pdf.Dict)
	if ad != nil && bd != nil {
		of, _ := d.old.Get(ad.Get("Fields"))
		cf, _ := d.cur.Get(bd.Get("Fields"))
		d.fieldList(newRole(roleFieldsArray, "fields", nil), of, cf)
	}
}

// fieldList allows new signature fields only; existing fields stay.
func (d *differ) fieldList(list role, a, b pdf.Object) {
	oa, _ := a.(pdf.Array)
	ca, _ := b.(pdf.Array)
	now := map[pdf.Ref]bool{}
	for _, o := range ca {
		if r, ok := o.(pdf.Ref); ok {
			now[r] = true
		}
	}
	before := map[pdf.Ref]bool{}
	for _, o := range oa {
		r, ok := o.(pdf.Ref)
		if !ok {
			continue
		}
		before[r] = true
		if !now[r] {
			d.report("field_removed", on(list, "ref", r.String()), "%s: field %v was removed", list.name, r)
		}
	}
	for r := range now {
		if before[r] {
			continue
		}
		fo, _ := d.cur.Resolve(r)
		fd, ok := fo.(*pdf.Dict)
		if !ok || fd.Get("FT") != pdf.Name("Sig") {
			d.report("field_added", on(list, "ref", r.String()), "%s: a field that is not a signature field was added (%v)", list.name, r)
			continue
		}
		if d.perm < 2 && !d.isDocTimestamp(fd) {
			d.report("sig_field_added", on(list, "perm", d.perm), "%s: a signature field was added, which DocMDP P=%d forbids", list.name, d.perm)
		}
	}
}

// annotList checks a page's changed annotation list: new widgets of
// signature fields are allowed, other annotations only with P=3.
func (d *differ) annotList(list role, a, b pdf.Object) {
	oa, _ := a.(pdf.Array)
	ca, _ := b.(pdf.Array)
	now := map[pdf.Ref]bool{}
	for _, o := range ca {
		if r, ok := o.(pdf.Ref); ok {
			now[r] = true
		}
	}
	before := map[pdf.Ref]bool{}
	for _, o := range oa {
		r, ok := o.(pdf.Ref)
		if !ok {
			continue
		}
		before[r] = true
		if !now[r] {
			d.needPerm(3, "annot_removed", on(list, "ref", r.String()), "%s: annotation %v was removed", list.name, r)
		}
	}
	for _, o := range ca {
		r, ok := o.(pdf.Ref)
		if !ok {
			d.report("annot_direct", on(list), "%s: an annotation that is not a reference was added", list.name)
			continue
		}
		if before[r] {
			continue
		}
		ao, _ := d.cur.Resolve(r)
		ad, ok := ao.(*pdf.Dict)
		if !ok {
			d.report("annot_not_dict", on(list, "ref", r.String()), "%s: an annotation %v that is not a dictionary was added", list.name, r)
			continue
		}
		if ad.Get("Subtype") == pdf.Name("Widget") {
			if d.sigWidget(ad) {
				continue
			}
			d.report("widget_added", on(list), "%s: a form field widget was added", list.name)
			continue
		}
		d.needPerm(3, "annot_added", on(list, "subtype", fmt.Sprint(ad.Get("Subtype"))), "%s: a %v annotation was added", list.name, ad.Get("Subtype"))
	}
}

// sigWidget reports whether a widget belongs to a signature field.
func (d *differ) sigWidget(w *pdf.Dict) bool {
	if w.Get("FT") == pdf.Name("Sig") {
		return true
	}
	p, _ := d.cur.Get(w.Get("Parent"))
	pd, ok := p.(*pdf.Dict)
	return ok && pd.Get("FT") == pdf.Name("Sig")
}

// isDocTimestamp reports whether a field's value is a document time-stamp.
func (d *differ) isDocTimestamp(field pdf.Object) bool {
	fd, ok := field.(*pdf.Dict)
	if !ok {
		return false
	}
	v, _ := d.cur.Get(fd.Get("V"))
	vd, ok := v.(*pdf.Dict)
	return ok && (vd.Get("Type") == pdf.Name("DocTimeStamp") || vd.Get("SubFilter") == pdf.Name("ETSI.RFC3161"))
}

// equal compares two objects of the two revisions; references compare by
// number, since changed objects are compared on their own. Numbers compare
// as written: an object written again with 612 for 612.0 has changed, as
// pyHanko's test of no-op rewrites says too.
func (d *differ) equal(a, b pdf.Object, depth int) bool { return d.eq(a, b, depth, false) }

// sameValue is equal with numbers compared by value, for the entries of
// an object that changed in an allowed way (a page given a new
// annotation): pyHanko's compare_dicts accepts /MediaBox [0 0 612.0 792]
// written again as 612.
func (d *differ) sameValue(a, b pdf.Object) bool { return d.eq(a, b, 0, true) }

func (d *differ) eq(a, b pdf.Object, depth int, values bool) bool {
	if depth > 64 {
		return false
	}
	switch x := a.(type) {
	case nil:
		return b == nil
	case *pdf.Dict:
		y, ok := b.(*pdf.Dict)
		if !ok || x.Len() != y.Len() {
			return false
		}
		for _, k := range x.Keys() {
			if !d.eq(x.Get(k), y.Get(k), depth+1, values) {
				return false
			}
		}
		return true
	case pdf.Array:
		y, ok := b.(pdf.Array)
		if !ok || len(x) != len(y) {
			return false
		}
		for i := range x {
			if !d.eq(x[i], y[i], depth+1, values) {
				return false
			}
		}
		return true
	case pdf.String:
		y, ok := b.(pdf.String)
		return ok && bytes.Equal(x.Value, y.Value)
	case pdf.Int, pdf.Real:
		if !values {
			return a == b
		}
		fx, okx := number(x)
		fy, oky := number(b)
		return okx && oky && fx == fy
	case *pdf.Stream:
		y, ok := b.(*pdf.Stream)
		if !ok || !d.eq(x.Dict, y.Dict, depth+1, values) {
			return false
		}
		xa, err1 := d.old.RawStreamData(x)
		ya, err2 := d.cur.RawStreamData(y)
		return err1 == nil && err2 == nil && bytes.Equal(xa, ya)
	default:
		return a == b
	}
}

// number is a PDF number's value.
func number(o pdf.Object) (float64, bool) {
	switch x := o.(type) {
	case pdf.Int:
		return float64(x), true
	case pdf.Real:
		return float64(x), true
	}
	return 0, false
}

// maxMetadata bounds the XMP metadata checked, decoded.
const maxMetadata = 4 << 20

// metadata checks a new or changed XMP metadata stream as pyHanko's
// MetadataUpdateRule does: a stream of well-formed XML, with no entity
// declarations, whose root is x:xmpmeta.
func (d *differ) metadata(r role, o pdf.Object) {
	st, ok := o.(*pdf.Stream)
	if !ok {
		d.report("not_stream", on(r), "%s is not a stream", r.name)
		return
	}
	data, err := d.cur.StreamData(st)
	if err != nil || len(data) > maxMetadata {
		if err == nil {
			err = fmt.Errorf("more than %d bytes", maxMetadata)
		}
		d.report("metadata_unreadable", on(r, "detail", err.Error()), "%s cannot be read (%v)", r.name, err)
		return
	}
	if err := checkXMP(data); err != nil {
		d.report("not_xmp", on(r, "detail", err.Error()), "%s was changed and is not XMP: %v", r.name, err)
	}
}

// checkXMP checks that data is well-formed XML without entity
// declarations whose root element is adobe:ns:meta/ xmpmeta.
func checkXMP(data []byte) error {
	dec := xml.NewDecoder(bytes.NewReader(data))
	dec.Strict = true
	root := false
	for depth := 0; ; {
		tok, err := dec.Token()
		if err == io.EOF {
			if !root || depth != 0 {
				return errors.New("no complete root element")
			}
			return nil
		}
		if err != nil {
			return err
		}
		switch t := tok.(type) {
		case xml.Directive:
			if bytes.Contains(t, []byte("ENTITY")) {
				return errors.New("it declares XML entities")
			}
		case xml.StartElement:
			if depth == 0 {
				if root {
					return errors.New("more than one root element")
				}
				if t.Name.Space != "adobe:ns:meta/" || t.Name.Local != "xmpmeta" {
					return fmt.Errorf("its root element is %s %s, not x:xmpmeta", t.Name.Space, t.Name.Local)
				}
				root = true
			}
			if depth++; depth > 256 {
				return errors.New("nested too deep")
			}
		case xml.EndElement:
			depth--
		}
	}
}

// describeObject says what kind of object an unexplained change is: the
// change's kind (a dictionary or a stream, with its /Type or without, or
// another object) and the /Type, or the Go type for another object.
func describeObject(o pdf.Object) (what, typ string) {
	switch x := o.(type) {
	case *pdf.Dict:
		if t, ok := x.Get("Type").(pdf.Name); ok {
			return "object_dict_typed", string(t)
		}
		return "object_dict", ""
	case *pdf.Stream:
		if t, ok := x.Dict.Get("Type").(pdf.Name); ok {
			return "object_stream_typed", string(t)
		}
		return "object_stream", ""
	}
	return "object_other", fmt.Sprintf("%T", o)
}

// describeObjectEnglish is describeObject's answer in English.
func describeObjectEnglish(what, typ string) string {
	switch what {
	case "object_dict_typed":
		return "a /" + typ + " dictionary"
	case "object_dict":
		return "a dictionary"
	case "object_stream_typed":
		return "a /" + typ + " stream"
	case "object_stream":
		return "a stream, such as page content"
	}
	return "a " + typ
}
