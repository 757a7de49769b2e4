// Package stafftest helps test the staff registry and its badges: photos
// to register, and a QR decoder (gozxing) to read a badge as a phone does.
package stafftest

import (
	"bytes"
	"context"
	"crypto"
	"image"
	"image/color"
	"image/jpeg"
	"image/png"
	"path/filepath"
	"testing"
	"time"

	"github.com/makiuchi-d/gozxing"
	"github.com/makiuchi-d/gozxing/qrcode"

	"github.com/kyso-pki/kyso/hsm"
	"github.com/kyso-pki/kyso/hsm/pkcs11"
	"github.com/kyso-pki/kyso/internal/testenv"
	"github.com/kyso-pki/kyso/pkg/staff"
	"github.com/kyso-pki/kyso/pkg/store"
	"github.com/kyso-pki/kyso/pkg/store/storeopen"
)

// Env is a staff service on a SQLite store, its badge key made in
// SoftHSM by staff.OpenKey as kysod makes it.
type Env struct {
	Svc   *staff.Service
	Store store.Store
	Key   crypto.Signer
}

// New returns an Env whose badges link to appURL, on the clock now; all
// is closed when t ends.
func New(t testing.TB, appURL string, now func() time.Time) *Env {
	t.Helper()
	ctx := context.Background()
	st, err := storeopen.Open(ctx, filepath.Join(t.TempDir(), "kyso.db"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	ks, err := pkcs11.Open(ctx, testenv.NewSoftHSM(t).URI(), nil)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { ks.Close() })
	key, err := staff.OpenKey(ctx, ks)
	if err != nil {
		t.Fatal(err)
	}
	again, err := staff.OpenKey(ctx, ks)
	if err != nil || !hsm.SamePublicKey(key.Public(), again.Public()) {
		t.Fatalf("OpenKey a second time = %v; want the same key", err)
	}
	svc, err := staff.New(staff.Config{Store: st, Key: key, AppURL: appURL, Now: now})
	if err != nil {
		t.Fatal(err)
	}
	return &Env{Svc: svc, Store: st, Key: key}
}

// Add registers a staff member allowed for 90 days from now in wards
// (none: any), with a JPEG photo.
func (e *Env) Add(t testing.TB, now time.Time, name string, wards ...string) *store.Staff {
	t.Helper()
	m, err := e.Svc.Add(context.Background(), "officer-1", &staff.AddRequest{FullName: name, BirthYear: 1992,
		Position: "Cán bộ đăng ký", Provider: "Kyso Việt Nam", Wards: wards, Photo: Photo(t, "jpeg"),
		Until: now.Add(90 * 24 * time.Hour)})
	if err != nil {
		t.Fatal(err)
	}
	return m
}

// Photo returns a small portrait (60x80) encoded as format, "png" or
// "jpeg".
func Photo(t testing.TB, format string) []byte {
	t.Helper()
	img := image.NewRGBA(image.Rect(0, 0, 60, 80))
	for y := range 80 {
		for x := range 60 {
			img.Set(x, y, color.RGBA{uint8(40 + x), uint8(90 + y), 160, 255})
		}
	}
	var b bytes.Buffer
	var err error
	if format == "jpeg" {
		err = jpeg.Encode(&b, img, nil)
	} else {
		err = png.Encode(&b, img)
	}
	if err != nil {
		t.Fatal(err)
	}
	return b.Bytes()
}

// DecodeQR decodes the QR code in a PNG image and returns its text.
func DecodeQR(t testing.TB, pngBytes []byte) string {
	t.Helper()
	img, err := png.Decode(bytes.NewReader(pngBytes))
	if err != nil {
		t.Fatalf("the badge is not a PNG: %v", err)
	}
	bmp, err := gozxing.NewBinaryBitmapFromImage(img)
	if err != nil {
		t.Fatal(err)
	}
	res, err := qrcode.NewQRCodeReader().Decode(bmp, nil)
	if err != nil {
		// gozxing's general detector (the one for photographs) misses
		// about 3% of clean codes that zbar reads (by hand: 9 of 300
		// random badge URLs, zbarimg read all 9); a badge's PNG is a pure
		// barcode, which PURE_BARCODE reads as such.
		res, err = qrcode.NewQRCodeReader().Decode(bmp, map[gozxing.DecodeHintType]any{gozxing.DecodeHintType_PURE_BARCODE: true})
	}
	if err != nil {
		t.Fatalf("no QR code found in the badge: %v", err)
	}
	return res.GetText()
}
