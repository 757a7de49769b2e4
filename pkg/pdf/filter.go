package pdf

import (
	"bytes"
	"compress/zlib"
	"errors"
	"fmt"
	"io"
)

// StreamData returns a stream's decoded bytes (§7.4): it applies each
// /Filter in turn — FlateDecode (with PNG and TIFF predictors from
// /DecodeParms, §7.4.4.4), ASCIIHexDecode and ASCII85Decode — and refuses
// other filters with ErrUnsupported. The decoded size is bounded by
// MaxDecodedLen and MaxRatio.
func (rd *Reader) StreamData(st *Stream) ([]byte, error) {
	data, err := rd.rawStream(st)
	if err != nil {
		return nil, err
	}
	filters, err := rd.Get(st.Dict.Get("Filter"))
	if err != nil {
		return nil, err
	}
	params, err := rd.Get(st.Dict.Get("DecodeParms"))
	if err != nil {
		return nil, err
	}
	var fl []Name
	var ps []Object
	switch f := filters.(type) {
	case nil, Null:
	case Name:
		fl, ps = []Name{f}, []Object{params}
	case Array:
		pa, _ := params.(Array)
		for i, v := range f {
			n, ok := v.(Name)
			if !ok {
				return nil, malformed("decoding stream", st.Offset, "/Filter entry is not a name")
			}
			fl = append(fl, n)
			var p Object
			if i < len(pa) {
				p = pa[i]
			}
			ps = append(ps, p)
		}
	default:
		return nil, malformed("decoding stream", st.Offset, "/Filter is neither a name nor an array")
	}
	if len(fl) > 8 {
		return nil, limitErr("decoding stream", st.Offset, "more than 8 filters")
	}
	raw := int64(len(data))
	for i, f := range fl {
		p, err := rd.Get(ps[i])
		if err != nil {
			return nil, err
		}
		pd, _ := p.(*Dict)
		switch f {
		case "FlateDecode", "Fl":
			data, err = rd.inflate(data, raw, st.Offset)
			if err == nil {
				data, err = rd.unpredict(data, pd, st.Offset)
			}
		case "ASCIIHexDecode", "AHx":
			data, err = asciiHex(data)
		case "ASCII85Decode", "A85":
			data, err = ascii85(data)
		default:
			return nil, &Error{Kind: ErrUnsupported, Op: "decoding stream", Offset: st.Offset,
				Msg: fmt.Sprintf("filter /%s", f)}
		}
		if err != nil {
			var pe *Error
			if errors.As(err, &pe) {
				return nil, err
			}
			return nil, &Error{Kind: ErrMalformed, Op: "decoding stream with /" + string(f), Offset: st.Offset, Err: err}
		}
		if err := rd.chargeBytes(int64(len(data))); err != nil {
			return nil, err
		}
	}
	return data, nil
}

// inflate decompresses zlib data within MaxDecodedLen and MaxRatio of raw.
// A truncated stream or a bad checksum, common in the wild, yields what
// could be decoded.
func (rd *Reader) inflate(data []byte, raw int64, off int64) ([]byte, error) {
	zr, err := zlib.NewReader(bytes.NewReader(data))
	if err != nil {
		return nil, err
	}
	defer zr.Close()
	var out bytes.Buffer
	buf := make([]byte, 32<<10)
	for {
		n, err := zr.Read(buf)
		out.Write(buf[:n])
		if int64(out.Len()) > rd.lim.MaxDecodedLen {
			return nil, limitErr("decoding stream", off, "decoded data exceeds %d bytes", rd.lim.MaxDecodedLen)
		}
		if out.Len() > 1<<20 && int64(out.Len()) > rd.lim.MaxRatio*max(raw, 1) {
			return nil, limitErr("decoding stream", off, "decoded data is more than %d times its encoded size", rd.lim.MaxRatio)
		}
		if err == io.EOF {
			return out.Bytes(), nil
		}
		if err != nil {
			if out.Len() > 0 && (errors.Is(err, io.ErrUnexpectedEOF) || errors.Is(err, zlib.ErrChecksum)) {
				return out.Bytes(), nil
			}
			return nil, err
		}
	}
}

// unpredict reverses a PNG (10–15) or TIFF (2) predictor (§7.4.4.4).
func (rd *Reader) unpredict(data []byte, p *Dict, off int64) ([]byte, error) {
	pred := intOr(p.Get("Predictor"), 1)
	if pred == 1 {
		return data, nil
	}
	colors := intOr(p.Get("Colors"), 1)
	bpc := intOr(p.Get("BitsPerComponent"), 8)
	columns := intOr(p.Get("Columns"), 1)
	if colors < 1 || colors > 32 || columns < 1 || columns > 1<<20 {
		return nil, malformed("decoding stream", off, "bad predictor parameters")
	}
	switch bpc {
	case 1, 2, 4, 8, 16:
	default:
		return nil, malformed("decoding stream", off, "bad /BitsPerComponent %d", bpc)
	}
	bpp := max((colors*bpc+7)/8, 1)
	rowLen := (colors*bpc*columns + 7) / 8
	if rowLen > len(data) && len(data) > 0 {
		return nil, malformed("decoding stream", off, "predictor row of %d bytes is longer than the %d bytes of data", rowLen, len(data))
	}
	if pred == 2 {
		if bpc != 8 {
			return nil, &Error{Kind: ErrUnsupported, Op: "decoding stream", Offset: off, Msg: "TIFF predictor with other than 8 bits per component"}
		}
		for r := 0; r+rowLen <= len(data); r += rowLen {
			row := data[r : r+rowLen]
			for i := bpp; i < len(row); i++ {
				row[i] += row[i-bpp]
			}
		}
		return data, nil
	}
	if pred < 10 || pred > 15 {
		return nil, &Error{Kind: ErrUnsupported, Op: "decoding stream", Offset: off, Msg: fmt.Sprintf("predictor %d", pred)}
	}
	out := make([]byte, 0, len(data)/(rowLen+1)*rowLen)
	prev := make([]byte, rowLen)
	for r := 0; r < len(data); r += rowLen + 1 {
		end := min(r+rowLen+1, len(data))
		ft := data[r]
		row := make([]byte, rowLen)
		copy(row, data[r+1:end])
		for i := range row {
			var a, b, c byte
			if i >= bpp {
				a, c = row[i-bpp], prev[i-bpp]
			}
			b = prev[i]
			switch ft {
			case 0:
			case 1:
				row[i] += a
			case 2:
				row[i] += b
			case 3:
				row[i] += byte((int(a) + int(b)) / 2)
			case 4:
				row[i] += paeth(a, b, c)
			default:
				return nil, malformed("decoding stream", off, "bad PNG filter type %d", ft)
			}
		}
		out = append(out, row...)
		prev = row
	}
	return out, nil
}

func paeth(a, b, c byte) byte {
	p := int(a) + int(b) - int(c)
	pa, pb, pc := abs(p-int(a)), abs(p-int(b)), abs(p-int(c))
	if pa <= pb && pa <= pc {
		return a
	}
	if pb <= pc {
		return b
	}
	return c
}

func abs(x int) int {
	if x < 0 {
		return -x
	}
	return x
}

func intOr(o Object, def int) int {
	if i, ok := o.(Int); ok && i >= -1<<31 && i <= 1<<31 {
		return int(i)
	}
	return def
}

// asciiHex decodes ASCIIHexDecode data up to its '>' (§7.4.2).
func asciiHex(data []byte) ([]byte, error) {
	out := make([]byte, 0, len(data)/2)
	hi := -1
	for _, c := range data {
		if c == '>' {
			break
		}
		if isWhite(c) {
			continue
		}
		v := unhex(int(c))
		if v < 0 {
			return nil, fmt.Errorf("bad byte %#x", c)
		}
		if hi < 0 {
			hi = v
		} else {
			out = append(out, byte(hi<<4|v))
			hi = -1
		}
	}
	if hi >= 0 {
		out = append(out, byte(hi<<4))
	}
	return out, nil
}

// ascii85 decodes ASCII85Decode data up to its "~>" (§7.4.3).
func ascii85(data []byte) ([]byte, error) {
	out := make([]byte, 0, len(data)*4/5)
	var v uint64
	n := 0
	for i := 0; i < len(data); i++ {
		c := data[i]
		switch {
		case isWhite(c):
			continue
		case c == '~':
			i = len(data)
			continue
		case c == 'z' && n == 0:
			out = append(out, 0, 0, 0, 0)
			continue
		case c < '!' || c > 'u':
			return nil, fmt.Errorf("bad byte %#x", c)
		}
		v = v*85 + uint64(c-'!')
		n++
		if n == 5 {
			if v > 0xffffffff {
				return nil, fmt.Errorf("group out of range")
			}
			out = append(out, byte(v>>24), byte(v>>16), byte(v>>8), byte(v))
			v, n = 0, 0
		}
	}
	if n == 1 {
		return nil, fmt.Errorf("a final group of one character")
	}
	if n > 1 {
		for k := n; k < 5; k++ {
			v = v*85 + 84
		}
		b := []byte{byte(v >> 24), byte(v >> 16), byte(v >> 8), byte(v)}
		out = append(out, b[:n-1]...)
	}
	return out, nil
}
