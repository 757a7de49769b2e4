package report_test

import (
	"strings"
	"testing"
	"time"

	"github.com/kyso-pki/kyso/pkg/verify"
	"github.com/kyso-pki/kyso/pkg/verify/report"
)

// TestZone: times are shown in Vietnam's time by default, in either
// language and whatever zone the report's times carry (a host's TZ), with
// the zone's offset; Options.Zone changes it.
func TestZone(t *testing.T) {
	newYork := time.FixedZone("EST", -5*3600)
	// 22:55:12 UTC on 6 December, held as a New York host holds it.
	rep := &verify.Report{Size: 1, Revisions: 1, ValidationTime: time.Date(2026, 12, 6, 17, 55, 12, 0, newYork)}
	for _, c := range []struct {
		name string
		opts *report.Options
		want string
	}{
		{"nil options", nil, "05:55:12 07/12/2026 (GMT+7)"},
		{"Vietnamese", &report.Options{Lang: report.Vietnamese}, "05:55:12 07/12/2026 (GMT+7)"},
		{"English", &report.Options{Lang: report.English}, "2026-12-07 05:55:12 (GMT+7)"},
		{"Vietnamese, New York", &report.Options{Zone: newYork}, "17:55:12 06/12/2026 (GMT-5)"},
		{"English, UTC", &report.Options{Lang: report.English, Zone: time.UTC}, "2026-12-06 22:55:12 (GMT)"},
	} {
		t.Run(c.name, func(t *testing.T) {
			var b strings.Builder
			if err := report.WriteText(&b, rep, "", c.opts); err != nil {
				t.Fatal(err)
			}
			if !strings.Contains(b.String(), c.want) {
				t.Errorf("the report says\n%s\nwant the validation time as %q", b.String(), c.want)
			}
		})
	}
}
