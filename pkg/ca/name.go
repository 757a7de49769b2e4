package ca

import (
	"crypto/x509/pkix"
	"encoding/asn1"
	"fmt"
	"strings"
)

// Attribute types used in subject names (RFC 5280 section 4.1.2.4 and
// Appendix A; UID from RFC 4519 section 2.39).
var (
	oidCountry      = asn1.ObjectIdentifier{2, 5, 4, 6}
	oidProvince     = asn1.ObjectIdentifier{2, 5, 4, 8}
	oidLocality     = asn1.ObjectIdentifier{2, 5, 4, 7}
	oidOrganization = asn1.ObjectIdentifier{2, 5, 4, 10}
	oidOrgUnit      = asn1.ObjectIdentifier{2, 5, 4, 11}
	oidCommonName   = asn1.ObjectIdentifier{2, 5, 4, 3}
	oidSerialNumber = asn1.ObjectIdentifier{2, 5, 4, 5}
	// OIDUID is the userId attribute, 0.9.2342.19200300.100.1.1, which
	// Vietnamese certificates use for the holder's national identifier with
	// a type prefix (CCCD:, MST:, …).
	OIDUID = asn1.ObjectIdentifier{0, 9, 2342, 19200300, 100, 1, 1}
)

var attrShortNames = []struct {
	oid  asn1.ObjectIdentifier
	name string
}{
	{oidCountry, "C"}, {oidProvince, "ST"}, {oidLocality, "L"}, {oidOrganization, "O"},
	{oidOrgUnit, "OU"}, {oidCommonName, "CN"}, {oidSerialNumber, "SERIALNUMBER"}, {OIDUID, "UID"},
}

// nameAttr is one attribute of a distinguished name, one per RDN.
type nameAttr struct {
	oid   asn1.ObjectIdentifier
	value string
}

// marshalName encodes attrs, one per RDN and in the order given, as an X.501
// Name. countryName is a PrintableString (RFC 5280 Appendix A); every other
// attribute is a DirectoryString written as UTF8String, as RFC 5280 section
// 4.1.2.4 asks of new certificates. Go's pkix.Name would pick
// PrintableString for ASCII-only values, so the RDNSequence is built here
// with explicit tags and given to x509 as RawSubject.
func marshalName(attrs []nameAttr) ([]byte, error) {
	var seq pkix.RDNSequence
	for _, a := range attrs {
		if a.value == "" {
			continue
		}
		tag := asn1.TagUTF8String
		if a.oid.Equal(oidCountry) {
			tag = asn1.TagPrintableString
		}
		seq = append(seq, pkix.RelativeDistinguishedNameSET{{
			Type:  a.oid,
			Value: asn1.RawValue{Class: asn1.ClassUniversal, Tag: tag, Bytes: []byte(a.value)},
		}})
	}
	der, err := asn1.Marshal(seq)
	if err != nil {
		return nil, fmt.Errorf("ca: encoding subject name: %w", err)
	}
	return der, nil
}

// NameString returns the RFC 4514 string form of a DER-encoded Name, with
// the short names C, ST, L, O, OU, CN, SERIALNUMBER and UID, most specific
// RDN first as RFC 4514 section 2.1 orders them, and values as UTF-8 text.
func NameString(der []byte) (string, error) {
	var seq pkix.RDNSequence
	rest, err := asn1.Unmarshal(der, &seq)
	if err != nil || len(rest) != 0 {
		return "", fmt.Errorf("ca: parsing name: %v", err)
	}
	var parts []string
	for i := len(seq) - 1; i >= 0; i-- {
		var rdn []string
		for _, atv := range seq[i] {
			typ := atv.Type.String()
			for _, s := range attrShortNames {
				if s.oid.Equal(atv.Type) {
					typ = s.name
				}
			}
			v := fmt.Sprint(atv.Value)
			rdn = append(rdn, typ+"="+escapeRFC4514(v))
		}
		parts = append(parts, strings.Join(rdn, "+"))
	}
	return strings.Join(parts, ","), nil
}

// escapeRFC4514 escapes an attribute value per RFC 4514 section 2.4.
func escapeRFC4514(v string) string {
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
