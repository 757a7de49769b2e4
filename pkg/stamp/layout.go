package stamp

import (
	"fmt"
	"strings"
	"unicode"

	"golang.org/x/text/unicode/norm"
)

// Text bounds and sizes.
const (
	// MaxLines bounds the lines of text given.
	MaxLines = 8
	// MaxLineRunes bounds one line of text, in characters.
	MaxLineRunes = 200
	// maxWrapped bounds the lines after wrapping.
	maxWrapped = 32
	// maxFontSize and minFontSize bound the auto-fitted font size, in
	// points; below readableSize lines are wrapped rather than shrunk.
	maxFontSize  = 12.0
	readableSize = 6.0
	minFontSize  = 4.0
	fontStep     = 0.25
	// leading is the distance between baselines, in font sizes.
	leading = 1.2
)

// glyphRun is a line of text as glyphs of a Font.
type glyphRun struct {
	runes []rune
	gids  []uint16
	adv   []int // advance of each glyph, 1/1000 em
	width int   // sum of adv
}

func (g *glyphRun) add(r rune, gid uint16, adv int) {
	g.runes = append(g.runes, r)
	g.gids = append(g.gids, gid)
	g.adv = append(g.adv, adv)
	g.width += adv
}

func (g *glyphRun) String() string { return string(g.runes) }

// cleanLines normalises the text to NFC, so that a precomposed Vietnamese
// letter is one glyph (and one character for text extraction), splits it
// at line breaks, turns tabs into spaces, trims the lines and refuses
// other control characters and text past the bounds.
func cleanLines(lines []string) ([]string, error) {
	var out []string
	for _, l := range lines {
		l = strings.ReplaceAll(norm.NFC.String(l), "\r\n", "\n")
		out = append(out, strings.Split(l, "\n")...)
	}
	if len(out) > MaxLines {
		return nil, fmt.Errorf("stamp: %d lines of text, more than %d", len(out), MaxLines)
	}
	for i, l := range out {
		l = strings.TrimSpace(strings.ReplaceAll(l, "\t", " "))
		if n := len([]rune(l)); n > MaxLineRunes {
			return nil, fmt.Errorf("stamp: line %d has %d characters, more than %d", i+1, n, MaxLineRunes)
		}
		for _, r := range l {
			if unicode.IsControl(r) || r == unicode.ReplacementChar {
				return nil, fmt.Errorf("stamp: line %d has the control character %U", i+1, r)
			}
		}
		out[i] = l
	}
	for len(out) > 0 && out[len(out)-1] == "" {
		out = out[:len(out)-1]
	}
	for len(out) > 0 && out[0] == "" {
		out = out[1:]
	}
	if len(out) == 0 {
		return nil, fmt.Errorf("stamp: no text")
	}
	return out, nil
}

// shape maps each rune of s to its glyph; there is no kerning or
// ligature, which Vietnamese in precomposed form does not need.
func shape(f *Font, s string) (*glyphRun, error) {
	g := &glyphRun{}
	for _, r := range s {
		gid, adv, err := f.Glyph(r)
		if err != nil {
			return nil, err
		}
		g.add(r, gid, adv)
	}
	return g, nil
}

// wrap breaks g into lines no wider than limit (1/1000 em) at spaces, and
// inside a word only when the word alone is too wide.
func wrap(g *glyphRun, limit int) []*glyphRun {
	var out []*glyphRun
	cur := &glyphRun{}
	flush := func() {
		out = append(out, cur)
		cur = &glyphRun{}
	}
	i := 0
	for i < len(g.runes) {
		j := i
		for j < len(g.runes) && g.runes[j] != ' ' {
			j++
		}
		w := 0
		for k := i; k < j; k++ {
			w += g.adv[k]
		}
		space := 0
		if len(cur.runes) > 0 && i > 0 {
			space = g.adv[i-1]
		}
		switch {
		case cur.width+space+w <= limit:
			if space > 0 {
				cur.add(' ', g.gids[i-1], g.adv[i-1])
			}
		case w <= limit:
			flush()
		default:
			// A word wider than the line: break it where it must.
			if len(cur.runes) > 0 {
				flush()
			}
			for k := i; k < j; k++ {
				if cur.width+g.adv[k] > limit && len(cur.runes) > 0 {
					flush()
				}
				cur.add(g.runes[k], g.gids[k], g.adv[k])
			}
			i = j + 1
			continue
		}
		for k := i; k < j; k++ {
			cur.add(g.runes[k], g.gids[k], g.adv[k])
		}
		i = j + 1
	}
	if len(cur.runes) > 0 || len(out) == 0 {
		flush()
	}
	return out
}

// textBlock is text laid out at one font size.
type textBlock struct {
	size  float64
	lines []*glyphRun
}

// height returns the block's height in points: ascent of the first line
// to descent of the last.
func (b *textBlock) height(f *Font) float64 {
	return b.size*float64(f.Ascent-f.Descent)/1000 + float64(len(b.lines)-1)*b.size*leading
}

// fit lays lines out in a box of w × h points at the largest font size up
// to maxFontSize that fits: unwrapped if that is possible at a readable
// size, wrapped otherwise, down to minFontSize. When wrapping, a line that
// would fit whole at a readable size — the signer's name beside a long
// date — is kept whole, and only the longer ones are wrapped.
func fit(f *Font, lines []*glyphRun, w, h float64) (*textBlock, error) {
	if w <= 0 || h <= 0 {
		return nil, fmt.Errorf("stamp: no room for the text")
	}
	for _, wrapping := range []bool{false, true} {
		low := readableSize
		if wrapping {
			low = minFontSize
		}
		for s := maxFontSize; s >= low; s -= fontStep {
			limit := int(w * 1000 / s)
			b := &textBlock{size: s}
			ok := true
			for _, l := range lines {
				if !wrapping {
					if l.width > limit {
						ok = false
						break
					}
					b.lines = append(b.lines, l)
					continue
				}
				if l.width > limit && float64(l.width)*readableSize/1000 <= w {
					ok = false // smaller, rather than break this line
					break
				}
				b.lines = append(b.lines, wrap(l, limit)...)
				if len(b.lines) > maxWrapped {
					ok = false
					break
				}
			}
			if ok && b.height(f) <= h {
				return b, nil
			}
		}
	}
	return nil, fmt.Errorf("stamp: the text does not fit in %s×%s points even at %g pt; make the rectangle larger", num(w), num(h), minFontSize)
}
