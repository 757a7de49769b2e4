package pdf

import (
	"bytes"
	"errors"
	"os"
	"path/filepath"
	"slices"
	"testing"
)

func TestProducers(t *testing.T) {
	for _, p := range producers() {
		t.Run(p.name, func(t *testing.T) {
			dir := t.TempDir()
			data := p.make(t, dir)
			rd, err := Open(bytes.NewReader(data), int64(len(data)), nil)
			if err != nil {
				t.Fatalf("Open: %v", err)
			}
			if got := rd.LastXrefIsStream(); got != p.stream {
				t.Errorf("LastXrefIsStream = %v, want %v", got, p.stream)
			}
			cat, _, err := rd.Catalog()
			if err != nil {
				t.Fatalf("Catalog: %v", err)
			}
			if cat.Get("Type") != Name("Catalog") {
				t.Errorf("catalog /Type = %v", cat.Get("Type"))
			}
			pages, err := rd.Pages()
			if err != nil {
				t.Fatalf("Pages: %v", err)
			}
			if len(pages) != p.pages {
				t.Fatalf("%d pages, want %d", len(pages), p.pages)
			}
			if len(pages[0].MediaBox) != 4 || pages[0].Resources == nil {
				t.Errorf("page 1 did not inherit MediaBox/Resources: %+v", pages[0])
			}
			contents, err := rd.Get(pages[0].Dict.Get("Contents"))
			if err != nil {
				t.Fatal(err)
			}
			st, ok := contents.(*Stream)
			if !ok {
				t.Fatalf("page contents is %T", contents)
			}
			body, err := rd.StreamData(st)
			if err != nil {
				t.Fatalf("StreamData: %v", err)
			}
			if !bytes.Contains(body, []byte(testText)) {
				t.Errorf("content stream %q lacks %q", body, testText)
			}
			fields, err := rd.Fields()
			if err != nil {
				t.Fatalf("Fields: %v", err)
			}
			var names []string
			for _, f := range fields {
				names = append(names, f.Name)
			}
			if !slices.Equal(names, p.fields) {
				t.Errorf("fields %q, want %q", names, p.fields)
			}
			for _, f := range fields {
				switch f.Name {
				case "Signature1":
					if !f.IsSignature() || f.Value != nil {
						t.Errorf("Signature1: type %v value %v, want an empty /Sig", f.Type, f.Value)
					}
				case "person.tên":
					if f.Type != "Tx" || f.Value.(String).Value == nil || string(f.Value.(String).Value) != "Nguyen" {
						t.Errorf("person.tên: type %v value %v", f.Type, f.Value)
					}
				}
			}
			roundTrip(t, dir, data, rd, p.pages)
		})
	}
}

// roundTrip adds a signature-like dictionary with marked placeholders,
// links it from an updated catalog, writes the update and checks it with
// our reader and the outside checkers.
func roundTrip(t *testing.T, dir string, data []byte, rd *Reader, pages int) {
	t.Helper()
	cat, catRef, err := rd.Catalog()
	if err != nil {
		t.Fatal(err)
	}
	w := NewIncrementalWriter(bytes.NewReader(data), int64(len(data)), rd)
	contents := Mark(String{Value: make([]byte, 64), Hex: true})
	byteRange := Mark(Array{Int(0), Int(9999999999), Int(9999999999), Int(9999999999)})
	sig := NewDict()
	sig.Set("Type", Name("Sig"))
	sig.Set("Filter", Name("Adobe.PPKLite"))
	sig.Set("SubFilter", Name("ETSI.CAdES.detached"))
	sig.Set("ByteRange", byteRange)
	sig.Set("Contents", contents)
	sig.Set("Name", String{Value: []byte("NGUY\xc1N (test) \\ ")})
	sig.Set("Real", Real(0.5))
	sigRef := w.Add(sig)
	nc := cat.Clone()
	nc.Set("KysoTest", sigRef)
	w.Update(catRef, nc)

	off, n, err := w.Span(contents)
	if err != nil {
		t.Fatal(err)
	}
	if n != 130 {
		t.Errorf("contents span length %d, want 130", n)
	}
	if err := w.Patch(contents, []byte("<"+string(bytes.Repeat([]byte("AB"), 64))+">")); err != nil {
		t.Fatal(err)
	}
	brOff, brLen, err := w.Span(byteRange)
	if err != nil {
		t.Fatal(err)
	}
	total, err := w.Len()
	if err != nil {
		t.Fatal(err)
	}
	br := []byte("[0 " + itoa(int(off)) + " " + itoa(int(off+n)) + " " + itoa(int(total-off-n)) + "]")
	br = append(br, bytes.Repeat([]byte(" "), int(brLen)-len(br))...)
	if err := w.Patch(byteRange, br); err != nil {
		t.Fatal(err)
	}
	var out bytes.Buffer
	if _, err := w.WriteTo(&out); err != nil {
		t.Fatalf("WriteTo: %v", err)
	}
	got := out.Bytes()
	if int64(len(got)) != total {
		t.Fatalf("wrote %d bytes, Len said %d", len(got), total)
	}
	if !bytes.HasPrefix(got, data) {
		t.Fatal("the original is not a prefix of the output")
	}
	if s := string(got[off : off+n]); s[0] != '<' || s[1:3] != "AB" {
		t.Errorf("bytes at the contents span: %q", s[:10])
	}
	if s := string(got[brOff : brOff+brLen]); s[:3] != "[0 " {
		t.Errorf("bytes at the byte range span: %q", s)
	}

	rd2, err := Open(bytes.NewReader(got), int64(len(got)), nil)
	if err != nil {
		t.Fatalf("reopening: %v", err)
	}
	if rd2.LastXrefIsStream() != rd.LastXrefIsStream() {
		t.Errorf("new section kind differs from the original's")
	}
	if rd2.LastXref() <= int64(len(data)) {
		t.Errorf("LastXref %d is not in the update", rd2.LastXref())
	}
	cat2, _, err := rd2.Catalog()
	if err != nil {
		t.Fatal(err)
	}
	o, err := rd2.Get(cat2.Get("KysoTest"))
	if err != nil {
		t.Fatal(err)
	}
	sd, ok := o.(*Dict)
	if !ok || sd.Get("SubFilter") != Name("ETSI.CAdES.detached") {
		t.Fatalf("new object read back as %v", o)
	}
	if c := sd.Get("Contents").(String); len(c.Value) != 64 || c.Value[0] != 0xab {
		t.Errorf("contents read back as %x", c.Value)
	}
	if nm := sd.Get("Name").(String); string(nm.Value) != "NGUY\xc1N (test) \\ " {
		t.Errorf("name read back as %q", nm.Value)
	}
	if br := sd.Get("ByteRange").(Array); len(br) != 4 || br[1] != Int(off) {
		t.Errorf("byte range read back as %v", br)
	}
	id1, _ := rd.Trailer().Get("ID").(Array)
	id2, _ := rd2.Trailer().Get("ID").(Array)
	if len(id2) != 2 {
		t.Errorf("no /ID in the update: %v", rd2.Trailer())
	} else if len(id1) == 2 && !bytes.Equal(id1[0].(String).Value, id2[0].(String).Value) {
		t.Errorf("first /ID element changed: %x → %x", id1[0].(String).Value, id2[0].(String).Value)
	}
	if p2, err := rd2.Pages(); err != nil || len(p2) != pages {
		t.Errorf("reread pages: %d, %v", len(p2), err)
	}
	path := filepath.Join(dir, "out.pdf")
	if err := os.WriteFile(path, got, 0o600); err != nil {
		t.Fatal(err)
	}
	checkOutside(t, path, pages, testText)
}

func TestEncrypted(t *testing.T) {
	data := buildClassic("1.7", []string{
		"<< /Type /Catalog /Pages 2 0 R >>",
		"<< /Type /Pages /Kids [] /Count 0 >>",
		"<< /Filter /Standard /V 2 /R 3 /O <00> /U <00> /P -4 >>",
	}, "/Encrypt 3 0 R ")
	_, err := Open(bytes.NewReader(data), int64(len(data)), nil)
	if !errors.Is(err, ErrEncrypted) {
		t.Fatalf("Open = %v, want ErrEncrypted", err)
	}
	var pe *Error
	if !errors.As(err, &pe) || err.Error()[:5] != "pdf: " {
		t.Errorf("error %q is not a *pdf.Error prefixed pdf:", err)
	}
}

func TestParseObject(t *testing.T) {
	tests := []struct {
		in   string
		want string // canonical re-serialization
	}{
		{"null", "null"},
		{"true", "true"},
		{"-12", "-12"},
		{"+3.50", "3.5"},
		{".5", "0.5"},
		{"-.002", "-0.002"},
		{"4.", "4.0"},
		{"--7", "7"},
		{"12345678901234567890", "12345678901234567000.0"},
		{"/Name#20with#23hash", "/Name#20with#23hash"},
		{"/A;B", "/A;B"},
		{"(a (balanced) string\\)\\\\)", "(a \\(balanced\\) string\\)\\\\)"},
		{"(oct\\101\\0121\\7)", "(octA\\n1\\007)"},
		{"(line\\\ncont\r\nx)", "(linecont\\nx)"},
		{"<48 65 6C6C 6F7>", "<48656C6C6F70>"},
		{"[1 2 R 3 [4] <<>>]", "[1 2 R 3 [4] <<>>]"},
		{"<< /B 2 /A (x) /N null /R 10 0 R >>", "<</B 2 /A (x) /R 10 0 R>>"},
		{"% comment\n[1%c\n2]", "[1 2]"},
	}
	for _, tc := range tests {
		t.Run(tc.in, func(t *testing.T) {
			obj, err := ParseObject([]byte(tc.in), nil)
			if err != nil {
				t.Fatalf("ParseObject: %v", err)
			}
			b, err := AppendObject(nil, obj)
			if err != nil {
				t.Fatal(err)
			}
			if string(b) != tc.want {
				t.Errorf("got %s, want %s", b, tc.want)
			}
			again, err := ParseObject(b, nil)
			if err != nil {
				t.Fatalf("reparsing %s: %v", b, err)
			}
			b2, _ := AppendObject(nil, again)
			if !bytes.Equal(b, b2) {
				t.Errorf("not stable: %s then %s", b, b2)
			}
		})
	}
	for _, bad := range []string{"", "]", ">>", "<< 1 2 >>", "(open", "<4G>", "[1 2", "endobj", "1.2.3", ")"} {
		if _, err := ParseObject([]byte(bad), nil); err == nil {
			t.Errorf("ParseObject(%q) succeeded", bad)
		}
	}
}
