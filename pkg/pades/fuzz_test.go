package pades

import (
	"bytes"
	"net/http/httptest"
	"testing"

	"github.com/kyso-pki/kyso/pkg/pdf"
	"github.com/kyso-pki/kyso/pkg/tsa"
)

// FuzzPrepare feeds Prepare untrusted PDFs, with tight limits so every run
// is quick: it must return an error or a Prepared, never panic or hang.
// Run it with: go test ./pkg/pades/ -run '^$' -fuzz FuzzPrepare -fuzztime 60s
func FuzzPrepare(f *testing.F) {
	f.Add(minimalPDF("1.4", 0))
	f.Add(formPDF())
	f.Add(encryptedPDF())
	lim := &pdf.Limits{MaxFileSize: 1 << 20, MaxObjects: 1 << 12, MaxWork: 1 << 20, MaxDecodedLen: 1 << 20}
	f.Fuzz(func(t *testing.T, b []byte) {
		p, err := Prepare(bytes.NewReader(b), int64(len(b)), &Options{Limits: lim, ContentsSize: 1024})
		if err != nil {
			return
		}
		st, err := p.MarshalBinary()
		if err != nil {
			t.Fatal(err)
		}
		var q Prepared
		if err := q.UnmarshalBinary(st); err != nil {
			t.Fatalf("a Prepared does not survive storage: %v", err)
		}
	})
}

// FuzzUnmarshalBinary: stored state may come back tampered with.
func FuzzUnmarshalBinary(f *testing.F) {
	in := formPDF()
	p, err := Prepare(bytes.NewReader(in), int64(len(in)), &Options{ContentsSize: 1024})
	if err != nil {
		f.Fatal(err)
	}
	st, _ := p.MarshalBinary()
	f.Add(st)
	f.Add([]byte(`{"v":1}`))
	f.Fuzz(func(t *testing.T, b []byte) {
		var q Prepared
		if q.UnmarshalBinary(b) != nil {
			return
		}
		if q.ContentsSize() <= 0 {
			t.Fatalf("accepted a state without room for a signature")
		}
	})
}

// TestSignBTOverHTTP time-stamps through tsa.Request against the TSA
// served over httptest, as a portal would use a TSA URL.
func TestSignBTOverHTTP(t *testing.T) {
	f := getFixture(t)
	hs := httptest.NewServer(f.tsa)
	defer hs.Close()
	roots := f.roots()
	signed := signBytes(t, f, "rsa2048", formPDF(), &SignOptions{Level: LevelBT,
		TSA: TSAClient(hs.URL, &tsa.ClientOptions{Roots: roots})})
	checkAll(t, f, signed, 1, 0)
}
