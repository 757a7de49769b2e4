package app_test

import (
	"bytes"
	"context"
	"encoding/base64"
	"encoding/pem"
	"image"
	"image/png"
	"math"
	"net/url"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"github.com/kyso-pki/kyso/internal/testenv"
	"github.com/kyso-pki/kyso/internal/testpdf"
	"github.com/kyso-pki/kyso/pkg/pdf"
	"github.com/kyso-pki/kyso/pkg/render"
	"github.com/kyso-pki/kyso/pkg/verify"
)

// turnedPage2 is a PDF of two pages whose second is cropped (CropBox 40
// 50 560 800 of an A4 MediaBox) and turned a quarter clockwise (/Rotate
// 90).
func turnedPage2() []byte {
	return testpdf.Objects(
		"<< /Type /Catalog /Pages 2 0 R >>",
		"<< /Type /Pages /Kids [3 0 R 6 0 R] /Count 2 >>",
		"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 595 842] /Resources << /Font << /F1 4 0 R >> >> /Contents 5 0 R >>",
		testpdf.Helvetica,
		testpdf.Stream("BT /F1 24 Tf 72 720 Td (Bien ban - trang 1) Tj ET"),
		"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 595 842] /CropBox [40 50 560 800] /Rotate 90 /Resources << /Font << /F1 4 0 R >> >> /Contents 7 0 R >>",
		testpdf.Stream("BT /F1 24 Tf 72 720 Td (Bien ban - trang 2, xoay) Tj ET"),
	)
}

// TestOwnDocumentInBrowser: "Ký tài liệu của tôi" in Chromium, on a phone
// (page 2 of an A4 PDF) and a desktop (page 2 cropped and turned): upload
// through the form, tap a known point of page 2's image, place the stamp,
// approve with PIN and code, download. The stamp lands where tapped: the
// signature widget's /Rect on page 2 — read with pkg/pdf and by pdfcpu —
// contains the tapped point converted to user space by hand, and the
// page drawn again from the signed PDF differs from the original only
// around the tapped pixel. pyHanko (AdES, from the document alone) and
// pdfsig judge the signature valid, and kyso's engine at B-LT. Every page
// is checked (screenshot, axe-core, same-origin, no overflow, Nu).
func TestOwnDocumentInBrowser(t *testing.T) {
	e := newEnv(t)
	srv := serveLocal(t, e.app)
	b := testenv.StartBrowser(t)
	rd, err := render.New(context.Background(), &render.Options{Workers: 1})
	if err != nil {
		t.Fatal(err)
	}
	defer rd.Close()
	dir := t.TempDir()
	root := filepath.Join(dir, "root.pem")
	os.WriteFile(root, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: e.root.Raw}), 0o644)
	var html []string
	for _, c := range []struct {
		sized
		doc    []byte
		fx, fy float64
		// want is the tapped point in user space, worked out by hand:
		// on the desktop's page (/Rotate 90) the displayed top left
		// corner is the CropBox's lower left, right is up and down is
		// right.
		want func(fx, fy float64) (x, y float64)
	}{
		{e.sizes()[0], twoPages(), 0.3, 0.6, func(fx, fy float64) (float64, float64) { return fx * 595, 842 - fy*842 }},
		{e.sizes()[1], turnedPage2(), 0.25, 0.4, func(fx, fy float64) (float64, float64) { return 40 + fy*520, 50 + fx*750 }},
	} {
		t.Run(c.vp.Name, func(t *testing.T) {
			ctx := context.Background()
			p := b.Open(t, c.vp, srv.URL+"/app/login", nil)
			if !testenv.Act(p, chromedp.Evaluate[bool](`!!document.getElementById("cccd")`)) {
				// A session left by a test before: end it.
				testenv.Act(p, chromedp.Click(".logout button"))
				testenv.Act(p, chromedp.WaitVisible("#cccd"))
			}
			testenv.Act(p, chromedp.SendKeys("#cccd", strings.TrimPrefix(c.en.NationalID, "CCCD:")))
			testenv.Act(p, chromedp.SendKeys("#pin", pin))
			testenv.Act(p, chromedp.SendKeys("#otp", e.otp(t, c.en)))
			testenv.Act(p, chromedp.Click("#login"))
			testenv.Act(p, chromedp.WaitVisible(`a[href="/app/own"]`))

			// Upload through the menu's page.
			op := b.Open(t, c.vp, srv.URL+"/app/own", nil)
			html = append(html, op.Check("own"))
			file := filepath.Join(t.TempDir(), "bien-ban.pdf")
			os.WriteFile(file, c.doc, 0o600)
			testenv.Act(op, chromedp.SetUploadFiles("#file", []string{file}))
			testenv.Act(op, chromedp.Click("#upload"))
			testenv.Act(op, chromedp.WaitVisible("#page-img"))
			imageShown(t, op)
			if got := text(op, "#pageno"); got != "Trang 2 / 2" {
				t.Errorf("the first page shown is %q, want the last (the stamp's)", got)
			}
			first := testenv.Act(op, chromedp.Evaluate[string](`location.pathname`))
			if !testenv.Act(op, chromedp.Evaluate[bool](`!document.getElementById("stamp-box").hidden`)) {
				t.Error("the stamp's box is not shown where it is now")
			}
			flowTab(t, op, "own-request")

			// Tap the known point of page 2's image.
			r := testenv.Act(op, chromedp.Evaluate[[]float64](`(() => { const i = document.getElementById("page-img"); i.scrollIntoView({block: "center"});
				const r = i.getBoundingClientRect(); return [r.left, r.top, r.width, r.height] })()`))
			testenv.Act(op, chromedp.MouseClickXY(r[0]+c.fx*r[2], r[1]+c.fy*r[3]))
			fx, _ := strconv.ParseFloat(testenv.Act(op, chromedp.Evaluate[string](`document.getElementById("stamp-x").value`)), 64)
			fy, _ := strconv.ParseFloat(testenv.Act(op, chromedp.Evaluate[string](`document.getElementById("stamp-y").value`)), 64)
			if math.Abs(fx-c.fx) > 0.01 || math.Abs(fy-c.fy) > 0.01 {
				t.Fatalf("the tap filled (%g, %g), want about (%g, %g)", fx, fy, c.fx, c.fy)
			}
			if got := text(op, "#stamp-note"); !strings.Contains(got, "Đã chọn chỗ bạn chạm") {
				t.Errorf("after the tap: %q", got)
			}
			flowTab(t, op, "own-tapped")
			testenv.Act(op, chromedp.Click("#place"))
			// The next page is another transaction's: its form names it.
			testenv.Act(op, chromedp.WaitVisible(`#stamp-form:not([action="`+first+`/stamp"])`))
			imageShown(t, op)
			tx := strings.TrimPrefix(testenv.Act(op, chromedp.Evaluate[string](`location.pathname`)), "/app/requests/")
			html = append(html, b.Open(t, c.vp, srv.URL+"/app/requests/"+tx+"?doc=0&page=2", nil).Check("own-placed"))

			// Approve with PIN and code: the form's POST as the tab's
			// navigation, so the answer is a document the Nu checker reads.
			token := testenv.Act(op, chromedp.Evaluate[string](`document.querySelector('form[action$="/approve"] input[name=csrf]').value`))
			dp := b.Open(t, c.vp, srv.URL+"/app/requests/"+tx+"/approve", &testenv.Post{ContentType: "application/x-www-form-urlencoded",
				Body: []byte(url.Values{"csrf": {token}, "pin": {pin}, "otp": {e.otp(t, c.en)}}.Encode())})
			if got := text(dp, "main"); !strings.Contains(got, "đã được ký") {
				t.Fatalf("after approving: %q", got)
			}
			html = append(html, dp.Check("own-signed"))
			got := testenv.Act(dp, chromedp.Evaluate[[]string](`fetch(document.getElementById("download").href).then(r => r.arrayBuffer().then(b => {
				let s = ""; new Uint8Array(b).forEach(c => s += String.fromCharCode(c));
				return [String(r.status), r.headers.get("content-disposition") || "", r.headers.get("cache-control") || "", btoa(s)] }))`, chromedp.EvalAwaitPromise))
			if got[0] != "200" || !strings.HasPrefix(got[1], "attachment;") || got[2] != "no-store" {
				t.Fatalf("download: %v", got[:3])
			}
			signed, err := base64.StdEncoding.DecodeString(got[3])
			if err != nil {
				t.Fatal(err)
			}
			path := filepath.Join(t.TempDir(), "signed.pdf")
			os.WriteFile(path, signed, 0o600)

			// The stamp's rectangle holds the tapped point.
			wx, wy := c.want(fx, fy)
			rect := widgetRect(t, signed, 2)
			if !(rect[0] <= wx && wx <= rect[2] && rect[1] <= wy && wy <= rect[3]) {
				t.Errorf("pkg/pdf: the stamp's /Rect %v on page 2 does not hold the tapped point (%.1f, %.1f)", rect, wx, wy)
			}
			out, stderr, err := testenv.Run(testenv.Command(t, testenv.PDFCPU(t), "annotations", "list", "-p", "2", "--", path))
			m := regexp.MustCompile(`│\s*\(\s*([\d.]+),\s*([\d.]+),\s*([\d.]+),\s*([\d.]+)\)\s*│`).FindStringSubmatch(out)
			if err != nil || m == nil {
				t.Fatalf("pdfcpu annotations list: %v\n%s\n%s", err, out, stderr)
			}
			var pr [4]float64
			for i := range pr {
				pr[i], _ = strconv.ParseFloat(m[i+1], 64)
			}
			// pdfcpu rounds to whole points.
			if !(pr[0]-1 <= wx && wx <= pr[2]+1 && pr[1]-1 <= wy && wy <= pr[3]+1) {
				t.Errorf("pdfcpu: the widget on page 2 is at %v, not over the tapped point (%.1f, %.1f)\n%s", pr, wx, wy, out)
			}

			// Drawn again, page 2 changed only around the tapped pixel.
			before, err := rd.Page(ctx, c.doc, 2, 900)
			if err != nil {
				t.Fatal(err)
			}
			after, err := rd.Page(ctx, signed, 2, 900)
			if err != nil {
				t.Fatal(err)
			}
			changed, bw, bh := changedBox(t, before, after)
			px, py := int(fx*float64(bw)), int(fy*float64(bh))
			if !image.Pt(px, py).In(changed) || changed.Dx() > bw/2 || changed.Dy() > bh/2 {
				t.Errorf("the stamp drawn at %v on a %d × %d image; the tap was at (%d, %d)", changed, bw, bh, px, py)
			}

			// Outside validators, and kyso's, at B-LT.
			at := time.Now().UTC().Add(time.Second).Truncate(time.Second).Format("2006-01-02T15:04:05Z")
			pr2 := testenv.RunPyHanko(t, "sign", "adesverify", "--pretty-print", "--validation-time", at, "--trust", root, "--trust-replace", path)
			if pr2.Err != nil || !strings.Contains(pr2.Report, "judged VALID") {
				t.Errorf("pyHanko adesverify: %v\n%s\nlog: %s\nstderr: %s", pr2.Err, pr2.Report, pr2.Log, pr2.Stderr)
			}
			if o, se, _ := testenv.Run(testenv.Command(t, testenv.LookPath(t, "pdfsig", "apt-get install poppler-utils"), "-no-ocsp", path)); !strings.Contains(o, "Signature is Valid.") {
				t.Errorf("pdfsig:\n%s\nstderr: %s", o, se)
			}
			rep, err := verify.Verify(ctx, bytes.NewReader(signed), int64(len(signed)), &verify.Options{Roots: e.roots})
			if err != nil || !rep.Valid || rep.Signatures[0].Level != verify.LevelBLT {
				var w strings.Builder
				if rep != nil {
					rep.WriteText(&w, "signed.pdf")
				}
				t.Errorf("kyso's validation: %v\n%s", err, w.String())
			}
			// Log out, for the next citizen's login in this browser.
			testenv.Act(dp, chromedp.Click(".logout button"))
			testenv.Act(dp, chromedp.WaitVisible("#cccd"))
		})
	}
	testenv.CheckHTML(t, html...)
}

// widgetRect is the /Rect of the one annotation on page n of doc.
func widgetRect(t *testing.T, doc []byte, n int) [4]float64 {
	t.Helper()
	rd, err := pdf.Open(bytes.NewReader(doc), int64(len(doc)), nil)
	if err != nil {
		t.Fatal(err)
	}
	pages, err := rd.Pages()
	if err != nil || len(pages) < n {
		t.Fatalf("pages: %v", err)
	}
	annots, _ := rd.Get(pages[n-1].Dict.Get("Annots"))
	a, _ := annots.(pdf.Array)
	if len(a) != 1 {
		t.Fatalf("page %d has annotations %v", n, annots)
	}
	w, _ := rd.Get(a[0])
	d, _ := w.(*pdf.Dict)
	if d == nil || d.Get("Subtype") != pdf.Name("Widget") || d.Get("FT") != pdf.Name("Sig") {
		t.Fatalf("page %d's annotation is %v, not a signature widget", n, w)
	}
	r, err := rd.Rect(d.Get("Rect"))
	if err != nil {
		t.Fatal(err)
	}
	return r
}

// changedBox is the smallest rectangle holding every pixel that differs
// between two PNG images of one size, and that size.
func changedBox(t *testing.T, a, b []byte) (image.Rectangle, int, int) {
	t.Helper()
	ia, err := png.Decode(bytes.NewReader(a))
	if err != nil {
		t.Fatal(err)
	}
	ib, err := png.Decode(bytes.NewReader(b))
	if err != nil {
		t.Fatal(err)
	}
	bounds := ia.Bounds()
	if ib.Bounds() != bounds {
		t.Fatalf("the page's images differ in size: %v, %v", bounds, ib.Bounds())
	}
	var box image.Rectangle
	for y := bounds.Min.Y; y < bounds.Max.Y; y++ {
		for x := bounds.Min.X; x < bounds.Max.X; x++ {
			r1, g1, b1, _ := ia.At(x, y).RGBA()
			r2, g2, b2, _ := ib.At(x, y).RGBA()
			if r1 != r2 || g1 != g2 || b1 != b2 {
				box = box.Union(image.Rect(x, y, x+1, y+1))
			}
		}
	}
	if box.Empty() {
		t.Fatal("the signed page looks like the original: no stamp drawn")
	}
	return box, bounds.Dx(), bounds.Dy()
}
