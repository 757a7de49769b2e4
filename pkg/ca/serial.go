package ca

import (
	"encoding/hex"
	"fmt"
	"io"
	"math/big"
	"strings"
)

// serialLen is the length of kyso's serial numbers in octets: a 0x01 prefix
// and 16 random octets. The prefix keeps the INTEGER positive without a
// padding octet and its first octet non-zero, so every serial is exactly 17
// octets (RFC 5280 section 4.1.2.2: positive, at most 20 octets) and carries
// 128 random bits (the CA/Browser Forum's 64 bits, doubled; the issue asks
// for at least 127).
const serialLen = 17

// newSerial reads a fresh serial number from r.
func newSerial(r io.Reader) ([]byte, error) {
	b := make([]byte, serialLen)
	b[0] = 0x01
	if _, err := io.ReadFull(r, b[1:]); err != nil {
		return nil, fmt.Errorf("ca: reading random serial number: %w", err)
	}
	return b, nil
}

// FormatSerial returns a serial number as openssl prints it: upper-case hex
// of even length, no separators ("01A2…"). Leading zero octets are dropped,
// as DER drops them (RFC 5280 section 4.1.2.2).
func FormatSerial(serial []byte) string {
	for len(serial) > 1 && serial[0] == 0 {
		serial = serial[1:]
	}
	return strings.ToUpper(hex.EncodeToString(serial))
}

// FormatSerialInt is FormatSerial for a serial number held as a big.Int.
func FormatSerialInt(n *big.Int) string {
	if n == nil {
		return ""
	}
	return FormatSerial(n.Bytes())
}

// ParseSerial parses a serial number written in hex as openssl, browsers or
// people write it: upper or lower case, with or without a "0x" prefix,
// colons or spaces between octets, and with an odd number of digits. It
// returns the big-endian octets without leading zeros, and refuses zero and
// anything longer than 20 octets (RFC 5280 section 4.1.2.2).
func ParseSerial(s string) ([]byte, error) {
	t := strings.TrimSpace(s)
	t = strings.TrimPrefix(strings.TrimPrefix(t, "0x"), "0X")
	t = strings.NewReplacer(":", "", " ", "").Replace(t)
	if t == "" {
		return nil, invalid("serial number %q is empty", s)
	}
	if len(t)%2 == 1 {
		t = "0" + t
	}
	b, err := hex.DecodeString(t)
	if err != nil {
		return nil, invalid("serial number %q is not hex", s)
	}
	for len(b) > 0 && b[0] == 0 {
		b = b[1:]
	}
	if len(b) == 0 {
		return nil, invalid("serial number %q is zero; serials are positive (RFC 5280 section 4.1.2.2)", s)
	}
	if len(b) > 20 {
		return nil, invalid("serial number %q is %d octets long, at most 20 allowed (RFC 5280 section 4.1.2.2)", s, len(b))
	}
	if b[0]&0x80 != 0 {
		// A DER INTEGER with the top bit set needs a 0x00 pad and must then
		// fit in 20 octets including it.
		if len(b) > 19 {
			return nil, invalid("serial number %q needs 21 octets in DER, at most 20 allowed", s)
		}
	}
	return b, nil
}

func newInt(b []byte) *big.Int { return new(big.Int).SetBytes(b) }
