package pkcs11

import (
	"bytes"
	"crypto"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"errors"
	"testing"

	"github.com/kyso-pki/kyso/hsm"
)

const hsmSHA256 = crypto.SHA256

// testBlob is a well-formed blob with a real public key and random
// "wrapped" bytes: enough for the parser, which does not unwrap.
func testBlob(t testing.TB) []byte {
	k, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	spki, err := x509.MarshalPKIXPublicKey(k.Public())
	if err != nil {
		t.Fatal(err)
	}
	wrapped := make([]byte, 160)
	rand.Read(wrapped)
	id := make([]byte, 16)
	rand.Read(id)
	b, err := (&wrappedBlob{alg: hsm.ECDSAP256, masterID: id, spki: spki, wrapped: wrapped}).marshal()
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func TestParseBlob(t *testing.T) {
	blob := testBlob(t)
	b, err := parseBlob(blob)
	if err != nil {
		t.Fatalf("parseBlob: %v", err)
	}
	again, err := b.marshal()
	if err != nil || !bytes.Equal(again, blob) {
		t.Fatalf("marshal(parse(blob)) differs (%v)", err)
	}
	cases := []struct {
		name string
		blob []byte
	}{
		{"empty", nil},
		{"magic-only", []byte(blobMagic)},
		{"version-2", append([]byte(blobMagic+"\x02"), blob[5:]...)},
		{"algorithm-0", append([]byte(blobMagic+"\x01\x00"), blob[6:]...)},
		{"algorithm-rsa", append([]byte(blobMagic+"\x01\x01"), blob[6:]...)},
		{"truncated", blob[:len(blob)-1]},
		{"trailing", append(bytes.Clone(blob), 0)},
		{"huge", make([]byte, maxBlobLen+1)},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			if _, err := parseBlob(c.blob); !errors.Is(err, hsm.ErrInvalidWrappedKey) {
				t.Fatalf("err = %v, want ErrInvalidWrappedKey", err)
			}
		})
	}
}

// FuzzParseBlob checks that the wrapped key parser never panics, and that
// what it accepts encodes back to the same bytes.
func FuzzParseBlob(f *testing.F) {
	f.Add(testBlob(f))
	f.Add([]byte(blobMagic + "\x01\x04\x01"))
	f.Fuzz(func(t *testing.T, data []byte) {
		b, err := parseBlob(data)
		if err != nil {
			if !errors.Is(err, hsm.ErrInvalidWrappedKey) {
				t.Fatalf("error does not wrap ErrInvalidWrappedKey: %v", err)
			}
			return
		}
		again, err := b.marshal()
		if err != nil || !bytes.Equal(again, data) {
			t.Fatalf("accepted a blob that does not encode back to itself (%v)", err)
		}
	})
}
