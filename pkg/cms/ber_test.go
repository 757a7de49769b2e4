package cms

import (
	"bytes"
	"crypto"
	"crypto/x509"
	"encoding/pem"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
)

// toBER writes a DER element as the BER that NSS and OpenSSL's streaming
// mode write: every constructed element with an indefinite length, every
// OCTET STRING longer than four bytes as a constructed string of
// three-byte segments.
func toBER(tb testing.TB, der []byte) []byte {
	tb.Helper()
	out, rest := berOf(tb, der)
	if len(rest) != 0 {
		tb.Fatalf("%d bytes after the element", len(rest))
	}
	return out
}

func berOf(tb testing.TB, in []byte) (out, rest []byte) {
	tb.Helper()
	c := berConverter{budget: maxBERElements}
	h, err := c.header(in, 0)
	if err != nil || h.length < 0 || len(h.tag) != 1 {
		tb.Fatalf("not DER: %v", err)
	}
	body, rest := in[h.size:h.size+h.length], in[h.size+h.length:]
	switch {
	case h.constructed:
		out = append(out, h.tag[0], 0x80)
		for len(body) > 0 {
			var el []byte
			el, body = berOf(tb, body)
			out = append(out, el...)
		}
		return append(out, 0, 0), rest
	case h.universal == 4 && len(body) > 4:
		out = append(out, 0x24, 0x80)
		for len(body) > 0 {
			n := min(3, len(body))
			out = append(out, 0x04, byte(n))
			out = append(out, body[:n]...)
			body = body[n:]
		}
		return append(out, 0, 0), rest
	}
	return in[:h.size+h.length], rest
}

// storedSeeds are FuzzParse's stored seeds, DER signatures kyso made.
func storedSeeds(tb testing.TB) [][]byte {
	tb.Helper()
	files, err := filepath.Glob(filepath.Join(fuzzSeedDir, "kyso-*"))
	if err != nil || len(files) < 4 {
		tb.Fatalf("%d seeds in %s (%v); run with KYSO_UPDATE_FUZZ_SEEDS=1", len(files), fuzzSeedDir, err)
	}
	var seeds [][]byte
	for _, name := range files {
		b, err := os.ReadFile(name)
		if err != nil {
			tb.Fatal(err)
		}
		_, lit, _ := strings.Cut(strings.TrimSpace(string(b)), "\n")
		q, ok := strings.CutPrefix(lit, "[]byte(")
		q, ok2 := strings.CutSuffix(q, ")")
		der, err := strconv.Unquote(q)
		if !ok || !ok2 || err != nil {
			tb.Fatalf("%s: not a go test fuzz v1 []byte", name)
		}
		seeds = append(seeds, []byte(der))
	}
	return seeds
}

// TestBER converts kyso's signatures written as BER, padded as in a
// PDF's /Contents, back to the DER they were made from; TestFuzzSeeds
// parses and verifies them.
func TestBER(t *testing.T) {
	for i, der := range storedSeeds(t) {
		ber := toBER(t, der)
		if bytes.Equal(ber, der) || ber[1] != 0x80 {
			t.Fatalf("seed %d: toBER wrote no indefinite length", i)
		}
		got, err := DER(append(ber, 0, 0, 0, 0))
		if err != nil {
			t.Fatalf("seed %d: DER: %v", i, err)
		}
		if !bytes.Equal(got, der) {
			t.Fatalf("seed %d: the BER converted is not the DER it was made from", i)
		}
		if same, err := DER(der); err != nil || &same[0] != &der[0] || len(same) != len(der) {
			t.Fatalf("seed %d: DER of DER is not the input itself (%v)", i, err)
		}
	}
}

// TestBERMalformed holds the converter to its limits and to BER's rules.
func TestBERMalformed(t *testing.T) {
	deep := func(n int) []byte {
		b := bytes.Repeat([]byte{0x30, 0x80}, n)
		return append(b, bytes.Repeat([]byte{0, 0}, n)...)
	}
	many := []byte{0x30, 0x80}
	for range maxBERElements {
		many = append(many, 0x05, 0x00)
	}
	many = append(many, 0, 0)
	for _, tc := range []struct {
		name string
		in   []byte
	}{
		{"empty", nil},
		{"truncated", []byte{0x30, 0x80, 0x05, 0x00}},
		{"indefinite primitive", []byte{0x04, 0x80, 0x00, 0x00}},
		{"end-of-contents alone", []byte{0x00, 0x00}},
		{"end-of-contents in a definite element", []byte{0x30, 0x02, 0x00, 0x00}},
		{"length beyond the input", []byte{0x30, 0x84, 0x7f, 0xff, 0xff, 0xff}},
		{"five-byte length", []byte{0x30, 0x85, 0, 0, 0, 0, 1, 5}},
		{"segment of another type", []byte{0x24, 0x80, 0x0c, 0x01, 'a', 0, 0}},
		{"constructed BIT STRING", []byte{0x23, 0x80, 0x03, 0x01, 0x00, 0, 0}},
		{"data after", []byte{0x30, 0x80, 0, 0, 1}},
		{"too deep", deep(maxBERDepth + 2)},
		{"too many elements", many},
	} {
		if _, err := DER(tc.in); !errors.Is(err, ErrMalformed) {
			t.Errorf("%s: DER accepted it (%v)", tc.name, err)
		}
	}
	if _, err := DER(deep(maxBERDepth)); err != nil {
		t.Errorf("nesting %d deep: %v", maxBERDepth, err)
	}
	// Long-form lengths that could be shorter, and nested constructed
	// strings, are BER too.
	got, err := DER([]byte{0x30, 0x81, 0x0b, 0x24, 0x80, 0x24, 0x80, 0x04, 0x01, 'x', 0, 0, 0, 0})
	if err != nil || fmt.Sprintf("% x", got) != "30 03 04 01 78" {
		t.Errorf("DER = % x, %v; want 30 03 04 01 78", got, err)
	}
}

// TestBEROpenSSLStream reads what OpenSSL's streaming mode writes (`cms
// -sign -stream`): indefinite lengths throughout and the content in a
// constructed OCTET STRING. OpenSSL writes BER only with the content
// inside; its detached output is DER.
func TestBEROpenSSLStream(t *testing.T) {
	dir := t.TempDir()
	key, cert := selfSigned(t, "Nguyễn Văn Đức", nil)
	pk8, err := x509.MarshalPKCS8PrivateKey(key)
	if err != nil {
		t.Fatal(err)
	}
	writeFile(t, dir, "key.pem", pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: pk8}))
	writePEM(t, dir, "cert.pem", cert)
	content := bytes.Repeat([]byte("Tờ khai "), 2000)
	writeFile(t, dir, "content", content)
	mustOpenSSL(t, dir, "cms", "-sign", "-binary", "-stream", "-cades", "-md", "sha256", "-outform", "DER",
		"-signer", "cert.pem", "-inkey", "key.pem", "-in", "content", "-out", "sig.ber")
	ber, err := os.ReadFile(filepath.Join(dir, "sig.ber"))
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.HasPrefix(ber, []byte{0x30, 0x80}) {
		t.Fatalf("openssl wrote % x…, not BER", ber[:4])
	}
	sd, err := Parse(ber)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(sd.Content, content) {
		t.Fatalf("eContent is %d bytes, want the %d signed", len(sd.Content), len(content))
	}
	if err := sd.Verify(digest(crypto.SHA256, content), VerifyOptions{}); err != nil {
		t.Fatal(err)
	}
}
