package pkcs11

import (
	"bytes"
	"crypto"
	"crypto/x509"
	"encoding/binary"
	"errors"
	"fmt"

	"github.com/kyso-pki/kyso/hsm"
)

// A wrapped key blob, version 1, is, in this order and with nothing after it:
//
//	magic        4 bytes  "KYWK"
//	version      1 byte   1
//	algorithm    1 byte   index of the hsm.Algorithm, see blobAlgorithms
//	master ID    1 byte length (1..64), then the master key's CKA_ID
//	public key   2 bytes big-endian length (1..1024), then SubjectPublicKeyInfo DER
//	wrapped      2 bytes big-endian length (16..4096, a multiple of 8), then
//	             the private key as C_WrapKey gave it under CKM_AES_KEY_WRAP_PAD
//	             (RFC 5649): a PKCS#8 PrivateKeyInfo, encrypted and with an
//	             integrity check
//
// The wrapped part is authenticated by RFC 5649's integrity check. The rest
// is bound to it by checks, not by a MAC: the algorithm must be that of the
// public key, the master ID must name a key on the token that unwraps the
// blob, and the unwrapped private key must be the private half of the
// public key — for RSA its modulus is compared, and every signature made
// with any wrapped key is verified under the blob's public key before it is
// returned. A blob altered anywhere therefore either fails to parse, fails
// to unwrap, or fails to sign.
const (
	blobMagic      = "KYWK"
	blobVersion    = 1
	maxMasterIDLen = 64
	maxSPKILen     = 1024
	minWrappedLen  = 16
	maxWrappedLen  = 4096
	maxBlobLen     = 4 + 1 + 1 + 1 + maxMasterIDLen + 2 + maxSPKILen + 2 + maxWrappedLen
)

// blobAlgorithms gives each algorithm its one-byte code; 0 is invalid.
var blobAlgorithms = [...]hsm.Algorithm{1: hsm.RSA2048, 2: hsm.RSA3072, 3: hsm.RSA4096, 4: hsm.ECDSAP256, 5: hsm.ECDSAP384, 6: hsm.Ed25519}

// wrappedBlob is a parsed wrapped key blob.
type wrappedBlob struct {
	alg      hsm.Algorithm
	masterID []byte
	spki     []byte
	pub      crypto.PublicKey
	wrapped  []byte
}

func algorithmCode(a hsm.Algorithm) byte {
	for i, b := range blobAlgorithms {
		if i > 0 && b == a {
			return byte(i)
		}
	}
	return 0
}

// marshal encodes b; it fails for fields out of the bounds parseBlob accepts.
func (b *wrappedBlob) marshal() ([]byte, error) {
	code := algorithmCode(b.alg)
	switch {
	case code == 0:
		return nil, fmt.Errorf("pkcs11: encoding wrapped key: %w: %s", hsm.ErrUnsupportedAlgorithm, b.alg)
	case len(b.masterID) == 0 || len(b.masterID) > maxMasterIDLen:
		return nil, fmt.Errorf("pkcs11: encoding wrapped key: master key CKA_ID is %d bytes, want 1 to %d", len(b.masterID), maxMasterIDLen)
	case len(b.spki) == 0 || len(b.spki) > maxSPKILen:
		return nil, fmt.Errorf("pkcs11: encoding wrapped key: public key is %d bytes, at most %d allowed", len(b.spki), maxSPKILen)
	case len(b.wrapped) < minWrappedLen || len(b.wrapped) > maxWrappedLen || len(b.wrapped)%8 != 0:
		return nil, fmt.Errorf("pkcs11: encoding wrapped key: wrapped key is %d bytes, want a multiple of 8 from %d to %d", len(b.wrapped), minWrappedLen, maxWrappedLen)
	}
	out := make([]byte, 0, 4+3+len(b.masterID)+4+len(b.spki)+len(b.wrapped))
	out = append(out, blobMagic...)
	out = append(out, blobVersion, code, byte(len(b.masterID)))
	out = append(out, b.masterID...)
	out = binary.BigEndian.AppendUint16(out, uint16(len(b.spki)))
	out = append(out, b.spki...)
	out = binary.BigEndian.AppendUint16(out, uint16(len(b.wrapped)))
	out = append(out, b.wrapped...)
	return out, nil
}

// errBlob makes an error wrapping hsm.ErrInvalidWrappedKey.
func errBlob(format string, args ...any) error {
	return fmt.Errorf("pkcs11: %w: %s", hsm.ErrInvalidWrappedKey, fmt.Sprintf(format, args...))
}

// parseBlob parses a wrapped key blob strictly: known magic, version and
// algorithm, every length in bounds, a canonical public key of the stated
// algorithm, and no trailing bytes. Errors wrap hsm.ErrInvalidWrappedKey.
func parseBlob(data []byte) (*wrappedBlob, error) {
	if len(data) > maxBlobLen {
		return nil, errBlob("blob is %d bytes, at most %d allowed", len(data), maxBlobLen)
	}
	r := blobReader{data: data}
	if magic := r.next(4); !bytes.Equal(magic, []byte(blobMagic)) {
		return nil, errBlob("not a kyso wrapped key (bad magic)")
	}
	if v := r.byte(); v != blobVersion {
		return nil, errBlob("version %d, this kyso reads version %d", v, blobVersion)
	}
	code := int(r.byte())
	if code == 0 || code >= len(blobAlgorithms) {
		return nil, errBlob("unknown algorithm code %d", code)
	}
	b := &wrappedBlob{alg: blobAlgorithms[code]}
	n := int(r.byte())
	if n == 0 || n > maxMasterIDLen {
		return nil, errBlob("master key id is %d bytes, want 1 to %d", n, maxMasterIDLen)
	}
	b.masterID = r.next(n)
	n = r.uint16()
	if n == 0 || n > maxSPKILen {
		return nil, errBlob("public key is %d bytes, want 1 to %d", n, maxSPKILen)
	}
	b.spki = r.next(n)
	n = r.uint16()
	if n < minWrappedLen || n > maxWrappedLen || n%8 != 0 {
		return nil, errBlob("wrapped key is %d bytes, want a multiple of 8 from %d to %d", n, minWrappedLen, maxWrappedLen)
	}
	b.wrapped = r.next(n)
	if r.err != nil {
		return nil, errBlob("blob is truncated")
	}
	if len(r.data) != 0 {
		return nil, errBlob("%d bytes after the end of the blob", len(r.data))
	}
	pub, err := x509.ParsePKIXPublicKey(b.spki)
	if err != nil {
		return nil, errBlob("public key: %v", err)
	}
	if der, err := x509.MarshalPKIXPublicKey(pub); err != nil || !bytes.Equal(der, b.spki) {
		return nil, errBlob("public key is not in canonical DER")
	}
	if alg, err := hsm.AlgorithmOf(pub); err != nil || alg != b.alg {
		return nil, errBlob("public key is not a %s key", b.alg)
	}
	b.pub = pub
	// Copy, so that the caller may reuse its buffer.
	b.masterID = bytes.Clone(b.masterID)
	b.spki = bytes.Clone(b.spki)
	b.wrapped = bytes.Clone(b.wrapped)
	return b, nil
}

// blobReader reads fields; after a short read every further read returns
// zero values and err is set.
type blobReader struct {
	data []byte
	err  error
}

func (r *blobReader) next(n int) []byte {
	if r.err != nil || len(r.data) < n {
		r.err = errors.New("short")
		r.data = nil
		return make([]byte, n)
	}
	out := r.data[:n]
	r.data = r.data[n:]
	return out
}

func (r *blobReader) byte() byte { return r.next(1)[0] }

func (r *blobReader) uint16() int { return int(binary.BigEndian.Uint16(r.next(2))) }
