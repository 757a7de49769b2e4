package ca

import (
	"bytes"
	"crypto/rand"
	"encoding/asn1"
	"errors"
	"math/big"
	"testing"

	"golang.org/x/text/unicode/norm"

	"github.com/kyso-pki/kyso/pkg/display"
)

func TestValidateCCCD(t *testing.T) {
	for _, tc := range []struct {
		in   string
		ok   bool
		name string
	}{
		{"079203001234", true, "Hồ Chí Minh"},
		{"001099000001", true, "Hà Nội"},
		{"096301999999", true, "Cà Mau"},
		{" 048185123456 ", true, "Đà Nẵng"},
		{"003203001234", false, "003 is not a province code"},
		{"097203001234", false, "097 is past the last code"},
		{"000203001234", false, "000"},
		{"07920300123", false, "11 digits"},
		{"0792030012345", false, "13 digits"},
		{"07920300123a", false, "letter"},
		{"０７９２０３００１２３４", false, "full-width digits"},
		{"", false, "empty"},
	} {
		t.Run(tc.in, func(t *testing.T) {
			got, err := ValidateCCCD(tc.in)
			if tc.ok != (err == nil) {
				t.Fatalf("ValidateCCCD(%q) = %q, %v; want ok=%v (%s)", tc.in, got, err, tc.ok, tc.name)
			}
			if err != nil && !errors.Is(err, ErrInvalidRequest) {
				t.Errorf("error %v does not wrap ErrInvalidRequest", err)
			}
		})
	}
	if len(cccdProvinceCodes) != 63 {
		t.Errorf("%d CCCD province codes, want 63", len(cccdProvinceCodes))
	}
}

func TestValidateProvince(t *testing.T) {
	if len(Provinces) != 34 {
		t.Fatalf("%d provinces, want 34", len(Provinces))
	}
	for _, p := range Provinces {
		if got, err := ValidateProvince(p); err != nil || got != p {
			t.Errorf("ValidateProvince(%q) = %q, %v", p, got, err)
		}
		if _, merged := mergedProvinces[p]; merged {
			t.Errorf("%q is both current and merged", p)
		}
	}
	for _, tc := range []struct{ in, want string }{
		{"hồ chí minh", "Hồ Chí Minh"},
		{norm.NFD.String("Hồ Chí Minh"), "Hồ Chí Minh"},
		{"Thành phố Hồ Chí Minh", "Hồ Chí Minh"},
		{"  HÀ   NỘI ", "Hà Nội"},
		{"Tỉnh Thanh Hoá", "Thanh Hóa"},
		{"khánh hoà", "Khánh Hòa"},
		{"ĐẮK LẮK", "Đắk Lắk"},
	} {
		if got, err := ValidateProvince(tc.in); err != nil || got != tc.want {
			t.Errorf("ValidateProvince(%q) = %q, %v; want %q", tc.in, got, err, tc.want)
		}
	}
	for _, tc := range []struct{ in, wantInErr string }{
		{"Bình Dương", "Hồ Chí Minh"},
		{"Thừa Thiên Huế", "Huế"},
		{"Bà Rịa - Vũng Tàu", "Hồ Chí Minh"},
		{"Ho Chi Minh", "not one of the 34"},
		{"Paris", "not one of the 34"},
		{"", "not one of the 34"},
	} {
		_, err := ValidateProvince(tc.in)
		if err == nil || !bytes.Contains([]byte(err.Error()), []byte(tc.wantInErr)) {
			t.Errorf("ValidateProvince(%q) error = %v; want it to mention %q", tc.in, err, tc.wantInErr)
		}
	}
}

func TestNormalizePersonName(t *testing.T) {
	nfc := "Nguyễn Văn Đức"
	for _, tc := range []struct {
		in, want string
		ok       bool
	}{
		{nfc, nfc, true},
		{norm.NFD.String(nfc), nfc, true},
		{"  Nguyễn\tVăn   Đức ", nfc, true},
		{"Trần Thị Ánh-Nguyệt", "Trần Thị Ánh-Nguyệt", true},
		{"Nguyễn\u200bVăn", "", false},
		{"Nguyễn\x00Văn", "", false},
		{"Robert'); DROP TABLE", "", false},
		{"12345", "", false},
		{"", "", false},
		{"   ", "", false},
		{string(bytes.Repeat([]byte("a"), 65)), "", false},
		{"\xff\xfe", "", false},
	} {
		got, err := normalizePersonName(tc.in)
		if tc.ok != (err == nil) || got != tc.want {
			t.Errorf("normalizePersonName(%q) = %q, %v; want %q ok=%v", tc.in, got, err, tc.want, tc.ok)
		}
	}
	if !norm.NFC.IsNormalString(nfc) || norm.NFD.String(nfc) == nfc {
		t.Fatal("test input is not what it claims")
	}
}

func TestValidateTaxCodeAndEmail(t *testing.T) {
	for in, ok := range map[string]bool{
		"0101234567": true, "0101234567-001": true, "010123456": false, "01012345678": false,
		"0101234567-01": false, "0101234567-0011": false, "01012345a7": false, "0101234567_001": false, "": false,
	} {
		if _, err := ValidateTaxCode(in); ok != (err == nil) {
			t.Errorf("ValidateTaxCode(%q) = %v; want ok=%v", in, err, ok)
		}
	}
	for in, ok := range map[string]bool{
		"duc@example.vn": true, "a.b+c@mail.gov.vn": true, "Đức@example.vn": false, "duc@localhost": false,
		"Duc <duc@example.vn>": false, "duc": false, "duc@@example.vn": false, "duc @example.vn": false,
	} {
		if _, err := ValidateEmail(in); ok != (err == nil) {
			t.Errorf("ValidateEmail(%q) = %v; want ok=%v", in, err, ok)
		}
	}
}

func TestSerials(t *testing.T) {
	seen := make(map[string]bool, 100000)
	for i := 0; i < 100000; i++ {
		s, err := newSerial(rand.Reader)
		if err != nil {
			t.Fatal(err)
		}
		n := new(big.Int).SetBytes(s)
		if len(s) > 20 || s[0] == 0 || s[0]&0x80 != 0 || n.Sign() <= 0 || n.BitLen() < 128 {
			t.Fatalf("bad serial %x", s)
		}
		if seen[string(s)] {
			t.Fatalf("duplicate serial %x after %d", s, i)
		}
		seen[string(s)] = true
		if i < 1000 {
			p, err := ParseSerial(FormatSerial(s))
			if err != nil || !bytes.Equal(p, s) {
				t.Fatalf("ParseSerial(FormatSerial(%x)) = %x, %v", s, p, err)
			}
		}
	}
	// The forms ParseSerial reads are display's (display_test.go); here,
	// that a refused one is an invalid request.
	if _, err := ParseSerial("xyz"); !errors.Is(err, ErrInvalidRequest) {
		t.Errorf("ParseSerial(\"xyz\") = %v; want ErrInvalidRequest", err)
	}
}

func TestMarshalNameUTF8(t *testing.T) {
	der, err := marshalName([]nameAttr{{oidCountry, "VN"}, {oidProvince, "Huế"}, {oidCommonName, "ASCII Name"}, {OIDUID, "CCCD:046203001234"}})
	if err != nil {
		t.Fatal(err)
	}
	tags := rdnTags(t, der)
	want := []int{19, 12, 12, 12} // PrintableString, then UTF8String
	if len(tags) != len(want) {
		t.Fatalf("tags %v, want %v", tags, want)
	}
	for i := range want {
		if tags[i] != want[i] {
			t.Errorf("attribute %d has tag %d, want %d", i, tags[i], want[i])
		}
	}
	s, err := display.DN(der)
	if err != nil || s != "UID=CCCD:046203001234,CN=ASCII Name,ST=Huế,C=VN" {
		t.Errorf("display.DN = %q, %v", s, err)
	}
}

// rdnTags returns the universal tag of each attribute value in a DER Name,
// read from the raw encoding.
func rdnTags(t testing.TB, der []byte) []int {
	t.Helper()
	var seq []asn1.RawValue
	if _, err := asn1.Unmarshal(der, &seq); err != nil {
		t.Fatalf("parsing Name: %v", err)
	}
	var tags []int
	for _, set := range seq {
		var atvs []struct {
			Type  asn1.ObjectIdentifier
			Value asn1.RawValue
		}
		if _, err := asn1.UnmarshalWithParams(set.FullBytes, &atvs, "set"); err != nil {
			t.Fatalf("parsing RDN: %v", err)
		}
		for _, a := range atvs {
			tags = append(tags, a.Value.Tag)
		}
	}
	return tags
}
