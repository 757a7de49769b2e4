package staff_test

import (
	"context"
	"crypto"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"errors"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/kyso-pki/kyso/pkg/signing/signingtest"
	"github.com/kyso-pki/kyso/pkg/staff"
	"github.com/kyso-pki/kyso/pkg/staff/stafftest"
	"github.com/kyso-pki/kyso/pkg/store"
)

type env struct {
	*stafftest.Env
	st    store.Store
	svc   *staff.Service
	key   crypto.Signer
	clock *signingtest.Clock
}

func newEnv(t *testing.T) *env {
	clock := signingtest.NewClock(time.Now())
	se := stafftest.New(t, "https://app.kyso.test", clock.Now)
	return &env{Env: se, st: se.Store, svc: se.Svc, key: se.Key, clock: clock}
}

func (e *env) add(t *testing.T, wards ...string) *store.Staff {
	t.Helper()
	return e.Add(t, e.clock.Now(), "Nguyễn Thị Hồng Nhung", wards...)
}

func (e *env) check(t *testing.T, token, ward string, want staff.Status) *staff.Verdict {
	t.Helper()
	v, err := e.svc.Check(context.Background(), token, ward)
	if err != nil {
		t.Fatal(err)
	}
	if v.Status != want {
		t.Fatalf("Check = %s, want %s", v.Status, want)
	}
	return v
}

func (e *env) actions(t *testing.T) []string {
	t.Helper()
	events, err := e.st.ListAudit(context.Background(), 0, 100)
	if err != nil {
		t.Fatal(err)
	}
	var out []string
	for _, ev := range events {
		if strings.HasPrefix(ev.Action, "staff.") {
			out = append(out, ev.Action+" "+ev.Actor+" "+ev.Subject)
		}
	}
	return out
}

// TestBadgeRevokedAtOnce: a badge checks valid, its QR code decodes to
// the check page's URL with the token, and once the person is revoked the
// same badge is refused at the next check; every change is audited.
func TestBadgeRevokedAtOnce(t *testing.T) {
	ctx := context.Background()
	e := newEnv(t)
	m := e.add(t)
	if m.PhotoType != "image/jpeg" {
		t.Fatalf("PhotoType = %q", m.PhotoType)
	}
	b, err := e.svc.Badge(ctx, "officer-1", m.ID)
	if err != nil {
		t.Fatal(err)
	}
	if len(b.Token) > 200 {
		t.Errorf("the token is %d characters; a badge's QR code should stay small", len(b.Token))
	}
	text := stafftest.DecodeQR(t, b.PNG)
	if text != b.URL {
		t.Fatalf("the QR code says %q, want %q", text, b.URL)
	}
	u, err := url.Parse(text)
	if err != nil || u.Scheme != "https" || u.Host != "app.kyso.test" || u.Path != "/app/badge" {
		t.Fatalf("the QR code's URL %q is not the check page", text)
	}
	v := e.check(t, u.Query().Get("t"), "", staff.Valid)
	if v.Staff.ID != m.ID || v.Staff.FullName != m.FullName || len(v.Staff.Photo) == 0 {
		t.Fatalf("Check names %+v, want %s with photo", v.Staff, m.ID)
	}
	if err := e.svc.Revoke(ctx, "officer-2", m.ID, "left the provider"); err != nil {
		t.Fatal(err)
	}
	e.check(t, b.Token, "", staff.Revoked)
	if err := e.svc.Revoke(ctx, "officer-2", m.ID, ""); !errors.Is(err, store.ErrConflict) {
		t.Fatalf("a second Revoke = %v, want ErrConflict", err)
	}
	if _, err := e.svc.Badge(ctx, "officer-1", m.ID); !errors.Is(err, staff.ErrInvalid) {
		t.Fatalf("Badge of a revoked person = %v, want ErrInvalid", err)
	}
	want := "[staff.add officer-1 " + m.ID + " staff.badge officer-1 " + m.ID + " staff.revoke officer-2 " + m.ID + "]"
	if got := "[" + strings.Join(e.actions(t), " ") + "]"; got != want {
		t.Fatalf("audit = %s, want %s", got, want)
	}
	if _, err := e.svc.Badge(ctx, "officer-1", "staff-nobody"); !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("Badge of nobody = %v, want ErrNotFound", err)
	}
}

// TestCheckVerdicts: an expired token, an authorisation that has ended or
// not begun, a ward outside the person's, a token with a changed payload
// or signature, one signed by another key, and a genuine token naming no
// one are each refused with their reason.
func TestCheckVerdicts(t *testing.T) {
	ctx := context.Background()
	e := newEnv(t)
	m := e.add(t, "26734", "26737")
	b, err := e.svc.Badge(ctx, "officer-1", m.ID)
	if err != nil {
		t.Fatal(err)
	}
	e.check(t, b.Token, "26734", staff.Valid)
	e.check(t, b.Token, "00004", staff.OutsideWard)

	parts := strings.Split(b.Token, ".")
	other := e.add(t)
	ob, _ := e.svc.Badge(ctx, "officer-1", other.ID)
	swapped := parts[0] + "." + strings.Split(ob.Token, ".")[1] + "." + parts[2]
	e.check(t, swapped, "", staff.Forged)
	sig := []byte(parts[2])
	sig[10] ^= 1
	e.check(t, parts[0]+"."+parts[1]+"."+string(sig), "", staff.Forged)
	for _, bad := range []string{"", "a.b.c", strings.Repeat("A", 600), parts[0] + ".." + parts[2], `{"sub":"x"}`} {
		e.check(t, bad, "", staff.Forged)
	}

	// A key that is not the provider's badge key.
	stranger, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	fake, err := staff.New(staff.Config{Store: e.st, Key: stranger, AppURL: "https://app.kyso.test", Now: e.clock.Now})
	if err != nil {
		t.Fatal(err)
	}
	fb, err := fake.Badge(ctx, "attacker", m.ID)
	if err != nil {
		t.Fatal(err)
	}
	e.check(t, fb.Token, "", staff.Forged)

	// The badge key's token for someone this registry does not hold:
	// another registry's badge, signed with the same key.
	e2 := newEnv(t)
	svc2, err := staff.New(staff.Config{Store: e2.st, Key: e.key, AppURL: "https://app.kyso.test", Now: e.clock.Now})
	if err != nil {
		t.Fatal(err)
	}
	nobody, err := svc2.Add(ctx, "officer-1", &staff.AddRequest{FullName: "Người Lạ", BirthYear: 1980, Position: "Cán bộ",
		Provider: "Kyso Việt Nam", Photo: stafftest.Photo(t, "png"), From: e.clock.Now(), Until: e.clock.Now().Add(time.Hour)})
	if err != nil {
		t.Fatal(err)
	}
	nb, err := svc2.Badge(ctx, "officer-1", nobody.ID)
	if err != nil {
		t.Fatal(err)
	}
	if v := e.check(t, nb.Token, "", staff.Unknown); v.Staff != nil {
		t.Fatalf("an unknown person's verdict names %+v", v.Staff)
	}

	e.clock.Advance(staff.DefaultBadgeLifetime + time.Second)
	e.check(t, b.Token, "", staff.Expired)
	e.clock.Advance(100 * 24 * time.Hour)
	nb, err = e.svc.Badge(ctx, "officer-1", m.ID)
	if !errors.Is(err, staff.ErrInvalid) {
		t.Fatalf("Badge after the authorisation = %v, %v; want ErrInvalid", nb, err)
	}

	later, err := e.svc.Add(ctx, "officer-1", &staff.AddRequest{FullName: "Lê Văn Tám", BirthYear: 1985, Position: "Nhân viên thực địa",
		Provider: "Kyso Việt Nam", Photo: stafftest.Photo(t, "png"), From: e.clock.Now().Add(time.Hour), Until: e.clock.Now().Add(48 * time.Hour)})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := e.svc.Badge(ctx, "officer-1", later.ID); !errors.Is(err, staff.ErrInvalid) {
		t.Fatalf("Badge before the authorisation = %v, want ErrInvalid", err)
	}
}

// TestAddRefuses: a photo that is too big, not an image, a GIF, a PNG
// whose header claims a huge image or that is cut short; names carrying
// bidirectional overrides, zero-width or control characters; a birth
// year out of range, a ward that is not a code, and an authorisation that
// ends before it begins are refused, and nothing is registered or audited.
func TestAddRefuses(t *testing.T) {
	ctx := context.Background()
	e := newEnv(t)
	good := func() *staff.AddRequest {
		return &staff.AddRequest{FullName: "Phạm Minh Châu", BirthYear: 1990, Position: "Cán bộ đăng ký", Provider: "Kyso Việt Nam",
			Photo: stafftest.Photo(t, "png"), Until: e.clock.Now().Add(time.Hour)}
	}
	png := stafftest.Photo(t, "png")
	huge := append([]byte{}, png...)
	copy(huge[16:24], []byte{0, 0, 0x4e, 0x20, 0, 0, 0x4e, 0x20}) // IHDR 20000x20000
	gif := []byte("GIF89a\x01\x00\x01\x00\x80\x00\x00\x00\x00\x00\xff\xff\xff!\xf9\x04\x01\x00\x00\x00\x00,\x00\x00\x00\x00\x01\x00\x01\x00\x00\x02\x02D\x01\x00;")
	for name, mutate := range map[string]func(r *staff.AddRequest){
		"a photo over 200 KB": func(r *staff.AddRequest) {
			r.Photo = append(append([]byte{}, png...), make([]byte, store.MaxStaffPhoto)...)
		},
		"a text file as photo":     func(r *staff.AddRequest) { r.Photo = []byte("<script>alert(1)</script>") },
		"a GIF":                    func(r *staff.AddRequest) { r.Photo = gif },
		"a 20000-pixel PNG":        func(r *staff.AddRequest) { r.Photo = huge },
		"a truncated PNG":          func(r *staff.AddRequest) { r.Photo = png[:len(png)/2] },
		"no photo":                 func(r *staff.AddRequest) { r.Photo = nil },
		"a right-to-left override": func(r *staff.AddRequest) { r.FullName = "Nguyễn \u202eVăn A" },
		"a zero-width joiner":      func(r *staff.AddRequest) { r.FullName = "Nguyễn\u200dVăn" },
		"a newline":                func(r *staff.AddRequest) { r.Position = "Cán bộ\nGiám đốc" },
		"a private-use character":  func(r *staff.AddRequest) { r.Provider = "Kyso \ue000" },
		"invalid UTF-8":            func(r *staff.AddRequest) { r.FullName = "Nguy\xffn" },
		"a blank name":             func(r *staff.AddRequest) { r.FullName = "   " },
		"a long name":              func(r *staff.AddRequest) { r.FullName = strings.Repeat("Ă", 101) },
		"birth year 1850":          func(r *staff.AddRequest) { r.BirthYear = 1850 },
		"a child":                  func(r *staff.AddRequest) { r.BirthYear = e.clock.Now().Year() - 5 },
		"a ward that is a script":  func(r *staff.AddRequest) { r.Wards = []string{"<b>1</b>"} },
		"an empty period":          func(r *staff.AddRequest) { r.Until = e.clock.Now().Add(-time.Hour) },
	} {
		r := good()
		mutate(r)
		if m, err := e.svc.Add(ctx, "officer-1", r); !errors.Is(err, staff.ErrInvalid) {
			t.Errorf("Add with %s = %v, %v; want ErrInvalid", name, m, err)
		}
	}
	if list, err := e.svc.List(ctx); err != nil || len(list) != 0 {
		t.Fatalf("List after refusals = %d, %v; want none", len(list), err)
	}
	if a := e.actions(t); len(a) != 0 {
		t.Fatalf("refusals audited as changes: %v", a)
	}
	// Markup in a name is text, kept as written (the page escapes it).
	r := good()
	r.FullName = `<img src=x onerror=alert(1)> "Nhung"`
	if _, err := e.svc.Add(ctx, "officer-1", r); err != nil {
		t.Fatalf("Add with markup in the name: %v", err)
	}
}

// TestCheckedAudited: a genuine badge's check is audited with its verdict
// (error for one outside its wards); a forged token's is not.
func TestCheckedAudited(t *testing.T) {
	ctx := context.Background()
	e := newEnv(t)
	m := e.add(t, "26734")
	b, err := e.svc.Badge(ctx, "officer-1", m.ID)
	if err != nil {
		t.Fatal(err)
	}
	for _, c := range []struct {
		token, ward string
	}{{b.Token, "26734"}, {b.Token, "26737"}, {"forged.token.here", ""}} {
		v, err := e.svc.Check(ctx, c.token, c.ward)
		if err != nil {
			t.Fatal(err)
		}
		if err := e.svc.Checked(ctx, v, c.ward); err != nil {
			t.Fatal(err)
		}
	}
	events, err := e.st.ListAudit(ctx, 0, 100)
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, ev := range events {
		if ev.Action == "staff.badge.check" {
			got = append(got, ev.Subject+" "+ev.Outcome+" "+string(ev.Details))
		}
	}
	if len(got) != 2 || !strings.Contains(got[0], m.ID+" ok ") || !strings.Contains(got[1], m.ID+" error ") ||
		!strings.Contains(got[1], "26737") {
		t.Fatalf("badge checks audited: %q; want the two checks of the genuine badge, the second refused", got)
	}
}
