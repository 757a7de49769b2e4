package display

import (
	"errors"
	"strings"
	"testing"
	"unicode/utf8"
)

// The strings of issue 13's review.
const (
	hostileDesc  = "Ký\x1b[2J\x1b[1;1H\x1b[32mAPPROVED SAFE\x1b[0m\nfake line"
	hostileDocID = "invoice\u202efdp.exe"
)

func TestText(t *testing.T) {
	for _, c := range []struct {
		name, in string
		want     string // "": accepted
	}{
		{"Vietnamese", "Hồ sơ đăng ký khai sinh — bản chính (2 trang), 100%", ""},
		{"decomposed Vietnamese", "Ky\u0301 so\u0302\u0301", ""},
		{"no-break and ideographic spaces", "a\u00a0b\u3000c", ""},
		{"Cyrillic, Greek, Arabic, Han letters", "Привет Γειά مرحبا 你好", ""},
		{"emoji", "✅ 📄", ""},
		{"empty", "", ""},
		{"the review's description", hostileDesc, "f: control character U+001B at position 3 is not allowed"},
		{"newline", "a\nb", "f: control character U+000A at position 2 is not allowed"},
		{"tab", "\ta", "f: control character U+0009 at position 1 is not allowed"},
		{"CR", "a\r", "f: control character U+000D at position 2 is not allowed"},
		{"NUL", "\x00", "f: control character U+0000 at position 1 is not allowed"},
		{"DEL", "a\x7f", "f: control character U+007F at position 2 is not allowed"},
		{"C1 CSI", "a\u009b2J", "f: control character U+009B at position 2 is not allowed"},
		{"NEL", "a\u0085b", "f: control character U+0085 at position 2 is not allowed"},
		{"the review's doc_id", hostileDocID, "f: bidirectional control U+202E at position 8 is not allowed"},
		{"LRE", "\u202a", "f: bidirectional control U+202A at position 1 is not allowed"},
		{"RLI", "x\u2067", "f: bidirectional control U+2067 at position 2 is not allowed"},
		{"PDI", "x\u2069", "f: bidirectional control U+2069 at position 2 is not allowed"},
		{"LRM", "x\u200e", "f: bidirectional control U+200E at position 2 is not allowed"},
		{"RLM", "x\u200f", "f: bidirectional control U+200F at position 2 is not allowed"},
		{"ALM", "x\u061c", "f: bidirectional control U+061C at position 2 is not allowed"},
		{"zero-width space", "hợp\u200bđồng", "f: invisible character U+200B at position 4 is not allowed"},
		{"ZWNJ", "a\u200cb", "f: invisible character U+200C at position 2 is not allowed"},
		{"ZWJ", "a\u200db", "f: invisible character U+200D at position 2 is not allowed"},
		{"word joiner", "a\u2060b", "f: invisible character U+2060 at position 2 is not allowed"},
		{"BOM", "\ufeffa", "f: invisible character U+FEFF at position 1 is not allowed"},
		{"soft hyphen", "a\u00adb", "f: invisible character U+00AD at position 2 is not allowed"},
		{"tag letter", "a\U000e0041", "f: invisible character U+E0041 at position 2 is not allowed"},
		{"Hangul filler", "a\u3164b", "f: invisible character U+3164 at position 2 is not allowed"},
		{"variation selector", "a\ufe0f", "f: invisible character U+FE0F at position 2 is not allowed"},
		{"combining grapheme joiner", "a\u034fb", "f: invisible character U+034F at position 2 is not allowed"},
		{"line separator", "a\u2028b", "f: line separator U+2028 at position 2 is not allowed"},
		{"paragraph separator", "a\u2029b", "f: line separator U+2029 at position 2 is not allowed"},
		{"private use", "a\ue000", "f: private-use character U+E000 at position 2 is not allowed"},
		{"noncharacter", "a\ufffe", "f: unassigned code point U+FFFE at position 2 is not allowed"},
		{"unassigned", "a\u0378", "f: unassigned code point U+0378 at position 2 is not allowed"},
		{"invalid UTF-8", "ab\xff", "f: invalid UTF-8 at byte 3"},
		{"four combining marks", "a\u0301\u0302\u0303\u0304", ""},
		{"Zalgo", "a\u0301\u0302\u0303\u0304\u0305", "f: combining mark after 4 others U+0305 at position 6 is not allowed"},
	} {
		t.Run(c.name, func(t *testing.T) {
			err := Text("f", c.in)
			if c.want == "" {
				if err != nil {
					t.Fatalf("Text(%q) = %v; want nil", c.in, err)
				}
				if got := Escape(c.in); got != c.in {
					t.Errorf("Escape(%q) = %q; want it unchanged", c.in, got)
				}
				return
			}
			var te *TextError
			if err == nil || err.Error() != c.want || !errors.As(err, &te) || te.Field != "f" {
				t.Fatalf("Text(%q) = %v; want %q", c.in, err, c.want)
			}
			if esc := Escape(c.in); Text("f", esc) != nil || esc == c.in {
				t.Errorf("Escape(%q) = %q, which Text refuses or which is unchanged", c.in, esc)
			}
		})
	}
}

func TestEscape(t *testing.T) {
	for _, c := range []struct{ in, want string }{
		{hostileDesc, `Ký\x1b[2J\x1b[1;1H\x1b[32mAPPROVED SAFE\x1b[0m\x0afake line`},
		{hostileDocID, `invoice\u202efdp.exe`},
		{"a\u0085b\u200b\U000e0041", `a\u0085b\u200b\U000e0041`},
		{"ab\xff\xfe", `ab\xff\xfe`},
		{"a\u0301\u0302\u0303\u0304\u0305\u0306b\u0301", `a` + "\u0301\u0302\u0303\u0304" + `\u0305\u0306b` + "\u0301"},
		{`C:\docs\a.pdf`, `C:\docs\a.pdf`},
	} {
		if got := Escape(c.in); got != c.want {
			t.Errorf("Escape(%q) = %q; want %q", c.in, got, c.want)
		}
	}
}

// FuzzText: Escape's answer always passes Text, is left alone by Escape,
// and equals its input exactly when Text accepts the input; nothing Text
// accepts holds a control, bidirectional or invisible character.
func FuzzText(f *testing.F) {
	for _, s := range []string{"", "Hồ sơ", hostileDesc, hostileDocID, "a\u200b", "a\u0301\u0302\u0303\u0304\u0305\u0306", "\xff\xfe", "\U000e0041"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		esc := Escape(s)
		if err := Text("f", esc); err != nil {
			t.Fatalf("Text(Escape(%q) = %q) = %v", s, esc, err)
		}
		if again := Escape(esc); again != esc {
			t.Fatalf("Escape is not idempotent on %q: %q then %q", s, esc, again)
		}
		ok := Text("f", s) == nil
		if ok != (esc == s) {
			t.Fatalf("Text(%q) accepted %v, but Escape returned %q", s, ok, esc)
		}
		if ok {
			if !utf8.ValidString(s) || strings.ContainsFunc(s, func(r rune) bool {
				return r < 0x20 || r >= 0x7f && r < 0xa0 || r >= 0x202a && r <= 0x202e || r >= 0x2066 && r <= 0x2069 || r >= 0x200b && r <= 0x200f || r == 0xfeff
			}) {
				t.Fatalf("Text accepted %q", s)
			}
		}
	})
}

func TestMixedScript(t *testing.T) {
	for _, c := range []struct {
		in           string
		first, other rune
	}{
		{"Nguyễn Văn Đức", 0, 0},
		{"Nguye\u0302\u0303n", 0, 0},
		{"H'Hen Niê", 0, 0},
		{"Иван Петров", 0, 0},
		{"Ελένη", 0, 0},
		{"山田 はなこ", 0, 0},            // Han and Hiragana: Japanese
		{"김 민준", 0, 0},              // Hangul
		{"123 - .", 0, 0},           // Common only
		{"V\u0430n", 'V', '\u0430'}, // Cyrillic а in a Latin name
		{"Nguy\u0435n", 'N', '\u0435'},
		{"Tr\u03bfng", 'T', '\u03bf'}, // Greek omicron
		{"\u0430bc", '\u0430', 'b'},
		{"山田 はなこ 김", 'は', '김'},
	} {
		first, other, mixed := MixedScript(c.in)
		if mixed != (c.other != 0) || first != c.first || other != c.other {
			t.Errorf("MixedScript(%q) = %q, %q, %v; want %q, %q", c.in, first, other, mixed, c.first, c.other)
		}
	}
	for r, want := range map[rune]string{'a': "Latin", 'Đ': "Latin", 'ễ': "Latin", '\u0430': "Cyrillic", 'ο': "Greek", ' ': "Common", '\u0301': "Inherited", '\u0378': "Unknown"} {
		if got := ScriptName(r); got != want {
			t.Errorf("ScriptName(%U) = %q; want %q", r, got, want)
		}
	}
}
