package display

import (
	"fmt"
	"strings"
	"unicode"
	"unicode/utf8"
)

// MaxCombiningRun is the most combining marks (general categories Mn and
// Me) Text accepts in a row. Vietnamese needs two at most (a vowel's
// circumflex, breve or horn, and the tone), and none once NFC has
// composed them; longer stacks ("Zalgo" text) draw over the lines above
// and below.
const MaxCombiningRun = 4

// hidden says why r may not be shown as it is, or "" when it may. The
// refused characters are those that make a line look other than what it
// holds:
//
//   - control characters (C0, DEL, C1: Unicode general category Cc): a
//     terminal obeys ESC sequences (clearing the screen, moving the
//     cursor, changing colours), CR and BS overwrite, LF starts a line
//     the sender draws;
//   - bidirectional controls (U+061C, U+200E, U+200F, U+202A–U+202E,
//     U+2066–U+2069): "invoice\u202efdp.exe" shows as "invoiceexe.pdf"
//     (Unicode UAX #9; CVE-2021-42574, "Trojan Source");
//   - the line and paragraph separators U+2028 and U+2029;
//   - invisible characters: the other format characters (Cf: zero-width
//     space, joiners, word joiner, byte order mark, soft hyphen, tags…),
//     the other default-ignorable code points (Hangul fillers, the
//     combining grapheme joiner…) and variation selectors, which show as
//     nothing and so make two different strings look alike;
//   - private-use characters and code points unassigned in Unicode
//     15.0.0 (noncharacters included), whose look no one can predict.
func hidden(r rune) string {
	switch {
	case unicode.Is(unicode.Cc, r):
		return "control character"
	case unicode.Is(unicode.Bidi_Control, r):
		return "bidirectional control"
	case unicode.In(r, unicode.Zl, unicode.Zp):
		return "line separator"
	case unicode.In(r, unicode.Cf, unicode.Other_Default_Ignorable_Code_Point, unicode.Variation_Selector):
		return "invisible character"
	case unicode.Is(unicode.Co, r):
		return "private-use character"
	case !unicode.In(r, unicode.L, unicode.M, unicode.N, unicode.P, unicode.S, unicode.Zs):
		return "unassigned code point"
	}
	return ""
}

func combining(r rune) bool { return unicode.In(r, unicode.Mn, unicode.Me) }

// TextError says why Text refused a value: which field, which character
// at which position (counted in characters from 1), and what it is.
type TextError struct {
	Field string
	// Rune is the character refused; utf8.RuneError for invalid UTF-8.
	Rune rune
	// Position is Rune's position in the value, in characters from 1;
	// for invalid UTF-8, the byte offset from 1.
	Position int
	// Reason names what the character is: "control character",
	// "bidirectional control", "invisible character", ….
	Reason string
}

func (e *TextError) Error() string {
	if e.Rune == utf8.RuneError && e.Reason == "invalid UTF-8" {
		return fmt.Sprintf("%s: invalid UTF-8 at byte %d", e.Field, e.Position)
	}
	return fmt.Sprintf("%s: %s %U at position %d is not allowed", e.Field, e.Reason, e.Rune, e.Position)
}

// Text checks that s, the value of the field named field, shows as what
// it holds: one line of valid UTF-8 without the characters hidden lists
// (no control character, so no newline or tab either; no bidirectional
// control; nothing invisible) and without more than MaxCombiningRun
// combining marks in a row. It checks characters only: the caller bounds
// the length and says whether s may be empty. Every API takes the
// descriptions, document names and IDs it shows to an owner through Text,
// so that a relying party cannot make the owner see one thing and approve
// another; Escape shows whatever got in before as Text would have
// refused it. The error is a *TextError.
func Text(field, s string) error {
	pos, run := 0, 0
	for i, r := range s {
		pos++
		if r == utf8.RuneError {
			if _, n := utf8.DecodeRuneInString(s[i:]); n == 1 {
				return &TextError{Field: field, Rune: r, Position: i + 1, Reason: "invalid UTF-8"}
			}
		}
		if why := hidden(r); why != "" {
			return &TextError{Field: field, Rune: r, Position: pos, Reason: why}
		}
		if run = nextRun(run, r); run > MaxCombiningRun {
			return &TextError{Field: field, Rune: r, Position: pos, Reason: fmt.Sprintf("combining mark after %d others", MaxCombiningRun)}
		}
	}
	return nil
}

func nextRun(run int, r rune) int {
	if combining(r) {
		return run + 1
	}
	return 0
}

// Escape returns s as a terminal or a page may show it: every character
// Text refuses written visibly as a Go escape — \x1b, \x0a for ASCII
// controls and for the bytes of invalid UTF-8, \u202e, \U000e0041 for the
// others — and everything else as it is, Vietnamese included. Text
// accepts what Escape returns, and Escape returns what Text accepts
// unchanged; a backslash is not escaped, so text that spells an escape
// shows as the escape it spells, which is as visible. Every command and
// page that shows an owner text a relying party chose (kyso approve, the
// owners' API, the verification report) writes it through Escape, so text
// stored before Text guarded the edge cannot draw on the owner's screen.
func Escape(s string) string {
	if Text("", s) == nil {
		return s
	}
	var b strings.Builder
	run := 0
	for i, r := range s {
		if r == utf8.RuneError {
			if _, n := utf8.DecodeRuneInString(s[i:]); n == 1 {
				fmt.Fprintf(&b, `\x%02x`, s[i])
				run = 0
				continue
			}
		}
		// run counts the input's marks: once a run is too long, the
		// rest of it is escaped too.
		run = nextRun(run, r)
		switch {
		case hidden(r) == "" && run <= MaxCombiningRun:
			b.WriteRune(r)
		case r < utf8.RuneSelf:
			fmt.Fprintf(&b, `\x%02x`, r)
		case r <= 0xffff:
			fmt.Fprintf(&b, `\u%04x`, r)
		default:
			fmt.Fprintf(&b, `\U%08x`, r)
		}
	}
	return b.String()
}
