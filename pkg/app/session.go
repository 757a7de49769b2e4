package app

import (
	"crypto/aes"
	"crypto/cipher"
	"crypto/hkdf"
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/base64"
	"encoding/binary"
	"errors"
	"net/http"
	"net/url"
	"time"
)

// Cookie names. The __Host- prefix (RFC 6265bis section 4.1.3.2) makes
// the browser refuse them unless Secure, for path "/", and without a
// Domain: no other host, a sibling subdomain included, can set or
// overwrite them.
const (
	SessionCookie = "__Host-kyso-session"
	CSRFCookie    = "__Host-kyso-csrf"
	LangCookie    = "__Host-kyso-lang"
)

// Where sessions live, and why. A session is the owner's access token
// from signing.Service.OwnerLogin — a row of the shared database, so every
// kysod replica accepts it, logout revokes it everywhere at once, and it
// ends with the token's lifetime (the absolute timeout's upper bound) —
// carried in a cookie sealed (AES-256-GCM) under a key derived from the
// data directory's secrets key, which every replica has. The sealed
// cookie adds what the token row does not hold: when the session began
// (the absolute timeout, Options.SessionLifetime) and when it was last
// used (the idle timeout, Options.IdleTimeout), re-sealed at each request,
// so the idle timeout needs no write to the database per page. A cookie
// copied from before an idle gap is as stale as the original; a token
// revoked at logout is refused whatever its cookie says.
type session struct {
	token         string
	begun, usedAt time.Time
}

// keys are the app's keys, derived from Options.SecretsKey.
type keys struct {
	seal cipher.AEAD
	csrf []byte
}

func newKeys(secret []byte) (*keys, error) {
	if len(secret) < 32 {
		return nil, errors.New("app: Options.SecretsKey must have at least 32 bytes")
	}
	sealKey, err := hkdf.Key(sha256.New, secret, nil, "kyso app session cookie", 32)
	if err != nil {
		return nil, err
	}
	csrfKey, err := hkdf.Key(sha256.New, secret, nil, "kyso app csrf", 32)
	if err != nil {
		return nil, err
	}
	block, err := aes.NewCipher(sealKey)
	if err != nil {
		return nil, err
	}
	aead, err := cipher.NewGCM(block)
	if err != nil {
		return nil, err
	}
	return &keys{seal: aead, csrf: csrfKey}, nil
}

const sessionAAD = "kyso app session v1"

// sealSession writes s as a cookie value.
func (k *keys) sealSession(s *session) string {
	plain := make([]byte, 16, 16+len(s.token))
	binary.BigEndian.PutUint64(plain[0:], uint64(s.begun.Unix()))
	binary.BigEndian.PutUint64(plain[8:], uint64(s.usedAt.Unix()))
	plain = append(plain, s.token...)
	nonce := make([]byte, k.seal.NonceSize())
	rand.Read(nonce)
	return base64.RawURLEncoding.EncodeToString(k.seal.Seal(nonce, nonce, plain, []byte(sessionAAD)))
}

// openSession reads a cookie value; a forged or damaged one is nil.
func (k *keys) openSession(v string) *session {
	if len(v) > 1024 {
		return nil
	}
	raw, err := base64.RawURLEncoding.DecodeString(v)
	if err != nil || len(raw) < k.seal.NonceSize()+k.seal.Overhead()+16 {
		return nil
	}
	n := k.seal.NonceSize()
	plain, err := k.seal.Open(nil, raw[:n], raw[n:], []byte(sessionAAD))
	if err != nil || len(plain) < 17 {
		return nil
	}
	return &session{
		begun:  time.Unix(int64(binary.BigEndian.Uint64(plain[0:])), 0),
		usedAt: time.Unix(int64(binary.BigEndian.Uint64(plain[8:])), 0),
		token:  string(plain[16:]),
	}
}

// csrfToken is the token every form carries: an HMAC of the browser's
// CSRF cookie bound to the session's token (empty before login), so a
// token from before login is no good after it, nor one of another
// session or browser (the synchroniser token pattern, without server
// state: OWASP's "signed double-submit cookie").
func (k *keys) csrfToken(cookie, sessionToken string) string {
	m := hmac.New(sha256.New, k.csrf)
	m.Write([]byte(cookie))
	m.Write([]byte{0})
	st := sha256.Sum256([]byte(sessionToken))
	m.Write(st[:])
	return base64.RawURLEncoding.EncodeToString(m.Sum(nil))
}

func (k *keys) csrfValid(cookie, sessionToken, got string) bool {
	if cookie == "" || got == "" {
		return false
	}
	want := k.csrfToken(cookie, sessionToken)
	return subtle.ConstantTimeCompare([]byte(want), []byte(got)) == 1
}

func randomValue() string {
	b := make([]byte, 32)
	rand.Read(b)
	return base64.RawURLEncoding.EncodeToString(b)
}

// setCookie sets a __Host- cookie: Secure, HttpOnly, SameSite=Strict,
// path "/"; maxAge 0 makes it a session cookie, negative deletes it.
func setCookie(w http.ResponseWriter, name, value string, maxAge int) {
	http.SetCookie(w, &http.Cookie{Name: name, Value: value, Path: "/", MaxAge: maxAge,
		Secure: true, HttpOnly: true, SameSite: http.SameSiteStrictMode})
}

// sameOrigin reports whether a state-changing request comes from the
// app's own pages: the browser's Sec-Fetch-Site, when sent, says
// same-origin (or none: the user's own navigation, no page initiated
// it; W3C Fetch Metadata's resource isolation policy); Origin, when
// sent, names this host. A browser sends at least one on every POST; a
// request with neither is not a browser's, and it still needs the CSRF
// token.
func sameOrigin(r *http.Request) bool {
	if s := r.Header.Get("Sec-Fetch-Site"); s != "" && s != "same-origin" && s != "none" {
		return false
	}
	if o := r.Header.Get("Origin"); o != "" {
		u, err := url.Parse(o)
		if err != nil || u.Host != r.Host {
			return false
		}
	}
	return true
}
