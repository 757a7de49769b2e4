package ca

import (
	"errors"
	"fmt"
	"net/mail"
	"strings"
	"unicode"
	"unicode/utf8"

	"golang.org/x/text/unicode/norm"
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
	k := provinceKey(s)
	if p, ok := provinceByKey[k]; ok {
		return p, nil
	}
	if now, ok := mergedByKey[k]; ok {
		return "", invalid("province %q was merged into %q on 1 July 2025 (Resolution 202/2025/QH15); use the new name", strings.TrimSpace(s), now)
	}
	return "", invalid("province %q is not one of the 34 provinces and cities in force since 1 July 2025", strings.TrimSpace(s))
}

// NormalizeName returns s in Unicode NFC with surrounding space trimmed and
// inner runs of white space collapsed to one space. It refuses an empty
// name, one longer than max characters, control and format characters, and
// invalid UTF-8. what names the field in errors.
func NormalizeName(what, s string, max int) (string, error) {
	if !utf8.ValidString(s) {
		return "", invalid("%s is not valid UTF-8", what)
	}
	for _, r := range s {
		if unicode.IsControl(r) && !unicode.IsSpace(r) || unicode.Is(unicode.Cf, r) || r == utf8.RuneError {
			return "", invalid("%s %q contains the control or format character %U", what, s, r)
		}
	}
	s = norm.NFC.String(strings.Join(strings.Fields(s), " "))
	if s == "" {
		return "", invalid("%s is empty", what)
	}
	if n := utf8.RuneCountInString(s); n > max {
		return "", invalid("%s is %d characters long, at most %d allowed", what, n, max)
	}
	return s, nil
}

// normalizePersonName is NormalizeName for a person's full name: letters
// (with their diacritics), spaces, and the '-', '\” and '.' found in names.
func normalizePersonName(s string) (string, error) {
	s, err := NormalizeName("name", s, MaxNameLength)
	if err != nil {
		return "", err
	}
	for _, r := range s {
		if !(unicode.IsLetter(r) || unicode.Is(unicode.Mn, r) || r == ' ' || r == '-' || r == '\'' || r == '.') {
			return "", invalid("name %q contains %q: a person's name has only letters, spaces, '-', '\\'' and '.'", s, r)
		}
	}
	if !strings.ContainsFunc(s, unicode.IsLetter) {
		return "", invalid("name %q has no letters", s)
	}
	return s, nil
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
