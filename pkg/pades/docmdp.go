package pades

import (
	"fmt"

	"github.com/kyso-pki/kyso/pkg/pdf"
)

// checkPerms refuses to sign a document certified with DocMDP P=1, which
// allows no change at all (ISO 32000-2 §12.8.2.2.2, Table 257).
func checkPerms(rd *pdf.Reader, cat *pdf.Dict) error {
	po, err := rd.Get(cat.Get("Perms"))
	if err != nil {
		return nil
	}
	perms, ok := po.(*pdf.Dict)
	if !ok {
		return nil
	}
	so, err := rd.Get(perms.Get("DocMDP"))
	if err != nil {
		return nil
	}
	sd, ok := so.(*pdf.Dict)
	if !ok {
		return nil
	}
	refs, _ := sd.Get("Reference").(pdf.Array)
	for _, r := range refs {
		ro, err := rd.Get(r)
		if err != nil {
			continue
		}
		rdict, ok := ro.(*pdf.Dict)
		if !ok || rdict.Get("TransformMethod") != pdf.Name("DocMDP") {
			continue
		}
		tp, err := rd.Get(rdict.Get("TransformParams"))
		if err != nil {
			continue
		}
		if tpd, ok := tp.(*pdf.Dict); ok {
			if p, ok := tpd.Get("P").(pdf.Int); ok && p == 1 {
				return fmt.Errorf("pades: the document is certified with DocMDP P=1, which forbids any change: %w", ErrUnsupported)
			}
		}
	}
	return nil
}

// docMDPReference is the /Reference of a certification signature with
// DocMDP permissions p (ISO 32000-2 §12.8.2.2): one signature reference
// dictionary with /TransformParams /P p (Table 257).
func docMDPReference(p int) pdf.Array {
	params := pdf.NewDict()
	params.Set("Type", pdf.Name("TransformParams"))
	params.Set("P", pdf.Int(p))
	params.Set("V", pdf.Name("1.2"))
	ref := pdf.NewDict()
	ref.Set("Type", pdf.Name("SigRef"))
	ref.Set("TransformMethod", pdf.Name("DocMDP"))
	ref.Set("TransformParams", params)
	return pdf.Array{ref}
}

// docMDPPerms is the catalog's /Perms with /DocMDP pointing at the
// certification signature sig (ISO 32000-2 §12.8.2.2): a copy of the
// existing /Perms, if any, or a new dictionary.
func docMDPPerms(rd *pdf.Reader, cat *pdf.Dict, sig pdf.Ref) *pdf.Dict {
	perms := pdf.NewDict()
	if old, err := rd.Get(cat.Get("Perms")); err == nil {
		if od, ok := old.(*pdf.Dict); ok {
			perms = od.Clone()
		}
	}
	perms.Set("DocMDP", sig)
	return perms
}
