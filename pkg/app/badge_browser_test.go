package app_test

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"github.com/kyso-pki/kyso/internal/testenv"
	"github.com/kyso-pki/kyso/pkg/staff"
)

// TestBadgeInBrowser opens, at phone and desktop size, the page of a
// valid, a revoked, a forged and an expired badge, each reached through
// the URL decoded from the badge's QR code: the verdict's words and
// colour, the photo drawn, and every page's screenshot, axe-core,
// same-origin requests, no overflow and the Nu checker.
func TestBadgeInBrowser(t *testing.T) {
	b := newBadgeEnv(t)
	srv := serveLocal(t, b.app)
	br := testenv.StartBrowser(t)
	var html []string
	for _, vp := range []testenv.Viewport{testenv.Phone, testenv.Desktop} {
		t.Run(vp.Name, func(t *testing.T) {
			ctx := context.Background()
			valid := b.staff.Add(t, b.clock(), "Nguyễn Thị Hồng Nhung", "26734", "26737")
			revoked := b.staff.Add(t, b.clock(), "Trần Văn Đức")
			validPath, revokedPath := b.badgePath(t, valid.ID), b.badgePath(t, revoked.ID)
			if err := b.staff.Svc.Revoke(ctx, "officer-1", revoked.ID, "nghỉ việc"); err != nil {
				t.Fatal(err)
			}
			for _, c := range []struct {
				name, path, verdict, reason, color string
				photo                              bool
			}{
				{"valid", validPath, "Được phép cấp chữ ký số", "", "rgb(22, 99, 47)", true},
				{"revoked", revokedPath, "KHÔNG được phép cấp chữ ký số", "đã bị thu hồi", "rgb(165, 14, 14)", true},
				{"forged", validPath[:len(validPath)-4] + "AAAA", "KHÔNG được phép cấp chữ ký số", "thẻ giả", "rgb(165, 14, 14)", false},
			} {
				p := br.Open(t, vp, srv.URL+c.path, nil)
				checkBadge(t, p, c.name, c.verdict, c.reason, c.color, c.photo)
				html = append(html, p.Check("badge-"+c.name))
			}
			b.now.Store(b.clock().Add(staff.DefaultBadgeLifetime + time.Minute).UnixNano())
			p := br.Open(t, vp, srv.URL+validPath, nil)
			checkBadge(t, p, "expired", "KHÔNG được phép cấp chữ ký số", "hết hạn", "rgb(165, 14, 14)", true)
			html = append(html, p.Check("badge-expired"))
		})
	}
	testenv.CheckHTML(t, html...)
}

// checkBadge checks the verdict's words, its border's colour, the reason
// shown, and that the photo is drawn (or that there is none).
func checkBadge(t *testing.T, p *testenv.Page, name, verdict, reason, color string, photo bool) {
	t.Helper()
	if got := text(p, "#verdict"); !strings.Contains(got, verdict) {
		t.Errorf("%s: the verdict says %q, want %q", name, got, verdict)
	}
	if reason != "" {
		if got := text(p, "#reason"); !strings.Contains(got, reason) {
			t.Errorf("%s: the reason says %q, want %q", name, got, reason)
		}
		if got := text(p, ".report"); !strings.Contains(got, "1900 1234") {
			t.Errorf("%s: how to report says %q", name, got)
		}
	}
	if got := testenv.Act(p, chromedp.Evaluate[string](`getComputedStyle(document.querySelector(".badge")).borderTopColor`)); got != color {
		t.Errorf("%s: the badge's border is %s, want %s", name, got, color)
	}
	drawn := testenv.Act(p, chromedp.Evaluate[bool](`(() => { const i = document.querySelector("img.photo"); return !!i && i.complete && i.naturalWidth === 60 })()`))
	if drawn != photo {
		t.Errorf("%s: photo drawn = %v, want %v", name, drawn, photo)
	}
}
