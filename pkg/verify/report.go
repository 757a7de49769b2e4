package verify

import (
	"fmt"
	"io"
	"strings"
	"time"
)

// WriteText writes the report for a person: a verdict for the document,
// then for each signature who signed, when, what it covers, the level, the
// verdict and why.
func (r *Report) WriteText(w io.Writer, name string) error {
	var b strings.Builder
	verdict := "VALID: every signature passed"
	if !r.Valid {
		verdict = "NOT VALID: at least one signature did not pass"
	}
	fmt.Fprintf(&b, "%s: %s\n", name, verdict)
	fmt.Fprintf(&b, "%d bytes, %d revisions, %d signatures; validated at %s\n", r.Size, r.Revisions, len(r.Signatures), r.ValidationTime.Format(time.RFC3339))
	for i, s := range r.Signatures {
		kind := "Signature"
		if s.Kind == KindDocumentTimestamp {
			kind = "Document time-stamp"
		}
		fmt.Fprintf(&b, "\n%s #%d, field %q\n", kind, i+1, s.Field)
		line := func(k, v string) {
			if v != "" {
				fmt.Fprintf(&b, "  %-15s %s\n", k+":", v)
			}
		}
		verdict := string(s.Indication)
		if s.SubIndication != "" {
			verdict += " / " + string(s.SubIndication)
		}
		line("Verdict", verdict)
		if s.Signer != nil {
			who := s.Signer.Name
			switch {
			case s.Signer.CCCD != "":
				who += ", CCCD " + s.Signer.CCCD
			case s.Signer.MST != "":
				who += ", MST " + s.Signer.MST
			}
			line("Signed by", who)
			line("Issued by", s.Signer.Issuer)
			line("Certificate", fmt.Sprintf("serial %s, valid %s to %s", s.Signer.Serial, s.Signer.NotBefore.Format(time.DateOnly), s.Signer.NotAfter.Format(time.DateOnly)))
		}
		if s.ClaimedTime != nil {
			line("Claimed time", s.ClaimedTime.Format(time.RFC3339)+" (stated by the signer, not proven)")
		}
		if s.TimestampTime != nil {
			line("Time-stamped", s.TimestampTime.UTC().Format(time.RFC3339))
		}
		line("Stated reason", s.Reason)
		line("Location", s.Location)
		line("Level", s.Level)
		if s.Certification > 0 {
			line("Certification", fmt.Sprintf("DocMDP P=%d", s.Certification))
		}
		cover := fmt.Sprintf("revision %d of %d", s.Revision, r.Revisions)
		if s.CoversWholeDocument {
			cover += ", the whole document"
		} else if s.Revision > 0 {
			cover += "; later revisions were analysed"
		}
		line("Covers", cover)
		for _, x := range s.Reasons {
			line("Reason failed", x)
		}
		for _, x := range s.Changes {
			line("Change", x)
		}
		for _, x := range s.AllowedChanges {
			line("Allowed change", x.Text)
		}
		for _, x := range s.Warnings {
			line("Warning", x)
		}
	}
	_, err := io.WriteString(w, b.String())
	return err
}
