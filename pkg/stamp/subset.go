package stamp

import (
	"encoding/binary"
	"errors"
	"fmt"
	"slices"
	"sort"
)

// sfntTables splits a TrueType file (OpenType with glyf outlines) into its
// tables, checking that each lies inside the file.
func sfntTables(font []byte) (map[string][]byte, error) {
	if len(font) < 12 {
		return nil, errors.New("stamp: font: too short")
	}
	if v := binary.BigEndian.Uint32(font); v != 0x00010000 && v != 0x74727565 { // 1.0 or 'true'
		return nil, fmt.Errorf("stamp: font: version %#x is not TrueType outlines", v)
	}
	n := int(binary.BigEndian.Uint16(font[4:]))
	if len(font) < 12+16*n {
		return nil, errors.New("stamp: font: table directory truncated")
	}
	tables := make(map[string][]byte, n)
	for i := range n {
		e := font[12+16*i:]
		off, length := uint64(binary.BigEndian.Uint32(e[8:])), uint64(binary.BigEndian.Uint32(e[12:]))
		if off+length > uint64(len(font)) {
			return nil, fmt.Errorf("stamp: font: table %q outside the file", e[:4])
		}
		tables[string(e[:4])] = font[off : off+length]
	}
	for _, t := range []string{"head", "hhea", "maxp", "loca", "glyf", "hmtx"} {
		if tables[t] == nil {
			return nil, fmt.Errorf("stamp: font: no %q table", t)
		}
	}
	if len(tables["head"]) < 54 || len(tables["hhea"]) < 36 || len(tables["maxp"]) < 6 {
		return nil, errors.New("stamp: font: head, hhea or maxp table truncated")
	}
	return tables, nil
}

// glyphLocations reads the loca table: numGlyphs+1 offsets into glyf.
func glyphLocations(t map[string][]byte) ([]uint32, error) {
	numGlyphs := int(binary.BigEndian.Uint16(t["maxp"][4:]))
	long := binary.BigEndian.Uint16(t["head"][50:]) != 0
	loca, glyf := t["loca"], t["glyf"]
	locs := make([]uint32, numGlyphs+1)
	for i := range locs {
		if long {
			if len(loca) < 4*(i+1) {
				return nil, errors.New("stamp: font: loca table truncated")
			}
			locs[i] = binary.BigEndian.Uint32(loca[4*i:])
		} else {
			if len(loca) < 2*(i+1) {
				return nil, errors.New("stamp: font: loca table truncated")
			}
			locs[i] = 2 * uint32(binary.BigEndian.Uint16(loca[2*i:]))
		}
		if locs[i] > uint32(len(glyf)) || (i > 0 && locs[i] < locs[i-1]) {
			return nil, fmt.Errorf("stamp: font: loca entry %d out of order or outside glyf", i)
		}
	}
	return locs, nil
}

// Composite glyph flags (OpenType glyf table, "Composite glyph description").
const (
	argsAreWords    = 0x0001
	weHaveAScale    = 0x0008
	moreComponents  = 0x0020
	weHaveXYScale   = 0x0040
	weHaveTwoByTwo  = 0x0080
	maxGlyphClosure = 1 << 14
)

// components returns the glyph indices a composite glyph refers to; none
// for a simple or empty glyph.
func components(g []byte) ([]uint16, error) {
	if len(g) < 10 || int16(binary.BigEndian.Uint16(g)) >= 0 {
		return nil, nil
	}
	var out []uint16
	p := 10
	for {
		if p+4 > len(g) {
			return nil, errors.New("stamp: font: composite glyph truncated")
		}
		flags := binary.BigEndian.Uint16(g[p:])
		out = append(out, binary.BigEndian.Uint16(g[p+2:]))
		p += 4
		if flags&argsAreWords != 0 {
			p += 4
		} else {
			p += 2
		}
		switch {
		case flags&weHaveAScale != 0:
			p += 2
		case flags&weHaveXYScale != 0:
			p += 4
		case flags&weHaveTwoByTwo != 0:
			p += 8
		}
		if flags&moreComponents == 0 || len(out) > 256 {
			return out, nil
		}
	}
}

// Subset returns a TrueType font program for a PDF FontFile2 (ISO 32000-2
// §9.9) holding only the outlines of the glyphs in used, .notdef and the
// components of composite glyphs. Glyph indices stay as they are — the
// loca table is rebuilt with empty entries for the glyphs left out — so a
// CIDFontType2 with /CIDToGIDMap /Identity can use the original indices as
// CIDs. The tables kept are those a PDF consumer needs (head, hhea, maxp,
// loca, glyf, hmtx, cvt, fpgm, prep), with a new post (version 3, no glyph
// names) and a new cmap (format 4, Windows Unicode BMP) mapping the runes
// of cmap, so that ordinary font software can read the subset too.
func Subset(font []byte, used map[uint16]bool, cmap map[rune]uint16) ([]byte, error) {
	t, err := sfntTables(font)
	if err != nil {
		return nil, err
	}
	locs, err := glyphLocations(t)
	if err != nil {
		return nil, err
	}
	numGlyphs := len(locs) - 1
	glyf := t["glyf"]
	keep := map[uint16]bool{0: true}
	queue := []uint16{0}
	for g := range used {
		if int(g) >= numGlyphs {
			return nil, fmt.Errorf("stamp: font: glyph %d of %d", g, numGlyphs)
		}
		if !keep[g] {
			keep[g] = true
			queue = append(queue, g)
		}
	}
	for len(queue) > 0 {
		g := queue[0]
		queue = queue[1:]
		cs, err := components(glyf[locs[g]:locs[g+1]])
		if err != nil {
			return nil, err
		}
		for _, c := range cs {
			if int(c) >= numGlyphs {
				return nil, fmt.Errorf("stamp: font: glyph %d has component %d of %d", g, c, numGlyphs)
			}
			if !keep[c] {
				if len(keep) >= maxGlyphClosure {
					return nil, errors.New("stamp: font: too many composite glyph components")
				}
				keep[c] = true
				queue = append(queue, c)
			}
		}
	}

	// glyf and loca: kept glyphs in place, others empty. Glyphs are
	// padded to 4 bytes so the short loca format (offset/2) can serve.
	var newGlyf []byte
	newLocs := make([]uint32, numGlyphs+1)
	for g := range numGlyphs {
		newLocs[g] = uint32(len(newGlyf))
		if keep[uint16(g)] {
			newGlyf = append(newGlyf, glyf[locs[g]:locs[g+1]]...)
			for len(newGlyf)%4 != 0 {
				newGlyf = append(newGlyf, 0)
			}
		}
	}
	newLocs[numGlyphs] = uint32(len(newGlyf))
	short := len(newGlyf) < 1<<17
	var loca []byte
	for _, l := range newLocs {
		if short {
			loca = binary.BigEndian.AppendUint16(loca, uint16(l/2))
		} else {
			loca = binary.BigEndian.AppendUint32(loca, l)
		}
	}
	head := slices.Clone(t["head"])
	binary.BigEndian.PutUint32(head[8:], 0) // checkSumAdjustment, set last
	if short {
		binary.BigEndian.PutUint16(head[50:], 0)
	} else {
		binary.BigEndian.PutUint16(head[50:], 1)
	}

	// hmtx: metrics of the glyphs left out are zeroed, which compresses.
	numHMetrics := int(binary.BigEndian.Uint16(t["hhea"][34:]))
	hmtx := slices.Clone(t["hmtx"])
	if numHMetrics == 0 || numHMetrics > numGlyphs || len(hmtx) < 4*numHMetrics+2*(numGlyphs-numHMetrics) {
		return nil, errors.New("stamp: font: hmtx table truncated")
	}
	for g := range numGlyphs {
		if keep[uint16(g)] {
			continue
		}
		if g < numHMetrics {
			clear(hmtx[4*g : 4*g+4])
		} else {
			o := 4*numHMetrics + 2*(g-numHMetrics)
			clear(hmtx[o : o+2])
		}
	}

	out := map[string][]byte{
		"head": head, "hhea": t["hhea"], "maxp": t["maxp"], "loca": loca, "glyf": newGlyf, "hmtx": hmtx,
		"post": postV3(t["post"]), "cmap": cmapFormat4(cmap),
	}
	for _, name := range []string{"cvt ", "fpgm", "prep"} {
		if b := t[name]; b != nil {
			out[name] = b
		}
	}
	return assemble(out), nil
}

// postV3 returns a version 3.0 post table (no glyph names) keeping the
// original's italic angle, underline metrics and fixed-pitch flag.
func postV3(orig []byte) []byte {
	p := make([]byte, 32)
	if len(orig) >= 16 {
		copy(p, orig[:16])
	}
	binary.BigEndian.PutUint32(p, 0x00030000)
	return p
}

// cmapFormat4 returns a cmap table with one Windows Unicode BMP (3,1)
// subtable in format 4, one segment per rune (the subset has few).
func cmapFormat4(m map[rune]uint16) []byte {
	var runes []rune
	for r := range m {
		if r >= 0 && r < 0xffff {
			runes = append(runes, r)
		}
	}
	sort.Slice(runes, func(i, j int) bool { return runes[i] < runes[j] })
	segs := len(runes) + 1 // and the final 0xFFFF segment
	searchRange, entrySelector := 1, 0
	for searchRange*2 <= segs {
		searchRange *= 2
		entrySelector++
	}
	searchRange *= 2
	length := 16 + 8*segs
	var st []byte
	u16 := func(v int) { st = binary.BigEndian.AppendUint16(st, uint16(v)) }
	u16(4)
	u16(length)
	u16(0) // language
	u16(2 * segs)
	u16(searchRange)
	u16(entrySelector)
	u16(2*segs - searchRange)
	for _, r := range runes {
		u16(int(r)) // endCode
	}
	u16(0xffff)
	u16(0) // reservedPad
	for _, r := range runes {
		u16(int(r)) // startCode
	}
	u16(0xffff)
	for _, r := range runes {
		u16((int(m[r]) - int(r)) & 0xffff) // idDelta
	}
	u16(1)
	for range segs {
		u16(0) // idRangeOffset
	}
	var c []byte
	c = binary.BigEndian.AppendUint16(c, 0) // version
	c = binary.BigEndian.AppendUint16(c, 1) // one subtable
	c = binary.BigEndian.AppendUint16(c, 3) // Windows
	c = binary.BigEndian.AppendUint16(c, 1) // Unicode BMP
	c = binary.BigEndian.AppendUint32(c, 12)
	return append(c, st...)
}

// assemble lays out a TrueType file from its tables: directory sorted by
// tag, tables 4-byte aligned, checksums, and head's checkSumAdjustment.
func assemble(tables map[string][]byte) []byte {
	tags := make([]string, 0, len(tables))
	for tag := range tables {
		tags = append(tags, tag)
	}
	sort.Strings(tags)
	n := len(tags)
	searchRange, entrySelector := 1, 0
	for searchRange*2 <= n {
		searchRange *= 2
		entrySelector++
	}
	var b []byte
	b = binary.BigEndian.AppendUint32(b, 0x00010000)
	b = binary.BigEndian.AppendUint16(b, uint16(n))
	b = binary.BigEndian.AppendUint16(b, uint16(16*searchRange))
	b = binary.BigEndian.AppendUint16(b, uint16(entrySelector))
	b = binary.BigEndian.AppendUint16(b, uint16(16*(n-searchRange)))
	off := 12 + 16*n
	for _, tag := range tags {
		t := tables[tag]
		b = append(b, tag...)
		b = binary.BigEndian.AppendUint32(b, checksum(t))
		b = binary.BigEndian.AppendUint32(b, uint32(off))
		b = binary.BigEndian.AppendUint32(b, uint32(len(t)))
		off += (len(t) + 3) &^ 3
	}
	headAt := 0
	for _, tag := range tags {
		if tag == "head" {
			headAt = len(b)
		}
		b = append(b, tables[tag]...)
		for len(b)%4 != 0 {
			b = append(b, 0)
		}
	}
	binary.BigEndian.PutUint32(b[headAt+8:], 0xb1b0afba-checksum(b))
	return b
}

// checksum is the OpenType table checksum: the sum of big-endian uint32s,
// the last one zero-padded.
func checksum(b []byte) uint32 {
	var s uint32
	for i := 0; i < len(b); i += 4 {
		var w [4]byte
		copy(w[:], b[i:])
		s += binary.BigEndian.Uint32(w[:])
	}
	return s
}
