package gen

import (
	"fmt"
	"math/rand/v2"
	"strings"

	"github.com/kyso-pki/kyso/pkg/store"
)

// province is one of the 34 provinces with its weight in the campaign
// (roughly its adults, in hundred thousands) and a CCCD code of a place
// that lies in it now (Circular 07/2016/TT-BCA).
type province struct {
	name   string
	weight int
	code   string
	wards  int
}

// provinces weights the 34 provinces in force since 1 July 2025 by their
// rough adult population; the two largest cities hold about a third.
var provinces = []province{
	{"Hồ Chí Minh", 105, "079", 168}, {"Hà Nội", 68, "001", 126}, {"Hải Phòng", 34, "031", 114},
	{"Đồng Nai", 31, "075", 95}, {"Nghệ An", 27, "040", 130}, {"Thanh Hóa", 28, "038", 166},
	{"Gia Lai", 24, "064", 135}, {"Đắk Lắk", 24, "066", 102}, {"An Giang", 36, "089", 102},
	{"Đồng Tháp", 31, "087", 102}, {"Vĩnh Long", 31, "086", 124}, {"Cà Mau", 18, "096", 64},
	{"Cần Thơ", 30, "092", 103}, {"Đà Nẵng", 22, "048", 94}, {"Huế", 9, "046", 40},
	{"Tây Ninh", 23, "072", 96}, {"Lâm Đồng", 25, "068", 124}, {"Khánh Hòa", 15, "056", 65},
	{"Quảng Ngãi", 15, "051", 96}, {"Quảng Trị", 13, "045", 78}, {"Hà Tĩnh", 10, "042", 69},
	{"Ninh Bình", 30, "037", 129}, {"Hưng Yên", 26, "033", 104}, {"Bắc Ninh", 27, "027", 99},
	{"Phú Thọ", 28, "025", 148}, {"Thái Nguyên", 13, "019", 92}, {"Tuyên Quang", 13, "008", 124},
	{"Lào Cai", 13, "010", 99}, {"Quảng Ninh", 10, "022", 54}, {"Lạng Sơn", 6, "020", 65},
	{"Sơn La", 9, "014", 75}, {"Cao Bằng", 4, "004", 56}, {"Điện Biên", 4, "011", 45},
	{"Lai Châu", 3, "012", 38},
}

// channels weights how citizens enrol: most at the one-stop desks, then
// online, at events and by household visits; a few by the operator.
var channels = []struct {
	name   string
	weight int
}{
	{store.ChannelDesk, 45}, {store.ChannelOnline, 20}, {store.ChannelEvent, 20}, {store.ChannelHousehold, 14}, {store.ChannelOperator, 1},
}

// evidence weights the identity evidence checked per channel.
func evidence(r *rand.Rand, channel string) string {
	switch channel {
	case store.ChannelOnline:
		return "vneid-level2"
	case store.ChannelOperator:
		return "cccd-card"
	}
	if r.IntN(100) < 85 {
		return "cccd-chip"
	}
	if r.IntN(10) == 0 {
		return "passport"
	}
	return "cccd-card"
}

var (
	families = []string{"Nguyễn", "Trần", "Lê", "Phạm", "Hoàng", "Huỳnh", "Phan", "Vũ", "Võ", "Đặng", "Bùi", "Đỗ", "Hồ", "Ngô", "Dương", "Lý"}
	familyW  = []int{38, 11, 9, 7, 5, 5, 4, 4, 4, 2, 2, 2, 2, 2, 1, 1}
	middles  = []string{"Văn", "Thị", "Minh", "Ngọc", "Thanh", "Đức", "Quang", "Hữu", "Thu", "Kim", "Hoài", "Gia"}
	givens   = []string{"An", "Anh", "Bình", "Châu", "Cường", "Dũng", "Duyên", "Giang", "Hà", "Hải", "Hạnh", "Hiếu", "Hoa", "Hùng", "Hương",
		"Khánh", "Khoa", "Lan", "Linh", "Long", "Mai", "My", "Nam", "Nga", "Nhung", "Phong", "Phúc", "Phương", "Quân", "Quyên", "Sơn",
		"Tâm", "Thảo", "Thắng", "Trang", "Trung", "Tuấn", "Uyên", "Việt", "Vy", "Xuân", "Yến"}
)

// weighted draws an index by weights w (summing to total).
func weighted(r *rand.Rand, w []int, total int) int {
	n := r.IntN(total)
	for i, x := range w {
		if n < x {
			return i
		}
		n -= x
	}
	return len(w) - 1
}

func sum(w []int) int {
	t := 0
	for _, x := range w {
		t += x
	}
	return t
}

// person is one generated citizen.
type person struct {
	name, cccd, province, ward string
}

// MaxEnrolments bounds a campaign: each CCCD prefix (province code, sex
// and century, birth year) numbers at most a million citizens, and the
// busiest of the 34×4×58 prefixes draws well under that below this.
const MaxEnrolments = 100_000_000

// people draws citizens: Vietnamese names, a CCCD of their province's
// code with a birth year and a number unique within it, a ward drawn by
// Zipf's law (a few central wards enrol most).
type people struct {
	r         *rand.Rand
	provW     []int
	provTotal int
	famTotal  int
	zipf      []*rand.Zipf
	next      map[string]int
}

func newPeople(r *rand.Rand) *people {
	p := &people{r: r, next: map[string]int{}, famTotal: sum(familyW)}
	for _, pr := range provinces {
		p.provW = append(p.provW, pr.weight)
		p.zipf = append(p.zipf, rand.NewZipf(r, 1.1, 4, uint64(pr.wards-1)))
	}
	p.provTotal = sum(p.provW)
	return p
}

// draw makes the next citizen.
func (p *people) draw() person {
	r := p.r
	pi := weighted(r, p.provW, p.provTotal)
	pr := provinces[pi]
	name := families[weighted(r, familyW, p.famTotal)] + " " + middles[r.IntN(len(middles))] + " " + givens[r.IntN(len(givens))]
	year := 1950 + r.IntN(58) // adults: born 1950–2007
	century := 0              // CCCD's 4th digit: sex and century (0/1: 20th, 2/3: 21st)
	if year >= 2000 {
		century = 2
	}
	century += r.IntN(2)
	key := fmt.Sprintf("%s%d%02d", pr.code, century, year%100)
	n := p.next[key]
	p.next[key] = n + 1
	ward := int(p.zipf[pi].Uint64()) + 1
	return person{name: name, cccd: key + fmt.Sprintf("%06d", n), province: pr.name, ward: wardName(pr.name, ward)}
}

// wardName names a province's ward: "Phường 7, Hồ Chí Minh" style names
// are synthetic, distinct per province and short.
func wardName(province string, n int) string {
	kind := "Phường"
	if n%3 == 0 {
		kind = "Xã"
	}
	return fmt.Sprintf("%s %d %s", kind, n, initials(province))
}

func initials(s string) string {
	var b strings.Builder
	for _, w := range strings.Fields(s) {
		for _, r := range w {
			if r != '-' {
				b.WriteRune(r)
			}
			break
		}
	}
	return b.String()
}
