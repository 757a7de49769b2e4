package signing

import (
	"fmt"
	"strconv"
	"strings"

	"github.com/kyso-pki/kyso/pkg/display"
)

// checkPIN refuses a PIN that is not 6 to 12 ASCII digits, or that is
// trivial for the owner with CCCD cccd (trivialPIN).
func checkPIN(pin, cccd string) error {
	if len(pin) < 6 || len(pin) > 12 {
		return fail(KindInvalid, "the PIN must have 6 to 12 digits")
	}
	for i := 0; i < len(pin); i++ {
		if pin[i] < '0' || pin[i] > '9' {
			return fail(KindInvalid, "the PIN must have only digits")
		}
	}
	if why := trivialPIN(pin, cccd); why != "" {
		return fail(KindInvalid, "the PIN is too easy to guess: %s; choose another", why)
	}
	return nil
}

// trivialPIN says why the PIN pin (6 to 12 ASCII digits) is among the
// first an attacker tries against the owner with CCCD cccd (12 digits), or
// "" when it is not. NIST SP 800-63B section 5.1.1.2 asks a verifier to
// refuse memorised secrets that are repetitive or sequential, or derived
// from context such as the user's name or identifier; for a PIN that is:
//
//   - one digit repeated (000000), or one group of at most half its
//     length repeated (121212, 123123, 1212121);
//   - a run of consecutive digits, ascending or descending, wrapping
//     past 9 or 0 (123456, 654321, 890123);
//   - six consecutive digits of the owner's CCCD, anywhere in the PIN:
//     the relying parties and the registration officer know the number;
//   - a date in the owner's year of birth, which the CCCD's fourth to
//     sixth digits give (century and sex, then the year's last two
//     digits; Circular 07/2016/TT-BCA): ddmmyy, yymmdd, mmddyy,
//     ddmmyyyy, yyyymmdd or mmddyyyy.
func trivialPIN(pin, cccd string) string {
	for p := 1; p <= len(pin)/2; p++ {
		if pin[p:] == pin[:len(pin)-p] { // a period of p
			if p == 1 {
				return "one digit repeated"
			}
			return "one group of digits repeated"
		}
	}
	if run(pin, 1) {
		return "a run of ascending digits"
	}
	if run(pin, 9) {
		return "a run of descending digits"
	}
	for i := 0; i+6 <= len(cccd); i++ {
		if strings.Contains(pin, cccd[i:i+6]) {
			return "it holds digits of the CCCD"
		}
	}
	if year, ok := birthYear(cccd); ok && birthDate(pin, year) {
		return "it is a date in the year of birth the CCCD gives"
	}
	return ""
}

// run reports whether each digit of s is the one before plus step,
// modulo 10.
func run(s string, step byte) bool {
	for i := 1; i < len(s); i++ {
		if (s[i-1]-'0'+step)%10 != s[i]-'0' {
			return false
		}
	}
	return true
}

// birthYear reads the year of birth from a 12-digit CCCD: its fourth
// digit is the century and sex (0 and 1 the 20th century, 2 and 3 the
// 21st, and so on), its fifth and sixth the year's last two digits.
func birthYear(cccd string) (int, bool) {
	if len(cccd) != 12 {
		return 0, false
	}
	c, err1 := strconv.Atoi(cccd[3:4])
	yy, err2 := strconv.Atoi(cccd[4:6])
	if err1 != nil || err2 != nil {
		return 0, false
	}
	return 1900 + c/2*100 + yy, true
}

// birthDate reports whether pin writes a day of year in one of the forms
// people choose: ddmmyy, yymmdd, mmddyy, ddmmyyyy, yyyymmdd, mmddyyyy.
func birthDate(pin string, year int) bool {
	for m := 1; m <= 12; m++ {
		for d := 1; d <= 31; d++ {
			for _, f := range []string{"%02[1]d%02[2]d%02[3]d", "%02[3]d%02[2]d%02[1]d", "%02[2]d%02[1]d%02[3]d",
				"%02[1]d%02[2]d%04[4]d", "%04[4]d%02[2]d%02[1]d", "%02[2]d%02[1]d%04[4]d"} {
				if fmt.Sprintf(f, d, m, year%100, year) == pin {
					return true
				}
			}
		}
	}
	return false
}

// checkPhone checks an owner's phone number, which kyso keeps to reach
// them: empty, or 8 to 15 digits (ITU-T E.164) with an optional leading
// '+' and spaces, '-', '.' and parentheses between them, and nothing
// that would show as other than it is.
func checkPhone(s string) error {
	if s == "" {
		return nil
	}
	if err := display.Text("phone", s); err != nil {
		return &Error{Kind: KindInvalid, Description: err.Error(), Err: err}
	}
	digits := 0
	for i, r := range s {
		switch {
		case r >= '0' && r <= '9':
			digits++
		case r == '+' && i == 0, r == ' ', r == '-', r == '.', r == '(', r == ')':
		default:
			return fail(KindInvalid, "phone %q: only digits, a leading '+', spaces, '-', '.' and parentheses", s)
		}
	}
	if digits < 8 || digits > 15 {
		return fail(KindInvalid, "phone %q has %d digits; a phone number has 8 to 15 (E.164)", s, digits)
	}
	return nil
}
