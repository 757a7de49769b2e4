package display

import (
	"encoding/hex"
	"fmt"
	"math/big"
	"strings"
)

// FormatSerial returns a serial number as openssl prints it: upper-case hex
// of whole octets, no separators ("01A2…"), so a serial whose first octet
// is below 0x10 keeps its leading zero nibble. Leading zero octets are
// dropped, as DER drops them (RFC 5280 section 4.1.2.2).
func FormatSerial(serial []byte) string {
	for len(serial) > 1 && serial[0] == 0 {
		serial = serial[1:]
	}
	return strings.ToUpper(hex.EncodeToString(serial))
}

// FormatSerialInt is FormatSerial for a serial number held as a big.Int,
// as crypto/x509 holds it. Nil gives "". A negative serial, which RFC 5280
// forbids but others' certificates carry and kyso reads, keeps its sign
// before the magnitude ("-01A2…"), as openssl prints it.
func FormatSerialInt(n *big.Int) string {
	if n == nil {
		return ""
	}
	if n.Sign() < 0 {
		return "-" + FormatSerial(new(big.Int).Neg(n).Bytes())
	}
	return FormatSerial(n.Bytes())
}

// ParseSerial parses a serial number written in hex as openssl, browsers or
// people write it: upper or lower case, with or without a "0x" prefix,
// colons, spaces or hyphens between octets, and with or without the
// leading zero nibble that FormatSerial writes ("1C06…" and "01C06…" are
// the same serial). It returns the big-endian octets without leading
// zeros, and refuses zero and anything longer than 20 octets (RFC 5280
// section 4.1.2.2).
func ParseSerial(s string) ([]byte, error) {
	t := strings.TrimSpace(s)
	t = strings.TrimPrefix(strings.TrimPrefix(t, "0x"), "0X")
	t = strings.NewReplacer(":", "", " ", "", "-", "").Replace(t)
	if t == "" {
		return nil, fmt.Errorf("display: serial number %q is empty", s)
	}
	if len(t)%2 == 1 {
		t = "0" + t
	}
	b, err := hex.DecodeString(t)
	if err != nil {
		return nil, fmt.Errorf("display: serial number %q is not hex", s)
	}
	for len(b) > 0 && b[0] == 0 {
		b = b[1:]
	}
	if len(b) == 0 {
		return nil, fmt.Errorf("display: serial number %q is zero; serials are positive (RFC 5280 section 4.1.2.2)", s)
	}
	if len(b) > 20 {
		return nil, fmt.Errorf("display: serial number %q is %d octets long, at most 20 allowed (RFC 5280 section 4.1.2.2)", s, len(b))
	}
	if b[0]&0x80 != 0 && len(b) > 19 {
		// A DER INTEGER with the top bit set needs a 0x00 pad and must
		// then fit in 20 octets including it.
		return nil, fmt.Errorf("display: serial number %q needs 21 octets in DER, at most 20 allowed", s)
	}
	return b, nil
}
