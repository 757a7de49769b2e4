package pdf

import (
	"bytes"
	"crypto/aes"
	"crypto/cipher"
	"crypto/md5"
	"crypto/rc4"
	"crypto/sha256"
	"crypto/sha512"
	"encoding/binary"
	"errors"
	"hash"
	"io"
)

// OpenToRead is Open for a document that is only read, never written:
// one encrypted by the standard security handler (ISO 32000-2 §7.6.4) and
// opened by the empty user password — as most encrypted documents are,
// to set permissions — is decrypted as it is read (RC4 of 40 to 128 bits,
// AES-128 and AES-256). A document that needs a password, or another
// security handler, is refused with ErrEncrypted. Writing over such a
// reader is not supported: Open, which signing uses, refuses every
// encrypted document.
func OpenToRead(r io.ReaderAt, size int64, opts *Limits) (*Reader, error) {
	return open(r, size, opts, true)
}

// encryptedErr is the refusal of an encrypted document.
func encryptedErr(msg string) error {
	return &Error{Kind: ErrEncrypted, Op: "opening", Offset: -1, Msg: msg}
}

// cryptMethod is how strings or streams are encrypted.
type cryptMethod int

const (
	cryptNone cryptMethod = iota
	cryptRC4
	cryptAESV2
	cryptAESV3
)

// decryptor holds the file key of a standard security handler.
type decryptor struct {
	key           []byte
	strM, stmM    cryptMethod
	encryptMeta   bool
	encryptObjNum int // the /Encrypt dictionary's object, never decrypted
}

// padding is the password padding of §7.6.4.3.2, Algorithm 2.
var padding = []byte{
	0x28, 0xBF, 0x4E, 0x5E, 0x4E, 0x75, 0x8A, 0x41, 0x64, 0x00, 0x4E, 0x56, 0xFF, 0xFA, 0x01, 0x08,
	0x2E, 0x2E, 0x00, 0xB6, 0xD0, 0x68, 0x3E, 0x80, 0x2F, 0x0C, 0xA9, 0xFE, 0x64, 0x53, 0x69, 0x7A,
}

// setUpDecryption reads the trailer's /Encrypt dictionary and derives the
// file key from the empty user password.
func (rd *Reader) setUpDecryption() error {
	ref, isRef := rd.trailer.Get("Encrypt").(Ref)
	eo, err := rd.Get(rd.trailer.Get("Encrypt"))
	if err != nil {
		return err
	}
	enc, ok := eo.(*Dict)
	if !ok {
		return encryptedErr("the /Encrypt entry is not a dictionary")
	}
	if enc.Get("Filter") != Name("Standard") {
		return encryptedErr("the document is encrypted with a security handler other than the standard one")
	}
	d := &decryptor{encryptMeta: true, encryptObjNum: -1}
	if isRef {
		d.encryptObjNum = ref.Num
	}
	if b, ok := enc.Get("EncryptMetadata").(Bool); ok {
		d.encryptMeta = bool(b)
	}
	v, _ := enc.Get("V").(Int)
	r, _ := enc.Get("R").(Int)
	p, _ := enc.Get("P").(Int)
	o, _ := enc.Get("O").(String)
	u, _ := enc.Get("U").(String)
	var id0 []byte
	if ids, ok := rd.trailer.Get("ID").(Array); ok && len(ids) > 0 {
		if s, ok := ids[0].(String); ok {
			id0 = s.Value
		}
	}
	switch v {
	case 1, 2:
		d.strM, d.stmM = cryptRC4, cryptRC4
	case 4, 5:
		cf, _ := rd.Get(enc.Get("CF"))
		cfd, _ := cf.(*Dict)
		method := func(name Object) (cryptMethod, error) {
			n, _ := name.(Name)
			if n == "" || n == "Identity" {
				return cryptNone, nil
			}
			f, _ := rd.Get(cfd.Get(n))
			fd, ok := f.(*Dict)
			if !ok {
				return 0, encryptedErr("a crypt filter the document names is not defined")
			}
			switch fd.Get("CFM") {
			case Name("None"), nil:
				return cryptNone, nil
			case Name("V2"):
				return cryptRC4, nil
			case Name("AESV2"):
				return cryptAESV2, nil
			case Name("AESV3"):
				return cryptAESV3, nil
			}
			return 0, encryptedErr("the document's crypt filter method is not supported")
		}
		if d.strM, err = method(enc.Get("StrF")); err != nil {
			return err
		}
		if d.stmM, err = method(enc.Get("StmF")); err != nil {
			return err
		}
	default:
		return encryptedErr("the document's encryption (V " + itoa(int(v)) + ") is not supported")
	}
	switch r {
	case 2, 3, 4:
		n := 5
		if r >= 3 {
			l, ok := enc.Get("Length").(Int)
			if !ok {
				l = 40
			}
			if v >= 4 && (d.strM == cryptAESV2 || d.stmM == cryptAESV2) {
				l = 128
			}
			if l < 40 || l > 128 || l%8 != 0 {
				return encryptedErr("the key length is not 40 to 128 bits")
			}
			n = int(l / 8)
		}
		if len(o.Value) < 32 || len(u.Value) < 32 {
			return encryptedErr("the /O or /U entry is too short")
		}
		h := md5.New()
		h.Write(padding)
		h.Write(o.Value[:32])
		binary.Write(h, binary.LittleEndian, int32(p))
		h.Write(id0)
		if r >= 4 && !d.encryptMeta {
			h.Write([]byte{0xff, 0xff, 0xff, 0xff})
		}
		key := h.Sum(nil)
		if r >= 3 {
			for range 50 {
				s := md5.Sum(key[:n])
				key = s[:]
			}
		}
		key = key[:n]
		if !userPasswordR2to4(key, int(r), id0, u.Value) {
			return encryptedErr("the document needs a password to be opened")
		}
		d.key = key
	case 5, 6:
		ue, _ := enc.Get("UE").(String)
		if len(u.Value) < 48 || len(ue.Value) < 32 {
			return encryptedErr("the /U or /UE entry is too short")
		}
		if !bytes.Equal(hash2B(int(r), u.Value[32:40]), u.Value[:32]) {
			return encryptedErr("the document needs a password to be opened")
		}
		ik := hash2B(int(r), u.Value[40:48])
		block, err := aes.NewCipher(ik)
		if err != nil {
			return encryptedErr("the intermediate key is not an AES key")
		}
		key := make([]byte, 32)
		cipher.NewCBCDecrypter(block, make([]byte, 16)).CryptBlocks(key, ue.Value[:32])
		d.key = key
	default:
		return encryptedErr("the document's security handler revision (R " + itoa(int(r)) + ") is not supported")
	}
	rd.dec = d
	return nil
}

// userPasswordR2to4 checks the empty user password against /U
// (Algorithms 4 and 5).
func userPasswordR2to4(key []byte, r int, id0, u []byte) bool {
	if r == 2 {
		c, _ := rc4.NewCipher(key)
		out := make([]byte, 32)
		c.XORKeyStream(out, padding)
		return bytes.Equal(out, u[:32])
	}
	h := md5.New()
	h.Write(padding)
	h.Write(id0)
	x := h.Sum(nil)
	k := make([]byte, len(key))
	for i := range 20 {
		for j := range key {
			k[j] = key[j] ^ byte(i)
		}
		c, _ := rc4.NewCipher(k)
		c.XORKeyStream(x, x)
	}
	return bytes.Equal(x, u[:16])
}

// hash2B is the hash of the empty password with salt (Algorithm 2.A for
// R 5, 2.B for R 6), no user key data.
func hash2B(r int, salt []byte) []byte {
	k := sha256.Sum256(salt)
	if r == 5 {
		return k[:]
	}
	key := k[:]
	for round := 0; ; round++ {
		k1 := bytes.Repeat(key, 64)
		block, _ := aes.NewCipher(key[:16])
		e := make([]byte, len(k1))
		cipher.NewCBCEncrypter(block, key[16:32]).CryptBlocks(e, k1)
		sum := 0
		for _, b := range e[:16] {
			sum += int(b)
		}
		var h hash.Hash
		switch sum % 3 {
		case 0:
			h = sha256.New()
		case 1:
			h = sha512.New384()
		default:
			h = sha512.New()
		}
		h.Write(e)
		key = h.Sum(nil)
		if round >= 63 && int(e[len(e)-1]) <= round+1-32 {
			break
		}
	}
	return key[:32]
}

// objectKey is the key of object num, gen (Algorithm 1).
func (d *decryptor) objectKey(m cryptMethod, num, gen int) []byte {
	if m == cryptAESV3 {
		return d.key
	}
	h := md5.New()
	h.Write(d.key)
	h.Write([]byte{byte(num), byte(num >> 8), byte(num >> 16), byte(gen), byte(gen >> 8)})
	if m == cryptAESV2 {
		h.Write([]byte("sAlT"))
	}
	return h.Sum(nil)[:min(len(d.key)+5, 16)]
}

var errDecrypt = errors.New("cannot be decrypted")

// decrypt decrypts data of object num, gen with method m.
func (d *decryptor) decrypt(m cryptMethod, num, gen int, data []byte) ([]byte, error) {
	switch m {
	case cryptNone:
		return data, nil
	case cryptRC4:
		c, _ := rc4.NewCipher(d.objectKey(m, num, gen))
		out := make([]byte, len(data))
		c.XORKeyStream(out, data)
		return out, nil
	}
	if len(data) == 0 {
		return data, nil
	}
	if len(data) < 32 || len(data)%16 != 0 {
		return nil, errDecrypt
	}
	block, err := aes.NewCipher(d.objectKey(m, num, gen))
	if err != nil {
		return nil, err
	}
	out := make([]byte, len(data)-16)
	cipher.NewCBCDecrypter(block, data[:16]).CryptBlocks(out, data[16:])
	pad := int(out[len(out)-1])
	if pad < 1 || pad > 16 || pad > len(out) {
		return nil, errDecrypt
	}
	return out[:len(out)-pad], nil
}

// object decrypts the strings and stream of an indirect object read from
// the file (§7.6.2): not the /Encrypt dictionary, not cross-reference
// streams, not a signature's /Contents (ISO 32000-2 §7.6.1), and not XMP
// metadata when /EncryptMetadata is false.
func (d *decryptor) object(rd *Reader, num, gen int, obj Object) (Object, error) {
	if num == d.encryptObjNum {
		return obj, nil
	}
	if st, ok := obj.(*Stream); ok {
		t := st.Dict.Get("Type")
		if t == Name("XRef") {
			return obj, nil
		}
		dict, err := d.strings(num, gen, st.Dict, 0)
		if err != nil {
			return nil, err
		}
		out := &Stream{Dict: dict.(*Dict), Offset: st.Offset, Length: st.Length}
		if t == Name("Metadata") && !d.encryptMeta {
			return out, nil
		}
		raw, err := rd.rawStream(st)
		if err != nil {
			return nil, err
		}
		if out.Data, err = d.decrypt(d.stmM, num, gen, raw); err != nil {
			return nil, malformed("decrypting", st.Offset, "stream of object %d %s", num, err)
		}
		return out, nil
	}
	return d.strings(num, gen, obj, 0)
}

// strings returns o with its strings decrypted.
func (d *decryptor) strings(num, gen int, o Object, depth int) (Object, error) {
	if depth > 64 {
		return nil, malformed("decrypting", -1, "object %d nests too deep", num)
	}
	switch x := o.(type) {
	case String:
		v, err := d.decrypt(d.strM, num, gen, x.Value)
		if err != nil {
			return nil, malformed("decrypting", -1, "a string of object %d %s", num, err)
		}
		return String{Value: v, Hex: x.Hex}, nil
	case Array:
		out := make(Array, len(x))
		for i, e := range x {
			var err error
			if out[i], err = d.strings(num, gen, e, depth+1); err != nil {
				return nil, err
			}
		}
		return out, nil
	case *Dict:
		sig := x.Get("ByteRange") != nil
		out := NewDict()
		for _, k := range x.Keys() {
			v := x.Get(k)
			if !(sig && k == "Contents") {
				var err error
				if v, err = d.strings(num, gen, v, depth+1); err != nil {
					return nil, err
				}
			}
			out.Set(k, v)
		}
		return out, nil
	}
	return o, nil
}
