package report_test

import (
	"strings"
	"testing"
	"time"

	"github.com/kyso-pki/kyso/pkg/verify"
	"github.com/kyso-pki/kyso/pkg/verify/report"
)

// TestHostileTextEscaped: a signed PDF chooses its field name, its
// signer's name (in a certificate from any CA), its reason and location,
// and cannot make the text or HTML report draw over the terminal, add a
// line of its own or reorder what the page shows. The JSON report keeps
// the values as the PDF holds them.
func TestHostileTextEscaped(t *testing.T) {
	at := time.Date(2026, 12, 6, 10, 0, 0, 0, time.UTC)
	rep := &verify.Report{Size: 1, Revisions: 1, ValidationTime: at, Signatures: []*verify.Signature{{
		Field:      "Sig\x1b[2J",
		Indication: verify.TotalFailed,
		Signer:     &verify.Signer{Name: "Nguyễn\u202eAN TOÀN", NotBefore: at, NotAfter: at},
		Reason:     "Đồng ý\nChữ ký hợp lệ",
		Location:   "Hà Nội\u200b",
		Changes:    []string{"page 1\x1b[0m"},
	}}}
	for _, f := range []report.Format{report.Text, report.HTML} {
		var b strings.Builder
		if err := report.Write(&b, rep, "hợp đồng\u202efdp.exe", f, nil); err != nil {
			t.Fatal(err)
		}
		out := b.String()
		if strings.ContainsAny(out, "\x1b\u202e\u200b") {
			t.Errorf("%s report carries the PDF's control characters:\n%q", f, out)
		}
		for _, want := range []string{`Sig\x1b[2J`, `Nguyễn\u202eAN TOÀN`, `Đồng ý\x0aChữ ký hợp lệ`, `Hà Nội\u200b`, `page 1\x1b[0m`, `hợp đồng\u202efdp.exe`} {
			if !strings.Contains(out, want) {
				t.Errorf("%s report lacks %q:\n%s", f, want, out)
			}
		}
	}
	var b strings.Builder
	if err := report.WriteJSON(&b, rep, "", nil); err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(b.String(), `"reason": "Đồng ý\nChữ ký hợp lệ"`) || rep.Signatures[0].Changes[0] != "page 1\x1b[0m" {
		t.Errorf("the report itself was changed:\n%s", b.String())
	}
}
