package pdf

import (
	"fmt"
	"strconv"
	"strings"
	"time"
)

// TextString decodes a PDF text string (ISO 32000-2 §7.9.2.2): UTF-16BE or
// UTF-8 with a byte order mark, or PDFDocEncoding.
func TextString(b []byte) string { return textString(b) }

// ParseDate parses a PDF date (ISO 32000-2 §7.9.4), "D:YYYYMMDDHHmmSSOHH'mm",
// where every part after the year is optional and O is Z, + or -. A
// missing offset means UTC.
func ParseDate(s string) (time.Time, error) {
	s = strings.TrimPrefix(s, "D:")
	bad := func() (time.Time, error) { return time.Time{}, fmt.Errorf("pdf: %q is not a PDF date", s) }
	if len(s) < 4 {
		return bad()
	}
	fields := []int{1, 1, 1, 0, 0, 0} // month, day, hour, minute, second defaults
	year, err := strconv.Atoi(s[:4])
	if err != nil {
		return bad()
	}
	rest := s[4:]
	for i := 0; i < 5 && len(rest) >= 2 && rest[0] >= '0' && rest[0] <= '9'; i++ {
		n, err := strconv.Atoi(rest[:2])
		if err != nil {
			return bad()
		}
		fields[i] = n
		rest = rest[2:]
	}
	loc := time.UTC
	if rest != "" {
		switch rest[0] {
		case 'Z':
		case '+', '-':
			tz := strings.ReplaceAll(strings.TrimSuffix(rest[1:], "'"), "'", "")
			if len(tz) < 2 {
				return bad()
			}
			h, err1 := strconv.Atoi(tz[:2])
			m := 0
			var err2 error
			if len(tz) >= 4 {
				m, err2 = strconv.Atoi(tz[2:4])
			}
			if err1 != nil || err2 != nil || h > 23 || m > 59 {
				return bad()
			}
			off := h*3600 + m*60
			if rest[0] == '-' {
				off = -off
			}
			loc = time.FixedZone("", off)
		default:
			return bad()
		}
	}
	if fields[0] < 1 || fields[0] > 12 || fields[1] < 1 || fields[1] > 31 || fields[2] > 23 || fields[3] > 59 || fields[4] > 60 {
		return bad()
	}
	return time.Date(year, time.Month(fields[0]), fields[1], fields[2], fields[3], fields[4], 0, loc), nil
}
