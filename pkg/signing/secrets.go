package signing

import (
	"crypto/aes"
	"crypto/cipher"
	"crypto/hmac"
	"crypto/sha1"
	"crypto/subtle"
	"encoding/base32"
	"encoding/base64"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"net/url"
	"strconv"
	"strings"
	"time"

	"golang.org/x/crypto/argon2"
)

// PasswordParams are the argon2id parameters PINs are hashed with (RFC
// 9106); client secrets, random and high-entropy, take an HMAC instead
// (cost.go). The defaults follow RFC 9106's second
// recommended option scaled to a PIN check per approval: 19 MiB, two
// passes, one lane (OWASP's minimum for argon2id).
type PasswordParams struct {
	MemoryKiB uint32
	Time      uint32
	Threads   uint8
}

// DefaultPasswordParams are used when Config.Password is zero.
var DefaultPasswordParams = PasswordParams{MemoryKiB: 19 * 1024, Time: 2, Threads: 1}

// argon2Hash returns the PHC string of secret: $argon2id$v=19$m=…,t=…,p=…$salt$hash.
// Callers go through Service.hashPassword, behind the gate.
func argon2Hash(secret string, p PasswordParams, rnd io.Reader) (string, error) {
	salt := make([]byte, 16)
	if _, err := io.ReadFull(rnd, salt); err != nil {
		return "", err
	}
	sum := argon2.IDKey([]byte(secret), salt, p.Time, p.MemoryKiB, p.Threads, 32)
	b64 := base64.RawStdEncoding
	return fmt.Sprintf("$argon2id$v=%d$m=%d,t=%d,p=%d$%s$%s", argon2.Version, p.MemoryKiB, p.Time, p.Threads,
		b64.EncodeToString(salt), b64.EncodeToString(sum)), nil
}

// argon2Check reports whether secret matches the PHC string phc, in
// constant time. Callers go through Service.checkPassword, behind the
// gate.
func argon2Check(phc, secret string) bool {
	parts := strings.Split(phc, "$")
	if len(parts) != 6 || parts[1] != "argon2id" || parts[2] != "v=19" {
		return false
	}
	var m, t uint32
	var p uint8
	if _, err := fmt.Sscanf(parts[3], "m=%d,t=%d,p=%d", &m, &t, &p); err != nil || m == 0 || m > 1<<22 || t == 0 || t > 16 || p == 0 {
		return false
	}
	b64 := base64.RawStdEncoding
	salt, err1 := b64.DecodeString(parts[4])
	want, err2 := b64.DecodeString(parts[5])
	if err1 != nil || err2 != nil || len(want) == 0 || len(want) > 64 {
		return false
	}
	got := argon2.IDKey([]byte(secret), salt, t, m, p, uint32(len(want)))
	return subtle.ConstantTimeCompare(got, want) == 1
}

// TOTP parameters: RFC 6238 with HMAC-SHA-1, 30-second steps, six digits —
// what every authenticator app supports.
const (
	totpStep   = 30 * time.Second
	totpDigits = 6
	// totpSkew is how many steps either side of now a code may be from.
	totpSkew = 1
)

// totpCode computes the RFC 6238 (RFC 4226 section 5.3) code of secret at
// time step counter.
func totpCode(secret []byte, counter int64) string {
	var msg [8]byte
	binary.BigEndian.PutUint64(msg[:], uint64(counter))
	m := hmac.New(sha1.New, secret)
	m.Write(msg[:])
	sum := m.Sum(nil)
	off := sum[len(sum)-1] & 0x0f
	v := binary.BigEndian.Uint32(sum[off:off+4]) & 0x7fffffff
	return fmt.Sprintf("%0*d", totpDigits, v%1_000_000)
}

// totpMatch returns the time step whose code is code, within totpSkew of
// now, or -1. Two steps near each other may share a code (one time in a
// million for six digits); the step nearest now wins, the earlier of two
// equally near, so that a code typed in time never spends a step still to
// come (which would refuse the owner's next, rightful code as a replay).
// Every step in the window is computed whatever matches.
func totpMatch(secret []byte, code string, now time.Time) int64 {
	if len(code) != totpDigits {
		return -1
	}
	if _, err := strconv.Atoi(code); err != nil {
		return -1
	}
	step := now.Unix() / int64(totpStep/time.Second)
	found := int64(-1)
	for _, d := range totpOrder {
		if subtle.ConstantTimeCompare([]byte(totpCode(secret, step+d)), []byte(code)) == 1 && found < 0 {
			found = step + d
		}
	}
	return found
}

// totpOrder is the order in which totpMatch prefers the steps of its
// window: now, then outward, the past before the future.
var totpOrder = func() []int64 {
	o := []int64{0}
	for d := int64(1); d <= totpSkew; d++ {
		o = append(o, -d, d)
	}
	return o
}()

// TOTPCode returns the current code for a secret in an otpauth URI: what an
// authenticator app shows. For scripts and tests that act as the owner.
func TOTPCode(otpauthURI string, now time.Time) (string, error) {
	u, err := url.Parse(otpauthURI)
	if err != nil || u.Scheme != "otpauth" || u.Host != "totp" {
		return "", errors.New("signing: not an otpauth://totp/ URI")
	}
	secret, err := base32.StdEncoding.WithPadding(base32.NoPadding).DecodeString(strings.ToUpper(u.Query().Get("secret")))
	if err != nil || len(secret) == 0 {
		return "", errors.New("signing: the otpauth URI has no valid secret")
	}
	return totpCode(secret, now.Unix()/int64(totpStep/time.Second)), nil
}

// otpauthURI is the Key Uri Format authenticator apps read from a QR code.
func otpauthURI(issuer, account string, secret []byte) string {
	v := url.Values{}
	v.Set("secret", base32.StdEncoding.WithPadding(base32.NoPadding).EncodeToString(secret))
	v.Set("issuer", issuer)
	v.Set("algorithm", "SHA1")
	v.Set("digits", strconv.Itoa(totpDigits))
	v.Set("period", strconv.Itoa(int(totpStep/time.Second)))
	return "otpauth://totp/" + url.PathEscape(issuer+":"+account) + "?" + v.Encode()
}

// sealer encrypts secrets kept in the database (TOTP secrets, webhook
// keys) with AES-256-GCM under a key the database never holds.
type sealer struct{ aead cipher.AEAD }

func newSealer(key []byte) (*sealer, error) {
	if len(key) != 32 {
		return nil, fmt.Errorf("signing: the secrets key must be 32 bytes, not %d", len(key))
	}
	blk, err := aes.NewCipher(key)
	if err != nil {
		return nil, err
	}
	aead, err := cipher.NewGCM(blk)
	if err != nil {
		return nil, err
	}
	return &sealer{aead}, nil
}

// seal encrypts plain, binding it to context (the owner ID), so a sealed
// value copied to another row does not open.
func (s *sealer) seal(plain []byte, context string, rnd io.Reader) ([]byte, error) {
	nonce := make([]byte, s.aead.NonceSize())
	if _, err := io.ReadFull(rnd, nonce); err != nil {
		return nil, err
	}
	return s.aead.Seal(nonce, nonce, plain, []byte(context)), nil
}

func (s *sealer) open(sealed []byte, context string) ([]byte, error) {
	n := s.aead.NonceSize()
	if len(sealed) < n {
		return nil, errors.New("signing: sealed secret too short")
	}
	return s.aead.Open(nil, sealed[:n], sealed[n:], []byte(context))
}

// randomID returns n random bytes, base32 without padding, lower case: for
// IDs and secrets that go in URLs.
func randomID(rnd io.Reader, n int) (string, error) {
	b := make([]byte, n)
	if _, err := io.ReadFull(rnd, b); err != nil {
		return "", err
	}
	return strings.ToLower(base32.StdEncoding.WithPadding(base32.NoPadding).EncodeToString(b)), nil
}

// randomToken returns a bearer secret: 32 random bytes, base64url.
func randomToken(rnd io.Reader) (string, error) {
	b := make([]byte, 32)
	if _, err := io.ReadFull(rnd, b); err != nil {
		return "", err
	}
	return base64.RawURLEncoding.EncodeToString(b), nil
}
