package signing

import (
	"testing"
	"time"
)

// TestTrivialPIN: the PINs an attacker holding the owner's CCCD tries
// first are refused (NIST SP 800-63B section 5.1.1.2); others pass.
func TestTrivialPIN(t *testing.T) {
	const cccd = "079203001234" // Hồ Chí Minh City, a man born in 2003
	for _, c := range []struct {
		pin     string
		trivial bool
	}{
		{"000000", true}, {"999999999999", true}, {"121212", true}, {"123123", true}, {"1212121", true}, {"100100100", true},
		{"123456", true}, {"654321", true}, {"890123", true}, {"3210987", true}, {"0123456789", true},
		{"079203", true}, {"001234", true}, {"92030012", true}, {"55079203001234"[:12], true},
		{"150603", true}, {"030615", true}, {"061503", true}, {"15062003", true}, {"20030615", true}, {"06152003", true},
		{"271828", false}, {"135790", false}, {"246810", false}, {"112233", false}, {"150604", false}, {"15061903", false},
		{"583920", false}, {"12345679", false}, {"1231234", false},
	} {
		why := trivialPIN(c.pin, cccd)
		if (why != "") != c.trivial {
			t.Errorf("trivialPIN(%s) = %q; want trivial %v", c.pin, why, c.trivial)
		}
		if err := checkPIN(c.pin, cccd); (err != nil) != c.trivial {
			t.Errorf("checkPIN(%s) = %v", c.pin, err)
		}
	}
	for cccd, want := range map[string]int{"079203001234": 2003, "001098004321": 1998, "001198004321": 1998, "001325000001": 2025, "001500000001": 2100} {
		if y, ok := birthYear(cccd); !ok || y != want {
			t.Errorf("birthYear(%s) = %d, %v; want %d", cccd, y, ok, want)
		}
	}
}

func TestCheckPhone(t *testing.T) {
	for in, ok := range map[string]bool{
		"": true, "0912345678": true, "+84 912 345 678": true, "(028) 3822-1234": true, "+84.28.3822.1234": true,
		"0912": false, "+84 912 345 678 901 234": false, "09123456\u202e78": false, "0912345678\n": false, "phone 0912345678": false, "09+12345678": false,
	} {
		if err := checkPhone(in); (err == nil) != ok {
			t.Errorf("checkPhone(%q) = %v; want ok %v", in, err, ok)
		}
	}
}

// TestTOTPMatchNearestStep: when the code of the step now is also the code
// of the next step (a six-digit collision, found by search for RFC 6238's
// SHA-1 test secret), the code typed now spends the step now, not the
// next one, and the next step's code is still accepted at its time.
func TestTOTPMatchNearestStep(t *testing.T) {
	secret := []byte("12345678901234567890")
	const s = 57766335
	code := totpCode(secret, s)
	if totpCode(secret, s+1) != code || code != "251166" {
		t.Fatalf("steps %d and %d do not share a code: %s %s", s, s+1, code, totpCode(secret, s+1))
	}
	at := func(step int64) time.Time { return time.Unix(step*30+7, 0) }
	if got := totpMatch(secret, code, at(s)); got != s {
		t.Errorf("code %s at step %d matched step %d, want the step now", code, s, got)
	}
	if got := totpMatch(secret, code, at(s+1)); got != s+1 {
		t.Errorf("code %s at step %d matched step %d, want the step now", code, s+1, got)
	}
	// Away from a collision: the code of the step before or after now is
	// taken (clock skew), anything else is not.
	if got := totpMatch(secret, totpCode(secret, s-1), at(s)); got != s-1 {
		t.Errorf("the previous step's code matched %d", got)
	}
	if got := totpMatch(secret, totpCode(secret, s+2), at(s+1)); got != s+2 {
		t.Errorf("the next step's code matched %d", got)
	}
	if got := totpMatch(secret, totpCode(secret, s+3), at(s+1)); got != -1 {
		t.Errorf("a code two steps ahead matched %d", got)
	}
}
