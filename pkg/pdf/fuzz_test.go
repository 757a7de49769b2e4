package pdf

import (
	"bytes"
	"testing"

	"github.com/kyso-pki/kyso/testvectors"
)

// fuzzLimits keeps each fuzz input cheap.
var fuzzLimits = &Limits{
	MaxFileSize:   1 << 20,
	MaxDepth:      32,
	MaxObjects:    1 << 12,
	MaxStringLen:  1 << 16,
	MaxStreamLen:  1 << 20,
	MaxDecodedLen: 1 << 20,
	MaxWork:       1 << 18,
}

// seedPDFs are the hand-made producers and the committed vectors.
func seedPDFs(f *testing.F) [][]byte {
	seeds := [][]byte{minimalPDF("1.7"), minimalPDF("2.0"), formPDF(), prevLoop(), selfObjStm(), incrementalOf(f, formPDF())}
	for _, name := range testvectors.Names("pdf") {
		if b := testvectors.Read(name); len(b) < 1<<20 {
			seeds = append(seeds, b)
		}
	}
	return seeds
}

// FuzzOpen runs the whole reader, and the writer, on arbitrary bytes.
// Run it with a short minimization time, or the default 60 s spent
// minimizing each new input eats a short fuzzing run:
//
//	go test ./pkg/pdf -run '^$' -fuzz '^FuzzOpen$' -fuzztime 30s -fuzzminimizetime 2s
func FuzzOpen(f *testing.F) {
	for _, s := range seedPDFs(f) {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		rd, err := Open(bytes.NewReader(data), int64(len(data)), fuzzLimits)
		if err != nil {
			return
		}
		rd.Catalog()
		if pages, err := rd.Pages(); err == nil {
			for _, p := range pages {
				if c, err := rd.Get(p.Dict.Get("Contents")); err == nil {
					if st, ok := c.(*Stream); ok {
						rd.StreamData(st)
					}
				}
			}
		}
		rd.Fields()
		for n := 0; n < min(rd.NumObjects(), 64); n++ {
			rd.Resolve(Ref{Num: n})
		}
		w := NewIncrementalWriter(bytes.NewReader(data), int64(len(data)), rd)
		w.Add(String{Value: []byte("x")})
		var out bytes.Buffer
		if _, err := w.WriteTo(&out); err == nil && !bytes.HasPrefix(out.Bytes(), data) {
			t.Fatal("the original is not a prefix of the output")
		}
	})
}

// FuzzParseObject parses one object and checks that its serialization
// parses back to the same serialization.
func FuzzParseObject(f *testing.F) {
	for _, s := range []string{
		"<< /Type /Catalog /Pages 2 0 R >>", "[1 2.5 -3 (a\\)b) <414> /N#20x true null]",
		"(\\101\\n)", "<</A<</B[[[]]]>>>>", "12 0 R", ".5", "--1",
	} {
		f.Add([]byte(s))
	}
	for _, s := range seedPDFs(f) {
		if len(s) > 200 {
			s = s[:200]
		}
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		obj, err := ParseObject(data, fuzzLimits)
		if err != nil {
			return
		}
		b, err := AppendObject(nil, obj)
		if err != nil {
			t.Fatalf("AppendObject(%#v): %v", obj, err)
		}
		again, err := ParseObject(b, nil)
		if err != nil {
			t.Fatalf("reparsing %q (from %q): %v", b, data, err)
		}
		b2, err := AppendObject(nil, again)
		if err != nil || !bytes.Equal(b, b2) {
			t.Fatalf("not stable: %q then %q (%v)", b, b2, err)
		}
	})
}
