package ca

import (
	"fmt"
	"io"
	"math/big"

	"github.com/kyso-pki/kyso/pkg/display"
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

// FormatSerial returns a serial number as openssl prints it:
// display.FormatSerial, the one form kyso prints serials in ("01A2…").
func FormatSerial(serial []byte) string { return display.FormatSerial(serial) }

// FormatSerialInt is FormatSerial for a serial number held as a big.Int.
func FormatSerialInt(n *big.Int) string { return display.FormatSerialInt(n) }

// ParseSerial parses a serial number written in hex (display.ParseSerial:
// any case, "0x", separators, with or without the leading zero nibble).
// A serial it refuses is an ErrInvalidRequest.
func ParseSerial(s string) ([]byte, error) {
	b, err := display.ParseSerial(s)
	if err != nil {
		return nil, fmt.Errorf("ca: %w: %w", ErrInvalidRequest, err)
	}
	return b, nil
}

func newInt(b []byte) *big.Int { return new(big.Int).SetBytes(b) }
