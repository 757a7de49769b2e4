package ca

import (
	"strings"
	"sync"

	"golang.org/x/text/cases"
	"golang.org/x/text/unicode/norm"
)

// cccdProvinceCodes are the 63 place-of-birth / registration codes that
// open a 12-digit citizen identity number (CCCD), as listed in Circular
// 07/2016/TT-BCA. The scheme was not renumbered by the 2025 merger of
// provinces: cards already issued keep their codes, so the old 63 codes stay
// the ones a CCCD can start with.
var cccdProvinceCodes = map[string]string{
	"001": "Hà Nội", "002": "Hà Giang", "004": "Cao Bằng", "006": "Bắc Kạn",
	"008": "Tuyên Quang", "010": "Lào Cai", "011": "Điện Biên", "012": "Lai Châu",
	"014": "Sơn La", "015": "Yên Bái", "017": "Hòa Bình", "019": "Thái Nguyên",
	"020": "Lạng Sơn", "022": "Quảng Ninh", "024": "Bắc Giang", "025": "Phú Thọ",
	"026": "Vĩnh Phúc", "027": "Bắc Ninh", "030": "Hải Dương", "031": "Hải Phòng",
	"033": "Hưng Yên", "034": "Thái Bình", "035": "Hà Nam", "036": "Nam Định",
	"037": "Ninh Bình", "038": "Thanh Hóa", "040": "Nghệ An", "042": "Hà Tĩnh",
	"044": "Quảng Bình", "045": "Quảng Trị", "046": "Thừa Thiên Huế", "048": "Đà Nẵng",
	"049": "Quảng Nam", "051": "Quảng Ngãi", "052": "Bình Định", "054": "Phú Yên",
	"056": "Khánh Hòa", "058": "Ninh Thuận", "060": "Bình Thuận", "062": "Kon Tum",
	"064": "Gia Lai", "066": "Đắk Lắk", "067": "Đắk Nông", "068": "Lâm Đồng",
	"070": "Bình Phước", "072": "Tây Ninh", "074": "Bình Dương", "075": "Đồng Nai",
	"077": "Bà Rịa - Vũng Tàu", "079": "Hồ Chí Minh", "080": "Long An", "082": "Tiền Giang",
	"083": "Bến Tre", "084": "Trà Vinh", "086": "Vĩnh Long", "087": "Đồng Tháp",
	"089": "An Giang", "091": "Kiên Giang", "092": "Cần Thơ", "093": "Hậu Giang",
	"094": "Sóc Trăng", "095": "Bạc Liêu", "096": "Cà Mau",
}

// Provinces are the 34 provincial-level units in force since 1 July 2025
// (Resolution 202/2025/QH15): 6 centrally-run cities and 28 provinces, in
// the spelling kyso writes into the ST attribute.
var Provinces = []string{
	// Cities.
	"Hà Nội", "Huế", "Hải Phòng", "Đà Nẵng", "Hồ Chí Minh", "Cần Thơ",
	// Provinces whose borders did not change.
	"Cao Bằng", "Điện Biên", "Hà Tĩnh", "Lai Châu", "Lạng Sơn", "Nghệ An",
	"Quảng Ninh", "Thanh Hóa", "Sơn La",
	// Provinces formed or enlarged by the merger.
	"Tuyên Quang", "Lào Cai", "Thái Nguyên", "Phú Thọ", "Bắc Ninh", "Hưng Yên",
	"Ninh Bình", "Quảng Trị", "Quảng Ngãi", "Gia Lai", "Khánh Hòa", "Lâm Đồng",
	"Đắk Lắk", "Đồng Nai", "Tây Ninh", "Vĩnh Long", "Đồng Tháp", "Cà Mau",
	"An Giang",
}

// mergedProvinces maps each provincial unit that ceased to exist on 1 July
// 2025 to the unit it was merged into (Resolution 202/2025/QH15).
var mergedProvinces = map[string]string{
	"Hà Giang": "Tuyên Quang", "Yên Bái": "Lào Cai", "Bắc Kạn": "Thái Nguyên",
	"Vĩnh Phúc": "Phú Thọ", "Hòa Bình": "Phú Thọ", "Bắc Giang": "Bắc Ninh",
	"Thái Bình": "Hưng Yên", "Hải Dương": "Hải Phòng", "Hà Nam": "Ninh Bình",
	"Nam Định": "Ninh Bình", "Quảng Bình": "Quảng Trị", "Quảng Nam": "Đà Nẵng",
	"Kon Tum": "Quảng Ngãi", "Bình Định": "Gia Lai", "Ninh Thuận": "Khánh Hòa",
	"Đắk Nông": "Lâm Đồng", "Bình Thuận": "Lâm Đồng", "Phú Yên": "Đắk Lắk",
	"Bình Dương": "Hồ Chí Minh", "Bà Rịa - Vũng Tàu": "Hồ Chí Minh",
	"Bình Phước": "Đồng Nai", "Long An": "Tây Ninh", "Sóc Trăng": "Cần Thơ",
	"Hậu Giang": "Cần Thơ", "Bến Tre": "Vĩnh Long", "Trà Vinh": "Vĩnh Long",
	"Tiền Giang": "Đồng Tháp", "Bạc Liêu": "Cà Mau", "Kiên Giang": "An Giang",
	"Thừa Thiên Huế": "Huế",
}

var (
	foldCase = cases.Fold()
	// toneFold maps the "new style" tone placement (hoà, thuý) to the one
	// the official names use (hòa, thúy), so either spelling is accepted.
	toneFold = strings.NewReplacer(
		"oà", "òa", "oá", "óa", "oả", "ỏa", "oã", "õa", "oạ", "ọa",
		"oè", "òe", "oé", "óe", "oẻ", "ỏe", "oẽ", "õe", "oẹ", "ọe",
		"uỳ", "ùy", "uý", "úy", "uỷ", "ủy", "uỹ", "ũy", "uỵ", "ụy",
	)
)

// provinceTables are Provinces and mergedProvinces by provinceKey.
type provinceTables struct {
	byKey, merged map[string]string
}

// provinceKeys builds the tables on first use, not at start-up: every
// program that links this package would otherwise normalise and case-fold
// a hundred names before main, whatever it does.
var provinceKeys = sync.OnceValue(func() provinceTables {
	t := provinceTables{byKey: map[string]string{}, merged: map[string]string{}}
	for _, p := range Provinces {
		t.byKey[provinceKey(p)] = p
	}
	for old, now := range mergedProvinces {
		t.merged[provinceKey(old)] = now
	}
	t.byKey[provinceKey("Thành phố Hồ Chí Minh")] = "Hồ Chí Minh"
	t.byKey[provinceKey("TP Hồ Chí Minh")] = "Hồ Chí Minh"
	t.byKey[provinceKey("TP. Hồ Chí Minh")] = "Hồ Chí Minh"
	return t
})

// provinceKey is the comparison form of a province name: NFC, case-folded,
// one tone-placement convention, single spaces, spaces around '-' dropped,
// and a leading "tỉnh " or "thành phố " removed.
func provinceKey(s string) string {
	s = norm.NFC.String(s)
	s = foldCase.String(s)
	s = norm.NFC.String(toneFold.Replace(s))
	s = strings.Join(strings.Fields(s), " ")
	s = strings.ReplaceAll(s, " - ", "-")
	for _, p := range []string{"tỉnh ", "thành phố ", "tp. ", "tp "} {
		s = strings.TrimPrefix(s, p)
	}
	return s
}
