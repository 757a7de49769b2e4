package display

import (
	"crypto/x509"
	"encoding/asn1"
	"encoding/hex"
	"fmt"
	"strings"
	"unicode/utf16"
	"unicode/utf8"
)

// OIDUID is the userId attribute, 0.9.2342.19200300.100.1.1 (RFC 4519
// section 2.39), which Vietnamese certificates use for the holder's
// national identifier with a type prefix: "CCCD:079203001234",
// "MST:0101234567", …
var OIDUID = asn1.ObjectIdentifier{0, 9, 2342, 19200300, 100, 1, 1}

// shortNames are the attribute types DN writes by name: those of RFC 4514
// section 3, those kyso's certificate profiles use (C, ST, L, O, CN, UID),
// and the few others Vietnamese CAs put in subjects. Go's pkix.Name knows
// no UID, so it writes a Vietnamese subject's national ID as hex DER.
var shortNames = []struct {
	oid  asn1.ObjectIdentifier
	name string
}{
	{asn1.ObjectIdentifier{2, 5, 4, 6}, "C"},
	{asn1.ObjectIdentifier{2, 5, 4, 8}, "ST"},
	{asn1.ObjectIdentifier{2, 5, 4, 7}, "L"},
	{asn1.ObjectIdentifier{2, 5, 4, 9}, "STREET"},
	{asn1.ObjectIdentifier{2, 5, 4, 10}, "O"},
	{asn1.ObjectIdentifier{2, 5, 4, 11}, "OU"},
	{asn1.ObjectIdentifier{2, 5, 4, 3}, "CN"},
	{asn1.ObjectIdentifier{2, 5, 4, 5}, "SERIALNUMBER"},
	{asn1.ObjectIdentifier{2, 5, 4, 17}, "POSTALCODE"},
	{asn1.ObjectIdentifier{0, 9, 2342, 19200300, 100, 1, 25}, "DC"},
	{OIDUID, "UID"},
	{asn1.ObjectIdentifier{1, 2, 840, 113549, 1, 9, 1}, "emailAddress"},
}

// attribute is one AttributeTypeAndValue, its value kept encoded.
type attribute struct {
	Type  asn1.ObjectIdentifier
	Value asn1.RawValue
}

// rdnSET is a RelativeDistinguishedName; encoding/asn1 reads a slice type
// whose name ends in SET as a SET OF.
type rdnSET []attribute

// DN returns the RFC 4514 string form of a DER-encoded X.501 Name: the
// most specific RDN first (RFC 4514 section 2.1), attributes of one RDN
// joined by '+', the types above by name and values as text — UTF8String,
// PrintableString, IA5String, TeletexString, BMPString and
// UniversalString decoded — escaped as section 2.4 asks. A type without a
// name is written as its dotted OID and its value as '#' and the hex of
// its DER encoding, as section 2.4 requires; so is a value that is not a
// string.
func DN(der []byte) (string, error) {
	var seq []rdnSET
	rest, err := asn1.Unmarshal(der, &seq)
	if err != nil {
		return "", fmt.Errorf("display: parsing name: %w", err)
	}
	if len(rest) != 0 {
		return "", fmt.Errorf("display: parsing name: %d bytes after it", len(rest))
	}
	parts := make([]string, 0, len(seq))
	for i := len(seq) - 1; i >= 0; i-- {
		rdn := make([]string, 0, len(seq[i]))
		for _, a := range seq[i] {
			rdn = append(rdn, attributeString(a))
		}
		parts = append(parts, strings.Join(rdn, "+"))
	}
	return strings.Join(parts, ","), nil
}

// SubjectDN is DN of c's subject. crypto/x509 has parsed it, so it does
// not fail; if it did, pkix's form is returned.
func SubjectDN(c *x509.Certificate) string {
	if s, err := DN(c.RawSubject); err == nil {
		return s
	}
	return c.Subject.String()
}

// IssuerDN is DN of c's issuer.
func IssuerDN(c *x509.Certificate) string {
	if s, err := DN(c.RawIssuer); err == nil {
		return s
	}
	return c.Issuer.String()
}

func attributeString(a attribute) string {
	for _, s := range shortNames {
		if s.oid.Equal(a.Type) {
			if v, ok := decodeString(a.Value); ok {
				return s.name + "=" + escape(v)
			}
			return s.name + "=#" + hex.EncodeToString(a.Value.FullBytes)
		}
	}
	return a.Type.String() + "=#" + hex.EncodeToString(a.Value.FullBytes)
}

// decodeString decodes a DirectoryString (RFC 5280 section 4.1.2.4) or
// another ASN.1 string type to UTF-8.
func decodeString(v asn1.RawValue) (string, bool) {
	if v.Class != asn1.ClassUniversal || v.IsCompound {
		return "", false
	}
	b := v.Bytes
	switch v.Tag {
	case asn1.TagUTF8String, asn1.TagPrintableString, asn1.TagIA5String, asn1.TagNumericString, 26 /* VisibleString */ :
		return string(b), utf8.Valid(b)
	case asn1.TagT61String:
		// TeletexString holds Latin-1 in practice, as in OpenSSL.
		if utf8.Valid(b) {
			return string(b), true
		}
		r := make([]rune, len(b))
		for i, c := range b {
			r[i] = rune(c)
		}
		return string(r), true
	case asn1.TagBMPString:
		if len(b)%2 != 0 {
			return "", false
		}
		u := make([]uint16, len(b)/2)
		for i := range u {
			u[i] = uint16(b[2*i])<<8 | uint16(b[2*i+1])
		}
		return string(utf16.Decode(u)), true
	case 28: // UniversalString, UTF-32BE
		if len(b)%4 != 0 {
			return "", false
		}
		r := make([]rune, len(b)/4)
		for i := range r {
			r[i] = rune(uint32(b[4*i])<<24 | uint32(b[4*i+1])<<16 | uint32(b[4*i+2])<<8 | uint32(b[4*i+3]))
			if !utf8.ValidRune(r[i]) {
				return "", false
			}
		}
		return string(r), true
	}
	return "", false
}

// escape escapes an attribute value per RFC 4514 section 2.4, and '=' and
// ';' too, which some readers of older forms split on.
func escape(v string) string {
	var b strings.Builder
	for i, r := range v {
		switch {
		case strings.ContainsRune(",+\"\\<>;=", r),
			i == 0 && (r == ' ' || r == '#'),
			i == len(v)-1 && r == ' ':
			b.WriteByte('\\')
			b.WriteRune(r)
		case r == 0:
			b.WriteString(`\00`)
		default:
			b.WriteRune(r)
		}
	}
	return b.String()
}
