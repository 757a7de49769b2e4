package pdf

import (
	"bytes"
	"errors"
	"slices"
	"testing"

	"github.com/kyso-pki/kyso/internal/testenv"
)

// qpdfEncrypt encrypts in with qpdf PRE… --encrypt USER OWNER BITS POST….
func qpdfEncrypt(t *testing.T, in []byte, user string, pre []string, bits string, post ...string) []byte {
	t.Helper()
	a := append(append([]string{"--allow-weak-crypto"}, pre...), "--encrypt", user, "kyso-owner", bits)
	return testenv.Qpdf(t, in, append(append(a, post...), "--")...)
}

// TestOpenToRead reads documents qpdf encrypted with the empty user
// password — RC4 of 40 and 128 bits, AES-128 and AES-256, with object
// streams too — as the plain document: its field names (strings) and its
// page content (a stream). Open, which signing uses, refuses them, and a
// document that needs a password is refused by both.
func TestOpenToRead(t *testing.T) {
	objstm := []string{"--object-streams=generate"}
	for _, tc := range []struct {
		name string
		pre  []string
		bits string
		post []string
	}{
		{"rc4-40", nil, "40", nil},
		{"rc4-128", nil, "128", []string{"--use-aes=n"}},
		{"aes-128-objstm", objstm, "128", []string{"--use-aes=y"}},
		{"aes-256", nil, "256", nil},
		{"aes-256-objstm", objstm, "256", nil},
	} {
		t.Run(tc.name, func(t *testing.T) {
			enc := qpdfEncrypt(t, formPDF(), "", tc.pre, tc.bits, tc.post...)
			if _, err := Open(bytes.NewReader(enc), int64(len(enc)), nil); !errors.Is(err, ErrEncrypted) {
				t.Fatalf("Open: %v, want ErrEncrypted", err)
			}
			rd, err := OpenToRead(bytes.NewReader(enc), int64(len(enc)), nil)
			if err != nil {
				t.Fatalf("OpenToRead: %v", err)
			}
			fields, err := rd.Fields()
			if err != nil {
				t.Fatal(err)
			}
			var names []string
			for _, f := range fields {
				names = append(names, f.Name)
			}
			if want := []string{"Signature1", "person.tên"}; !slices.Equal(names, want) {
				t.Errorf("fields %q, want %q", names, want)
			}
			pages, err := rd.Pages()
			if err != nil || len(pages) != 1 {
				t.Fatalf("Pages: %v", err)
			}
			c, err := rd.Get(pages[0].Dict.Get("Contents"))
			if err != nil {
				t.Fatal(err)
			}
			st, ok := c.(*Stream)
			if !ok {
				t.Fatalf("page contents is %T", c)
			}
			body, err := rd.StreamData(st)
			if err != nil || !bytes.Contains(body, []byte(testText)) {
				t.Errorf("content %q (%v) lacks %q", body, err, testText)
			}
			locked := qpdfEncrypt(t, formPDF(), "kyso-user", tc.pre, tc.bits, tc.post...)
			if _, err := OpenToRead(bytes.NewReader(locked), int64(len(locked)), nil); !errors.Is(err, ErrEncrypted) {
				t.Errorf("OpenToRead of a document with a user password: %v, want ErrEncrypted", err)
			}
		})
	}
}
