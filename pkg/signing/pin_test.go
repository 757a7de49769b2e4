package signing

import "testing"

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
