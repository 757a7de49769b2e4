package tsa

import (
	"encoding/asn1"
	"errors"
	"fmt"
	"math/big"
	"strings"
	"time"

	"golang.org/x/crypto/cryptobyte"
	cbasn1 "golang.org/x/crypto/cryptobyte/asn1"
)

// Object identifiers used by RFC 3161, RFC 5652 and RFC 5816.
var (
	oidSignedData  = asn1.ObjectIdentifier{1, 2, 840, 113549, 1, 7, 2}
	oidTSTInfo     = asn1.ObjectIdentifier{1, 2, 840, 113549, 1, 9, 16, 1, 4}
	oidContentType = asn1.ObjectIdentifier{1, 2, 840, 113549, 1, 9, 3}
	oidMsgDigest   = asn1.ObjectIdentifier{1, 2, 840, 113549, 1, 9, 4}
	// id-aa-signingCertificate (RFC 2634 section 5.4) and
	// id-aa-signingCertificateV2 (RFC 5035 section 3, RFC 5816 section 2.2.1).
	oidSigningCert   = asn1.ObjectIdentifier{1, 2, 840, 113549, 1, 9, 16, 2, 12}
	oidSigningCertV2 = asn1.ObjectIdentifier{1, 2, 840, 113549, 1, 9, 16, 2, 47}

	oidExtKeyUsage = asn1.ObjectIdentifier{2, 5, 29, 37}
	oidKPTimeStamp = asn1.ObjectIdentifier{1, 3, 6, 1, 5, 5, 7, 3, 8}
)

// Status is a PKIStatus (RFC 3161 section 2.4.2).
type Status int

// The PKIStatus values of RFC 3161 section 2.4.2.
const (
	StatusGranted                Status = 0
	StatusGrantedWithMods        Status = 1
	StatusRejection              Status = 2
	StatusWaiting                Status = 3
	StatusRevocationWarning      Status = 4
	StatusRevocationNotification Status = 5
)

func (s Status) String() string {
	switch s {
	case StatusGranted:
		return "granted"
	case StatusGrantedWithMods:
		return "grantedWithMods"
	case StatusRejection:
		return "rejection"
	case StatusWaiting:
		return "waiting"
	case StatusRevocationWarning:
		return "revocationWarning"
	case StatusRevocationNotification:
		return "revocationNotification"
	}
	return fmt.Sprintf("status(%d)", int(s))
}

// FailureInfo is a PKIFailureInfo bit set (RFC 3161 section 2.4.2).
type FailureInfo uint32

// The PKIFailureInfo bits of RFC 3161 section 2.4.2.
const (
	// BadAlg: unrecognised or unsupported algorithm identifier.
	BadAlg FailureInfo = 1 << 0
	// BadRequest: transaction not permitted or supported.
	BadRequest FailureInfo = 1 << 2
	// BadDataFormat: the data submitted has the wrong format.
	BadDataFormat FailureInfo = 1 << 5
	// TimeNotAvailable: the TSA's time source is not available.
	TimeNotAvailable FailureInfo = 1 << 14
	// UnacceptedPolicy: the requested TSA policy is not supported.
	UnacceptedPolicy FailureInfo = 1 << 15
	// UnacceptedExtension: the requested extension is not supported.
	UnacceptedExtension FailureInfo = 1 << 16
	// AddInfoNotAvailable: the additional information requested could not
	// be understood or is not available.
	AddInfoNotAvailable FailureInfo = 1 << 17
	// SystemFailure: the request cannot be handled due to system failure.
	SystemFailure FailureInfo = 1 << 25
)

var failureNames = []struct {
	f    FailureInfo
	name string
}{
	{BadAlg, "badAlg"}, {BadRequest, "badRequest"}, {BadDataFormat, "badDataFormat"},
	{TimeNotAvailable, "timeNotAvailable"}, {UnacceptedPolicy, "unacceptedPolicy"},
	{UnacceptedExtension, "unacceptedExtension"}, {AddInfoNotAvailable, "addInfoNotAvailable"},
	{SystemFailure, "systemFailure"},
}

func (f FailureInfo) String() string {
	if f == 0 {
		return "none"
	}
	var names []string
	for _, n := range failureNames {
		if f&n.f != 0 {
			names = append(names, n.name)
			f &^= n.f
		}
	}
	for bit := 0; f != 0; bit++ {
		if f&(1<<bit) != 0 {
			names = append(names, fmt.Sprintf("bit%d", bit))
			f &^= 1 << bit
		}
	}
	return strings.Join(names, "|")
}

// encodeFailureInfo writes f as a DER named-bit BIT STRING (X.690 section
// 11.2.2: trailing zero bits removed).
func encodeFailureInfo(b *cryptobyte.Builder, f FailureInfo) {
	top := 0
	for i := 31; i >= 0; i-- {
		if f&(1<<i) != 0 {
			top = i
			break
		}
	}
	n := top/8 + 1
	out := make([]byte, 1+n)
	out[0] = byte(7 - top%8) // unused bits
	for i := 0; i <= top; i++ {
		if f&(1<<i) != 0 {
			out[1+i/8] |= 0x80 >> (i % 8)
		}
	}
	b.AddASN1(cbasn1.BIT_STRING, func(b *cryptobyte.Builder) { b.AddBytes(out) })
}

func decodeFailureInfo(bs asn1.BitString) FailureInfo {
	var f FailureInfo
	for i := 0; i < bs.BitLength && i < 32; i++ {
		if bs.At(i) != 0 {
			f |= 1 << i
		}
	}
	return f
}

// addGeneralizedTime writes t in UTC as a DER GeneralizedTime (X.690 section
// 11.7): seconds always present, a fraction only when not zero, no trailing
// zeros. The fraction is cut to the digits precision allows.
func addGeneralizedTime(b *cryptobyte.Builder, t time.Time, precision time.Duration) {
	t = t.UTC().Truncate(precision)
	s := t.Format("20060102150405.000000000")
	s = strings.TrimRight(strings.TrimRight(s, "0"), ".")
	if precision >= time.Second {
		s = t.Format("20060102150405")
	}
	b.AddASN1(cbasn1.GeneralizedTime, func(b *cryptobyte.Builder) { b.AddBytes([]byte(s + "Z")) })
}

// readGeneralizedTime reads a GeneralizedTime with an optional fraction, as
// TSTInfo genTime allows (RFC 3161 section 2.4.2): YYYYMMDDhhmmss[.s+]Z.
func readGeneralizedTime(s *cryptobyte.String) (time.Time, bool) {
	var v cryptobyte.String
	if !s.ReadASN1(&v, cbasn1.GeneralizedTime) {
		return time.Time{}, false
	}
	str := string(v)
	if len(str) < 15 || str[len(str)-1] != 'Z' {
		return time.Time{}, false
	}
	body := str[:len(str)-1]
	layout := "20060102150405"
	if len(body) > 14 {
		frac := body[14:]
		if len(frac) < 2 || frac[0] != '.' || frac[len(frac)-1] == '0' || len(frac) > 10 {
			return time.Time{}, false
		}
		for _, c := range frac[1:] {
			if c < '0' || c > '9' {
				return time.Time{}, false
			}
		}
		layout += "." + strings.Repeat("9", len(frac)-1)
	}
	t, err := time.Parse(layout, body)
	if err != nil {
		return time.Time{}, false
	}
	return t.UTC(), true
}

// readOptionalInteger reads an INTEGER when one comes next.
func readBigInt(s *cryptobyte.String) (*big.Int, bool) {
	n := new(big.Int)
	if !s.ReadASN1Integer(n) {
		return nil, false
	}
	return n, true
}

var errTrailing = errors.New("trailing data")
