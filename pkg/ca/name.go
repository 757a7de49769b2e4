package ca

import (
	"crypto/x509/pkix"
	"encoding/asn1"
	"fmt"

	"github.com/kyso-pki/kyso/pkg/display"
)

// Attribute types used in subject names (RFC 5280 section 4.1.2.4 and
// Appendix A; UID from RFC 4519 section 2.39).
var (
	oidCountry      = asn1.ObjectIdentifier{2, 5, 4, 6}
	oidProvince     = asn1.ObjectIdentifier{2, 5, 4, 8}
	oidLocality     = asn1.ObjectIdentifier{2, 5, 4, 7}
	oidOrganization = asn1.ObjectIdentifier{2, 5, 4, 10}
	oidCommonName   = asn1.ObjectIdentifier{2, 5, 4, 3}
	// OIDUID is the userId attribute, 0.9.2342.19200300.100.1.1, which
	// Vietnamese certificates use for the holder's national identifier with
	// a type prefix (CCCD:, MST:, …): display.OIDUID.
	OIDUID = display.OIDUID
)

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
