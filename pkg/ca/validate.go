package ca

import (
	"errors"
	"fmt"
	"net/mail"
	"strings"
	"unicode"
	"unicode/utf8"

	"golang.org/x/text/unicode/norm"

	"github.com/kyso-pki/kyso/pkg/display"
)

// ErrInvalidRequest is wrapped by every error about a request's content
// (national ID, name, province, tax code, e-mail, validity, CSR), so that the
// edge can answer "bad request" without string matching.
var ErrInvalidRequest = errors.New("invalid request")

// MaxNameLength is the longest person or organisation name accepted, in
// characters: RFC 5280 Appendix A's ub-common-name and ub-organization-name.
const MaxNameLength = 64

// maxPlaceLength bounds ST and L (RFC 5280 Appendix A: ub-state-name,
// ub-locality-name).
const maxPlaceLength = 128

func invalid(format string, args ...any) error {
	return fmt.Errorf("ca: %w: %s", ErrInvalidRequest, fmt.Sprintf(format, args...))
}

// ValidateCCCD checks a citizen identity number (căn cước công dân): 12
// ASCII digits, the first three a province code of Circular 07/2016/TT-BCA,
// then a gender-and-century digit, two digits of the birth year and six
// random digits. It returns the number with surrounding space removed.
func ValidateCCCD(s string) (string, error) {
	s = strings.TrimSpace(s)
	if len(s) != 12 || !allDigits(s) {
		return "", invalid("CCCD %q must be exactly 12 digits", s)
	}
	if _, ok := cccdProvinceCodes[s[:3]]; !ok {
		return "", invalid("CCCD %q starts with %s, which is not a province code of Circular 07/2016/TT-BCA (001…096)", s, s[:3])
	}
	return s, nil
}

// ValidateTaxCode checks a Vietnamese tax code (mã số thuế): 10 digits, or
// 10 digits, '-' and a 3-digit branch suffix.
func ValidateTaxCode(s string) (string, error) {
	s = strings.TrimSpace(s)
	head, branch, hasBranch := strings.Cut(s, "-")
	if len(head) != 10 || !allDigits(head) || (hasBranch && (len(branch) != 3 || !allDigits(branch))) {
		return "", invalid("tax code %q must be 10 digits, or 10 digits, '-' and 3 digits", s)
	}
	return s, nil
}

// ValidateProvince returns the canonical name of one of the 34 provinces and
// centrally-run cities in force since 1 July 2025 (Resolution
// 202/2025/QH15), matching s case-insensitively after NFC normalisation, with
// or without a "Tỉnh"/"Thành phố" prefix and in either tone-mark placement
// (Hòa/Hoà). A province that was merged away is refused with the name of its
// successor: a certificate issued today names a unit that exists today.
func ValidateProvince(s string) (string, error) {
	k, t := provinceKey(s), provinceKeys()
	if p, ok := t.byKey[k]; ok {
		return p, nil
	}
	if now, ok := t.merged[k]; ok {
		return "", invalid("province %q was merged into %q on 1 July 2025 (Resolution 202/2025/QH15); use the new name", strings.TrimSpace(s), now)
	}
	return "", invalid("province %q is not one of the 34 provinces and cities in force since 1 July 2025", strings.TrimSpace(s))
}

// NormalizeName returns s in Unicode NFC with surrounding space trimmed and
// inner runs of white space collapsed to one space. It refuses invalid
// UTF-8, an empty name, one longer than max characters, and a name that
// would show as other than it is: control, bidirectional and invisible
// characters (display.Text); compatibility forms that NFKC folds into
// another character (fullwidth "Ｖ", mathematical "𝐕", ligatures), which
// look like the letter they fold into; and mixed-script confusables
// (Unicode TR 39 section 5.1, display.MixedScript): "Vаn" with a Cyrillic
// "а" is not "Văn". what names the field in errors.
func NormalizeName(what, s string, max int) (string, error) {
	if !utf8.ValidString(s) {
		return "", invalid("%s is not valid UTF-8", what)
	}
	s = norm.NFC.String(strings.Join(strings.Fields(s), " "))
	if err := display.Text(what, s); err != nil {
		return "", fmt.Errorf("ca: %w: %w", ErrInvalidRequest, err)
	}
	if s == "" {
		return "", invalid("%s is empty", what)
	}
	if n := utf8.RuneCountInString(s); n > max {
		return "", invalid("%s is %d characters long, at most %d allowed", what, n, max)
	}
	if !norm.NFKC.IsNormalString(s) {
		for _, r := range s {
			if k := norm.NFKC.String(string(r)); k != string(r) {
				return "", invalid("%s %q contains %q (%U), a compatibility form of %q: write %q", what, s, r, r, k, k)
			}
		}
	}
	if a, b, mixed := display.MixedScript(s); mixed {
		return "", invalid("%s %q mixes scripts: %q (%U) is %s, %q (%U) is %s; a name in one script cannot be told from its look-alike (Unicode TR 39)",
			what, s, a, a, display.ScriptName(a), b, b, display.ScriptName(b))
	}
	return s, nil
}

// normalizePersonName is NormalizeName for a citizen's full name: letters
// of the Latin script, in which Vietnamese and the names of every
// Vietnamese citizen are written (the CCCD prints them so), with their
// diacritics; spaces; and the '-', '\” and '.' found in names. A letter
// of another script is refused even in a name written wholly in it, and
// so are the Latin letters of phonetic notation (IPA "ɑ" for "a") and the
// click letters that look like '|' and '!'.
func normalizePersonName(s string) (string, error) {
	s, err := NormalizeName("name", s, MaxNameLength)
	if err != nil {
		return "", err
	}
	for _, r := range s {
		if !(unicode.IsLetter(r) || unicode.Is(unicode.Mn, r) || r == ' ' || r == '-' || r == '\'' || r == '.') {
			return "", invalid("name %q contains %q: a person's name has only letters, spaces, '-', '\\'' and '.'", s, r)
		}
		if !unicode.IsLetter(r) {
			continue
		}
		if sc := display.ScriptName(r); sc != "Latin" {
			return "", invalid("name %q: %q (%U) is a %s letter; a citizen's name is written in the Latin letters of the Vietnamese alphabet", s, r, r, sc)
		}
		if !nameLetter(r) {
			return "", invalid("name %q: %q (%U) is a phonetic or technical letter, not one names are written with", s, r, r)
		}
	}
	if !strings.ContainsFunc(s, unicode.IsLetter) {
		return "", invalid("name %q has no letters", s)
	}
	return s, nil
}

// nameLetter reports whether the Latin letter r is in a block names are
// written with: Basic Latin, Latin-1 Supplement, Latin Extended-A and -B
// (but not the click letters U+01C0–U+01C3), and Latin Extended
// Additional, where Vietnamese's precomposed letters are; not IPA
// Extensions, the phonetic extensions or Latin Extended-C, -D and -E.
func nameLetter(r rune) bool {
	return r < 0x01c0 || r > 0x01c3 && r <= 0x024f || r >= 0x1e00 && r <= 0x1eff
}

// ValidateEmail checks an RFC 5322 addr-spec for the rfc822Name SAN (RFC
// 5280 section 4.2.1.6): ASCII, no display name, a domain with a dot.
func ValidateEmail(s string) (string, error) {
	s = strings.TrimSpace(s)
	a, err := mail.ParseAddress(s)
	if err != nil || a.Name != "" || a.Address != s {
		return "", invalid("e-mail address %q is not a plain address (user@example.vn)", s)
	}
	if len(s) > 254 {
		return "", invalid("e-mail address is %d bytes long, at most 254 allowed", len(s))
	}
	for i := 0; i < len(s); i++ {
		if s[i] >= utf8.RuneSelf || s[i] <= ' ' {
			return "", invalid("e-mail address %q must be ASCII without spaces (RFC 5280 section 4.2.1.6)", s)
		}
	}
	_, domain, _ := strings.Cut(s, "@")
	if !strings.Contains(domain, ".") || strings.HasPrefix(domain, ".") || strings.HasSuffix(domain, ".") || strings.Contains(domain, "..") {
		return "", invalid("e-mail address %q has no valid domain", s)
	}
	return s, nil
}

func allDigits(s string) bool {
	for i := 0; i < len(s); i++ {
		if s[i] < '0' || s[i] > '9' {
			return false
		}
	}
	return s != ""
}
