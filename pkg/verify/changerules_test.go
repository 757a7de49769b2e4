package verify_test

import (
	"fmt"
	"slices"
	"strings"
	"testing"

	"github.com/kyso-pki/kyso/hsm"
	"github.com/kyso-pki/kyso/internal/testpdf"
	"github.com/kyso-pki/kyso/pkg/pades"
	"github.com/kyso-pki/kyso/pkg/revocation"
	"github.com/kyso-pki/kyso/pkg/verify"
)

// taggedFormPDF is a tagged one-page form (ISO 32000-2 §14.7, §14.8): a
// structure tree whose Form element refers to the text field "ten" (its
// widget's /StructParent 1 in the /ParentTree), the page's text marked
// content, and two empty signature fields, Sig1 and Sig2, whose widgets
// reuse one appearance stream (object 15).
func taggedFormPDF() []byte {
	return testpdf.Objects(
		"<< /Type /Catalog /Pages 2 0 R /AcroForm << /Fields [6 0 R 11 0 R 12 0 R] /DA (/Helv 0 Tf 0 g) /DR << /Font << /Helv 5 0 R >> >> >> /MarkInfo << /Marked true >> /StructTreeRoot 8 0 R >>",
		"<< /Type /Pages /Kids [3 0 R] /Count 1 >>",
		"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 595 842] /Contents 4 0 R /Resources << /Font << /F1 5 0 R >> >> /Annots 7 0 R /StructParents 0 >>",
		flateStream("/P << /MCID 0 >> BDC BT /F1 24 Tf 72 720 Td (Don xin cap ho chieu) Tj ET EMC"),
		testpdf.Helvetica,
		"<< /FT /Tx /T (ten) /V (Nguyen) /Type /Annot /Subtype /Widget /Rect [72 600 300 620] /P 3 0 R /DA (/Helv 12 Tf 0 g) /StructParent 1 >>",
		"[6 0 R 11 0 R 12 0 R]",
		"<< /Type /StructTreeRoot /K 9 0 R /ParentTree 10 0 R /ParentTreeNextKey 2 >>",
		"<< /Type /StructElem /S /Document /P 8 0 R /K [13 0 R 14 0 R] >>",
		"<< /Nums [0 [13 0 R] 1 14 0 R] >>",
		"<< /FT /Sig /T (Sig1) /Type /Annot /Subtype /Widget /Rect [72 500 272 550] /P 3 0 R /F 4 /AP << /N 15 0 R >> >>",
		"<< /FT /Sig /T (Sig2) /Type /Annot /Subtype /Widget /Rect [300 500 500 550] /P 3 0 R /F 4 /AP << /N 15 0 R >> >>",
		"<< /Type /StructElem /S /P /P 9 0 R /Pg 3 0 R /K 0 >>",
		"<< /Type /StructElem /S /Form /P 9 0 R /Pg 3 0 R /K << /Type /OBJR /Obj 6 0 R >> >>",
		formXObject("0 0 1 rg 0 0 200 50 re f"),
	)
}

// formXObject is a form XObject of 200 by 50 points drawing content.
func formXObject(content string) string {
	return fmt.Sprintf("<< /Type /XObject /Subtype /Form /BBox [0 0 200 50] /Length %d >>\nstream\n%s\nendstream", len(content), content)
}

// appearanceFormPDF is a form whose widgets own or share appearance
// streams: text field "ten" its own (11), "ho" and "dem" one (12),
// signature fields SigOwn its own (13), SigShared and SigOther one (14),
// and "logo" one (16) that the page also draws as /Fm0.
func appearanceFormPDF() []byte {
	fields := "[6 0 R 7 0 R 8 0 R 9 0 R 10 0 R 15 0 R 17 0 R]"
	return testpdf.Objects(
		"<< /Type /Catalog /Pages 2 0 R /AcroForm << /Fields "+fields+" /DA (/Helv 0 Tf 0 g) /DR << /Font << /Helv 5 0 R >> >> >> >>",
		"<< /Type /Pages /Kids [3 0 R] /Count 1 >>",
		"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 595 842] /Contents 4 0 R /Resources << /Font << /F1 5 0 R >> /XObject << /Fm0 16 0 R >> >> /Annots "+fields+" >>",
		flateStream("BT /F1 24 Tf 72 720 Td (Don xin cap ho chieu) Tj ET q 1 0 0 1 72 400 cm /Fm0 Do Q"),
		testpdf.Helvetica,
		"<< /FT /Tx /T (ten) /V (Nguyen) /Type /Annot /Subtype /Widget /Rect [72 600 272 620] /P 3 0 R /DA (/Helv 12 Tf 0 g) /AP << /N 11 0 R >> >>",
		"<< /FT /Tx /T (ho) /Type /Annot /Subtype /Widget /Rect [72 570 272 590] /P 3 0 R /DA (/Helv 12 Tf 0 g) /AP << /N 12 0 R >> >>",
		"<< /FT /Tx /T (dem) /Type /Annot /Subtype /Widget /Rect [72 540 272 560] /P 3 0 R /DA (/Helv 12 Tf 0 g) /AP << /N 12 0 R >> >>",
		"<< /FT /Sig /T (SigOwn) /Type /Annot /Subtype /Widget /Rect [0 0 0 0] /P 3 0 R /F 4 /AP << /N 13 0 R >> >>",
		"<< /FT /Sig /T (SigShared) /Type /Annot /Subtype /Widget /Rect [0 0 0 0] /P 3 0 R /F 4 /AP << /N 14 0 R >> >>",
		formXObject("BT /Helv 12 Tf 2 5 Td (Nguyen) Tj ET"),
		formXObject(""),
		formXObject("0 0 1 rg 0 0 200 50 re f"),
		formXObject("0 0 1 rg 0 0 200 50 re f"),
		"<< /FT /Sig /T (SigOther) /Type /Annot /Subtype /Widget /Rect [0 0 0 0] /P 3 0 R /F 4 /AP << /N 14 0 R >> >>",
		formXObject("BT /Helv 12 Tf 2 5 Td (So tien: 1.000 dong) Tj ET"),
		"<< /FT /Tx /T (logo) /Type /Annot /Subtype /Widget /Rect [72 400 272 450] /P 3 0 R /DA (/Helv 12 Tf 0 g) /AP << /N 16 0 R >> >>",
	)
}

// TestChangeRulesAgreeWithPyhanko: later revisions that pyHanko writes
// to a tagged form and to forms whose widgets share appearance streams,
// judged by kyso's change analysis and by pyHanko's difference analysis
// (its DEFAULT_DIFF_POLICY, the reference): the first signature is intact
// for both, and kyso finds changes it does not allow exactly where
// pyHanko's docmdp_ok is false. Both allow form filling and new widgets
// in a tagged PDF, and both refuse updates of the structure tree (pyHanko
// has no rule for /StructTreeRoot, its elements or its /ParentTree: they
// are "unexplained xrefs"). An appearance stream rewritten in its own
// object as its signature field is signed is pyHanko's in-place
// appearance update (kyso failed it); one also used by another signature
// field, or drawn on the page, may not change. kyso names the rule that
// allowed each change (AllowedChanges).
func TestChangeRulesAgreeWithPyhanko(t *testing.T) {
	f := getFixture(t)
	p256 := f.citizen(t, hsm.ECDSAP256)
	foreign := newPyhankoSigner(t, f, t.TempDir())
	key := []string{foreign.keyPath, foreign.certPath, foreign.chainPath}
	tagged := f.sign(t, p256, taggedFormPDF(), &pades.SignOptions{Options: pades.Options{FieldName: "Sig1"}})
	forms := f.sign(t, p256, appearanceFormPDF(), nil)

	cases := []struct {
		name    string
		doc     []byte
		allowed bool
		// rule is one of the rules kyso must name as allowing a change.
		rule string
	}{
		// GenericFieldModificationRule: /V of a field the structure tree
		// refers to.
		{"tagged-filled", pyhankoUpdate(t, tagged, "fill"), true, "field"},
		// SigFieldModificationRule: Sig2, whose widget reuses Sig1's
		// appearance stream, signed without redrawing it.
		{"tagged-sig2-reused-appearance", pyhankoUpdate(t, tagged, "sign", append(key, "Sig2")...), true, "sig_field"},
		// SigFieldCreationRule: a new visible signature.
		{"tagged-new-widget", foreign.sign(t, tagged, "1/72,300,272,350/PyHankoVisible", true), true, "sig_field_creation"},
		// No rule: the new widget tagged, the structure tree updated.
		{"tagged-new-widget-in-structure-tree", pyhankoUpdate(t, tagged, "sign-tagged", append(key, "PyHankoTagged")...), false, ""},
		// In-place appearance updates.
		{"text-own-appearance-redrawn", pyhankoUpdate(t, forms, "ap-inplace", "ten"), true, "appearance_in_place"},
		{"text-shared-appearance-redrawn", pyhankoUpdate(t, forms, "ap-inplace", "ho"), true, "appearance_in_place"},
		{"sig-own-appearance-redrawn", pyhankoUpdate(t, forms, "ap-inplace", append([]string{"SigOwn"}, key...)...), true, "appearance_in_place"},
		{"sig-shared-appearance-redrawn", pyhankoUpdate(t, forms, "ap-inplace", append([]string{"SigShared"}, key...)...), false, ""},
		// The attacker's: what the page draws, changed as a field's look.
		{"page-drawn-appearance-redrawn", pyhankoUpdate(t, forms, "ap-inplace", "logo"), false, ""},
	}
	dir := t.TempDir()
	var paths []string
	for _, c := range cases {
		paths = append(paths, writeFile(t, dir, c.name+".pdf", c.doc))
	}
	py := runPyhanko(t, []string{writePEM(t, dir, "root.pem", f.p.Hierarchy.Root)}, []string{}, []string{}, paths)
	for i, c := range cases {
		rep := f.verifyWith(t, c.doc, &verify.Options{Roots: f.roots, Fetcher: &revocation.Fetcher{Client: f.srv.Client}})
		s := rep.Signatures[0]
		var ps *pySig
		for j := range py[i].Signatures {
			if py[i].Signatures[j].Field == s.Field {
				ps = &py[i].Signatures[j]
			}
		}
		if ps == nil || ps.DocMDPOK == nil || !ps.Intact || !ps.Valid {
			t.Errorf("%s: pyHanko says %+v of %s", c.name, ps, s.Field)
			continue
		}
		t.Logf("%s: kyso %s %s %q; pyHanko docmdp_ok %v, %s %s", c.name, s.Indication, s.SubIndication, s.Changes, *ps.DocMDPOK, ps.ModificationLevel, ps.Suspicious)
		if *ps.DocMDPOK != c.allowed {
			t.Errorf("%s: pyHanko's docmdp_ok is %v, the file was made to be %v", c.name, *ps.DocMDPOK, c.allowed)
		}
		switch {
		case c.allowed && (s.Indication != verify.TotalPassed || len(s.Changes) > 0):
			t.Errorf("%s: kyso says %s %s: %q", c.name, s.Indication, s.SubIndication, s.Reasons)
		case !c.allowed && (s.Indication != verify.TotalFailed || s.SubIndication != verify.SigConstraintsFailure || s.Intact == nil || !*s.Intact):
			t.Errorf("%s: kyso says %s %s: %q, want TOTAL-FAILED SIG_CONSTRAINTS_FAILURE, intact", c.name, s.Indication, s.SubIndication, s.Reasons)
		}
		for _, later := range rep.Signatures[1:] {
			if later.Indication != verify.TotalPassed {
				t.Errorf("%s: %s: %s %q", c.name, later.Field, later.Indication, later.Reasons)
			}
		}
		var rules []string
		for _, a := range s.AllowedChanges {
			rules = append(rules, a.Params["rule"])
			if a.Code != verify.CodeAllowedChange || verify.ChangeRules()[a.Params["rule"]] == "" || !strings.Contains(a.Text, verify.ChangeRules()[a.Params["rule"]]) {
				t.Errorf("%s: allowed change %+v", c.name, a)
			}
		}
		t.Logf("%s: allowed %q", c.name, rules)
		if c.rule != "" && !slices.Contains(rules, c.rule) {
			t.Errorf("%s: the rules named are %q, not %s", c.name, rules, c.rule)
		}
		if strings.Contains(c.name, "structure-tree") && !strings.Contains(strings.Join(s.Changes, "\n"), "/StructTreeRoot") {
			t.Errorf("%s: the changes do not name the structure tree: %q", c.name, s.Changes)
		}
	}
}
