package stamp

import (
	"fmt"
	"net/url"
	"strings"

	"rsc.io/qr"
)

// MaxQRLen bounds the text of the QR code, in bytes: a verify URL.
const MaxQRLen = 512

// quietZone is the white margin around a QR code, in modules (ISO/IEC
// 18004:2015 §6.3.8 asks for four).
const quietZone = 4

// qrModules encodes text as a QR code at error correction level M and
// returns its modules, true for dark, row 0 at the top.
func qrModules(text string) ([][]bool, error) {
	if len(text) > MaxQRLen {
		return nil, fmt.Errorf("stamp: QR text is %d bytes, more than %d", len(text), MaxQRLen)
	}
	if u, err := url.Parse(text); err != nil || u.Scheme == "" || u.Host == "" || strings.ContainsAny(text, " \t\r\n") {
		return nil, fmt.Errorf("stamp: QR URL %q is not an absolute URL", text)
	}
	c, err := qr.Encode(text, qr.M)
	if err != nil {
		return nil, fmt.Errorf("stamp: encoding the QR code: %w", err)
	}
	m := make([][]bool, c.Size)
	for y := range m {
		m[y] = make([]bool, c.Size)
		for x := range m[y] {
			m[y][x] = c.Black(x, y)
		}
	}
	return m, nil
}
