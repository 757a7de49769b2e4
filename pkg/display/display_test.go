package display

import (
	"bytes"
	"crypto/x509/pkix"
	"encoding/asn1"
	"math/big"
	"strings"
	"testing"
)

func TestFormatSerial(t *testing.T) {
	for _, c := range []struct {
		name string
		in   []byte
		want string
	}{
		{"leading zero nibble kept", []byte{0x01, 0xc0, 0x61, 0x5f}, "01C0615F"},
		{"leading zero octets dropped", []byte{0x00, 0x0a, 0xbc}, "0ABC"},
		{"top nibble set", []byte{0x7f, 0xff}, "7FFF"},
		{"one octet", []byte{0x05}, "05"},
		{"zero", []byte{0x00}, "00"},
	} {
		t.Run(c.name, func(t *testing.T) {
			if got := FormatSerial(c.in); got != c.want {
				t.Errorf("FormatSerial(%x) = %q, want %q", c.in, got, c.want)
			}
			if got := FormatSerialInt(new(big.Int).SetBytes(c.in)); got != c.want && c.want != "00" {
				t.Errorf("FormatSerialInt(%x) = %q, want %q", c.in, got, c.want)
			}
		})
	}
	if got := FormatSerialInt(nil); got != "" {
		t.Errorf("FormatSerialInt(nil) = %q, want empty", got)
	}
	// A negative serial (others' certificates; RFC 5280 forbids it) keeps
	// its sign, as openssl x509 -serial prints it.
	if got := FormatSerialInt(big.NewInt(-0x1c06)); got != "-1C06" {
		t.Errorf("FormatSerialInt(-0x1c06) = %q, want -1C06", got)
	}
	if got := FormatSerialInt(big.NewInt(-5)); got != "-05" {
		t.Errorf("FormatSerialInt(-5) = %q, want -05", got)
	}
}

func TestParseSerial(t *testing.T) {
	for _, c := range []struct {
		name, in string
		want     []byte // nil: an error
	}{
		{"as printed", "01C0615F", []byte{0x01, 0xc0, 0x61, 0x5f}},
		{"leading zero nibble dropped", "1C0615F", []byte{0x01, 0xc0, 0x61, 0x5f}},
		{"lower case", "1c0615f", []byte{0x01, 0xc0, 0x61, 0x5f}},
		{"0x prefix", "0x01c0615f", []byte{0x01, 0xc0, 0x61, 0x5f}},
		{"colons", "01:c0:61:5f", []byte{0x01, 0xc0, 0x61, 0x5f}},
		{"spaces", " 01 c0 61 5f ", []byte{0x01, 0xc0, 0x61, 0x5f}},
		{"hyphens", "01-c0-61-5f", []byte{0x01, 0xc0, 0x61, 0x5f}},
		{"leading zero octets", "00:0A:BC", []byte{0x0a, 0xbc}},
		{"twenty octets", strings.Repeat("11", 20), bytes.Repeat([]byte{0x11}, 20)},
		{"empty", "", nil},
		{"zero", "00:00", nil},
		{"not hex", "xyz", nil},
		{"prefix only", "0x", nil},
		{"twenty-one octets", strings.Repeat("11", 21), nil},
		{"top bit set, twenty octets", "80" + strings.Repeat("11", 19), nil},
	} {
		t.Run(c.name, func(t *testing.T) {
			got, err := ParseSerial(c.in)
			if c.want == nil {
				if err == nil {
					t.Errorf("ParseSerial(%q) = %x; want an error", c.in, got)
				}
				return
			}
			if err != nil || !bytes.Equal(got, c.want) {
				t.Errorf("ParseSerial(%q) = %x, %v; want %x", c.in, got, err, c.want)
			}
			if back, err := ParseSerial(FormatSerial(got)); err != nil || !bytes.Equal(back, got) {
				t.Errorf("ParseSerial(FormatSerial(%x)) = %x, %v", got, back, err)
			}
		})
	}
}

// name builds a DER Name, one attribute per RDN unless a value is a
// []pkix.AttributeTypeAndValue, with explicit string tags.
func name(t *testing.T, rdns ...[]pkix.AttributeTypeAndValue) []byte {
	t.Helper()
	var seq pkix.RDNSequence
	for _, r := range rdns {
		seq = append(seq, pkix.RelativeDistinguishedNameSET(r))
	}
	der, err := asn1.Marshal(seq)
	if err != nil {
		t.Fatal(err)
	}
	return der
}

func atv(oid asn1.ObjectIdentifier, tag int, value []byte) []pkix.AttributeTypeAndValue {
	return []pkix.AttributeTypeAndValue{{Type: oid, Value: asn1.RawValue{Class: asn1.ClassUniversal, Tag: tag, Bytes: value}}}
}

var (
	oidC  = asn1.ObjectIdentifier{2, 5, 4, 6}
	oidST = asn1.ObjectIdentifier{2, 5, 4, 8}
	oidO  = asn1.ObjectIdentifier{2, 5, 4, 10}
	oidCN = asn1.ObjectIdentifier{2, 5, 4, 3}
)

func TestDN(t *testing.T) {
	bmp := func(s string) []byte {
		var b []byte
		for _, r := range s {
			b = append(b, byte(r>>8), byte(r))
		}
		return b
	}
	for _, c := range []struct {
		name string
		der  []byte
		want string
	}{
		{"kyso's personal profile, UID a UTF8String", name(t,
			atv(oidC, asn1.TagPrintableString, []byte("VN")),
			atv(oidST, asn1.TagUTF8String, []byte("Hồ Chí Minh")),
			atv(oidCN, asn1.TagUTF8String, []byte("Trần Thị Ánh Nguyệt")),
			atv(OIDUID, asn1.TagUTF8String, []byte("CCCD:079203001234"))),
			"UID=CCCD:079203001234,CN=Trần Thị Ánh Nguyệt,ST=Hồ Chí Minh,C=VN"},
		{"UID a PrintableString", name(t,
			atv(oidC, asn1.TagPrintableString, []byte("VN")),
			atv(OIDUID, asn1.TagPrintableString, []byte("MST:0101234567"))),
			"UID=MST:0101234567,C=VN"},
		{"BMPString", name(t, atv(oidO, asn1.TagBMPString, bmp("Công ty Đức Anh"))), "O=Công ty Đức Anh"},
		{"TeletexString, Latin-1", name(t, atv(oidO, asn1.TagT61String, []byte{'C', 0xe9, 'a'})), "O=Céa"},
		{"multi-valued RDN", name(t, append(atv(OIDUID, asn1.TagUTF8String, []byte("CCCD:079203001234")),
			atv(OIDUID, asn1.TagUTF8String, []byte("MST:0101234567"))...)), "UID=MST:0101234567+UID=CCCD:079203001234"}, // DER sorts a SET OF,
		{"unknown type in hex", name(t, atv(asn1.ObjectIdentifier{1, 2, 3}, asn1.TagUTF8String, []byte("x"))), "1.2.3=#0c0178"},
		{"known type, not a string", name(t, atv(oidCN, asn1.TagInteger, []byte{1})), "CN=#020101"},
		{"escapes", name(t, atv(oidCN, asn1.TagUTF8String, []byte("#Lê, Văn+A ")), atv(oidO, asn1.TagUTF8String, []byte(` "a"=b;<c>\`))),
			`O=\ \"a\"\=b\;\<c\>\\,CN=\#Lê\, Văn\+A\ `},
		{"empty name", name(t), ""},
	} {
		t.Run(c.name, func(t *testing.T) {
			got, err := DN(c.der)
			if err != nil || got != c.want {
				t.Errorf("DN = %q, %v; want %q", got, err, c.want)
			}
		})
	}
	for _, c := range []struct {
		name string
		der  []byte
	}{
		{"not DER", []byte{0x30, 0x05, 0x01}},
		{"trailing bytes", append(name(t, atv(oidC, asn1.TagPrintableString, []byte("VN"))), 0)},
		{"a SEQUENCE where a SET belongs", []byte{0x30, 0x02, 0x30, 0x00}},
	} {
		t.Run(c.name, func(t *testing.T) {
			if got, err := DN(c.der); err == nil {
				t.Errorf("DN = %q; want an error", got)
			}
		})
	}
}
