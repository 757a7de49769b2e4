// Package stamp draws the appearance of a visible signature: a form
// XObject (ISO 32000-2 §8.10) for a signature widget's /AP, with lines of
// text — Vietnamese included — an optional image and an optional QR code.
//
// Text is drawn with DejaVu Sans, embedded in the binary (fonts/, with its
// licence), subset to the glyphs used and written as a Type0 font with
// Identity-H encoding over a CIDFontType2 with a ToUnicode CMap (§9.7,
// §9.10.3), so that "Ký bởi: NGUYỄN VĂN ĐỨC" is copied and searched as
// written. Text is normalised to NFC first, so each precomposed letter is
// one glyph. Every input is bounded: lines, characters, image bytes and
// pixels, QR text.
package stamp
