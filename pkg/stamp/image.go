package stamp

import (
	"bytes"
	"compress/zlib"
	"fmt"
	"image"
	"image/color"
	"image/jpeg"
	"image/png"

	"github.com/kyso-pki/kyso/pkg/pdf"
)

// Image bounds.
const (
	// MaxImageBytes bounds the encoded image (JPEG or PNG).
	MaxImageBytes = 4 << 20
	// MaxImagePixels bounds its width × height.
	MaxImagePixels = 4 << 20
)

// stampImage is an image ready for the PDF: an image XObject (ISO 32000-2
// §8.9.5) and, for a PNG with transparency, its soft mask (§11.6.5.3).
type stampImage struct {
	w, h  int
	xobj  *pdf.Stream
	smask *pdf.Stream
}

// loadImage checks and converts a JPEG or PNG. A JPEG in grey or YCbCr is
// embedded as it is (DCTDecode, §7.4.8) after a full decode proves it
// sound; other JPEGs (CMYK) and PNGs are decoded and written as 8-bit RGB
// with FlateDecode, alpha as a soft mask.
func loadImage(data []byte) (*stampImage, error) {
	if len(data) > MaxImageBytes {
		return nil, fmt.Errorf("stamp: image is %d bytes, more than %d", len(data), MaxImageBytes)
	}
	cfg, format, err := image.DecodeConfig(bytes.NewReader(data))
	if err != nil {
		return nil, fmt.Errorf("stamp: image is not a JPEG or PNG: %w", err)
	}
	if cfg.Width <= 0 || cfg.Height <= 0 || cfg.Width*cfg.Height > MaxImagePixels {
		return nil, fmt.Errorf("stamp: image is %d×%d pixels, more than %d; scale it down", cfg.Width, cfg.Height, MaxImagePixels)
	}
	var img image.Image
	switch format {
	case "jpeg":
		img, err = jpeg.Decode(bytes.NewReader(data))
	case "png":
		img, err = png.Decode(bytes.NewReader(data))
	default:
		return nil, fmt.Errorf("stamp: image is %s, not JPEG or PNG", format)
	}
	if err != nil {
		return nil, fmt.Errorf("stamp: decoding the %s image: %w", format, err)
	}
	b := img.Bounds()
	si := &stampImage{w: b.Dx(), h: b.Dy()}
	d := pdf.NewDict()
	d.Set("Type", pdf.Name("XObject"))
	d.Set("Subtype", pdf.Name("Image"))
	d.Set("Width", pdf.Int(si.w))
	d.Set("Height", pdf.Int(si.h))
	d.Set("BitsPerComponent", pdf.Int(8))
	if format == "jpeg" && (cfg.ColorModel == color.GrayModel || cfg.ColorModel == color.YCbCrModel) {
		cs := pdf.Name("DeviceRGB")
		if cfg.ColorModel == color.GrayModel {
			cs = "DeviceGray"
		}
		d.Set("ColorSpace", cs)
		d.Set("Filter", pdf.Name("DCTDecode"))
		si.xobj = &pdf.Stream{Dict: d, Data: data}
		return si, nil
	}
	rgb := make([]byte, 0, 3*si.w*si.h)
	alpha := make([]byte, 0, si.w*si.h)
	opaque := true
	for y := b.Min.Y; y < b.Max.Y; y++ {
		for x := b.Min.X; x < b.Max.X; x++ {
			c := color.NRGBAModel.Convert(img.At(x, y)).(color.NRGBA)
			rgb = append(rgb, c.R, c.G, c.B)
			alpha = append(alpha, c.A)
			opaque = opaque && c.A == 0xff
		}
	}
	d.Set("ColorSpace", pdf.Name("DeviceRGB"))
	d.Set("Filter", pdf.Name("FlateDecode"))
	si.xobj = &pdf.Stream{Dict: d, Data: deflate(rgb)}
	if !opaque {
		m := pdf.NewDict()
		m.Set("Type", pdf.Name("XObject"))
		m.Set("Subtype", pdf.Name("Image"))
		m.Set("Width", pdf.Int(si.w))
		m.Set("Height", pdf.Int(si.h))
		m.Set("BitsPerComponent", pdf.Int(8))
		m.Set("ColorSpace", pdf.Name("DeviceGray"))
		m.Set("Filter", pdf.Name("FlateDecode"))
		si.smask = &pdf.Stream{Dict: m, Data: deflate(alpha)}
	}
	return si, nil
}

// deflate compresses b for FlateDecode (zlib, RFC 1950).
func deflate(b []byte) []byte {
	var z bytes.Buffer
	zw, _ := zlib.NewWriterLevel(&z, zlib.BestCompression)
	zw.Write(b)
	zw.Close()
	return z.Bytes()
}
