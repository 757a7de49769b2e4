package app_test

import (
	"context"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/kyso-pki/kyso/pkg/app"
	"github.com/kyso-pki/kyso/pkg/staff/stafftest"
)

// badgeEnv is the app with a staff registry: its badges link to the
// app's own server.
type badgeEnv struct {
	*env
	staff *stafftest.Env
}

func newBadgeEnv(t *testing.T) *badgeEnv {
	b := &badgeEnv{}
	var se *stafftest.Env
	b.env = newEnvWith(t, func(o *app.Options) {
		se = stafftest.New(t, "https://placeholder.test", func() time.Time { return b.env.clock() })
		o.Staff = se.Svc
		o.BadgeReport = app.BadgeReport{Phone: "1900 1234", URL: "https://kyso.example.vn/bao-cao"}
	})
	b.staff = se
	return b
}

// badgePath is the page a badge's QR code opens, read from the PNG.
func (b *badgeEnv) badgePath(t *testing.T, id string) string {
	t.Helper()
	bd, err := b.staff.Svc.Badge(context.Background(), "officer-1", id)
	if err != nil {
		t.Fatal(err)
	}
	u, err := url.Parse(stafftest.DecodeQR(t, bd.PNG))
	if err != nil || u.Path != app.BadgePath {
		t.Fatalf("the badge's QR code opens %v, not %s", u, app.BadgePath)
	}
	return u.RequestURI()
}

// TestBadgePage: a valid badge shows the person in green, with the
// photo; a revoked one is refused at the next check with how to report
// it; a forged one names no one and serves no photo; hostile text in a
// name is escaped; the ward check refuses a ward outside the person's.
func TestBadgePage(t *testing.T) {
	b := newBadgeEnv(t)
	now := b.env.clock()
	m := b.staff.Add(t, now, `<script>alert("x")</script> Nhung`, "26734")
	path := b.badgePath(t, m.ID)
	br := b.browser(t)
	code, body := br.get(path)
	if code != 200 || !strings.Contains(body, "Được phép cấp chữ ký số") || !strings.Contains(body, "badge-ok") {
		t.Fatalf("valid badge: %d %s", code, body)
	}
	if strings.Contains(body, "<script>alert") || !strings.Contains(body, "&lt;script&gt;alert(&#34;x&#34;)&lt;/script&gt; Nhung") {
		t.Fatalf("the name is not escaped: %s", body)
	}
	if code, _ := br.get(app.BadgePath + "/photo?" + url.Values{"t": {mustQuery(t, path, "t")}}.Encode()); code != 200 {
		t.Fatalf("photo of a valid badge: %d", code)
	}
	if _, body := br.get(path + "&ward=00004"); !strings.Contains(body, "badge-bad") || !strings.Contains(body, "không được phép làm việc tại phường") {
		t.Fatalf("a ward outside the person's: %s", body)
	}
	if err := b.staff.Svc.Revoke(context.Background(), "officer-1", m.ID, "lost badge"); err != nil {
		t.Fatal(err)
	}
	_, body = br.get(path)
	if !strings.Contains(body, "badge-bad") || !strings.Contains(body, "KHÔNG được phép") || !strings.Contains(body, "đã bị thu hồi") ||
		!strings.Contains(body, `href="tel:1900%201234"`) {
		t.Fatalf("revoked badge: %s", body)
	}
	forged := path[:len(path)-3] + "AAA"
	_, body = br.get(forged)
	if !strings.Contains(body, "có thể là thẻ giả") || strings.Contains(body, "staff-name") {
		t.Fatalf("forged badge: %s", body)
	}
	if code, _ := br.get(app.BadgePath + "/photo?t=x.y.z"); code != 404 {
		t.Fatalf("photo of a forged badge: %d, want 404", code)
	}
	if _, body := br.get(path + "&lang=en"); !strings.Contains(body, "NOT authorised") {
		t.Fatalf("English: %s", body)
	}
}

func mustQuery(t *testing.T, path, key string) string {
	u, err := url.Parse(path)
	if err != nil {
		t.Fatal(err)
	}
	return u.Query().Get(key)
}
