package display

import (
	"sort"
	"unicode"
)

// scriptNames are the names of unicode.Scripts, sorted, so that
// ScriptName answers the same for the same rune every time.
var scriptNames = func() []string {
	names := make([]string, 0, len(unicode.Scripts))
	for n := range unicode.Scripts {
		names = append(names, n)
	}
	sort.Strings(names)
	return names
}()

// ScriptName returns the name of r's Unicode script (UAX #24's Script
// property, as Go's unicode.Scripts names it: "Latin", "Cyrillic",
// "Greek", "Common" for punctuation and digits shared by all, "Inherited"
// for combining marks that take their base's), or "Unknown" for a code
// point without one.
func ScriptName(r rune) string {
	switch {
	case r < 0x80 && (r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z'):
		return "Latin"
	case unicode.Is(unicode.Latin, r):
		return "Latin"
	case unicode.Is(unicode.Common, r):
		return "Common"
	case unicode.Is(unicode.Inherited, r):
		return "Inherited"
	}
	for _, n := range scriptNames {
		if unicode.Is(unicode.Scripts[n], r) {
			return n
		}
	}
	return "Unknown"
}

// augmented is Unicode TR 39 section 5.1's augmented script set of a
// character of script sc: Han, Hiragana, Katakana, Hangul and Bopomofo
// also count as the writing systems that combine them (Japanese, Korean,
// Han with Bopomofo), so that a Japanese name mixing kanji and kana is
// single-script. Common and Inherited are nil: they belong to every
// script.
func augmented(sc string) []string {
	switch sc {
	case "Common", "Inherited":
		return nil
	case "Han":
		return []string{"Han", "Hanb", "Jpan", "Kore"}
	case "Hiragana", "Katakana":
		return []string{sc, "Jpan"}
	case "Hangul":
		return []string{"Hangul", "Kore"}
	case "Bopomofo":
		return []string{"Bopomofo", "Hanb"}
	}
	return []string{sc}
}

// MixedScript reports whether s is mixed-script in the sense of Unicode
// TR 39 section 5.1: no script has every character of s, characters of
// the Common and Inherited scripts (spaces, punctuation, digits, combining
// marks) belonging to all. It then returns two characters that share no
// script: the one that last narrowed the scripts s could be written in,
// and the first that fits none of them. "Nguyễn Văn Đức" is single-script (Latin); "Vаn" with a
// Cyrillic "а" (U+0430) is mixed, the confusable TR 39 is about. Scripts
// are the characters' Script property, not Script_Extensions, which Go's
// tables lack: the few characters that Script_Extensions lets several
// scripts share (some Arabic and Indic punctuation, for instance) count
// as their one script here, which can call a string mixed that TR 39
// would not, never the reverse.
func MixedScript(s string) (first, other rune, mixed bool) {
	var set []string // nil: every script
	for _, r := range s {
		aug := augmented(ScriptName(r))
		if aug == nil {
			continue
		}
		if set == nil {
			set, first = aug, r
			continue
		}
		var both []string
		for _, a := range set {
			for _, b := range aug {
				if a == b {
					both = append(both, a)
				}
			}
		}
		if len(both) == 0 {
			return first, r, true
		}
		if len(both) < len(set) {
			first = r
		}
		set = both
	}
	return 0, 0, false
}
