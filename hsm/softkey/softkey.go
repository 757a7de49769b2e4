// Package softkey keeps keys in passphrase-encrypted files: kyso's embedded
// default, so that a laptop needs no HSM. It is for development and tests; a
// provider keeps its keys in a PKCS#11 HSM or Vault, and Open says so in the
// log.
//
// A key store is a directory. Its keystore.json holds the parameters of
// Argon2id (RFC 9106) and a check value; the passphrase and those parameters
// derive a 256-bit key-encryption key once, at Open. Each key is a file
// <label>.key holding its PKCS#8 private key sealed with AES-256-GCM under
// that key, with the label, algorithm and public key as additional
// authenticated data, so a file cannot be swapped for another or edited
// without Open or Sign noticing. Files are mode 0600 and written atomically
// (temporary file, fsync, hard link into place, fsync of the directory), so a
// crash leaves either the old state or the new, never half a key.
package softkey

import (
	"context"
	"crypto"
	"crypto/aes"
	"crypto/cipher"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"log/slog"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"time"

	"golang.org/x/crypto/argon2"

	"github.com/kyso-pki/kyso/hsm"
)

// KDFParams are the Argon2id parameters of a key store.
type KDFParams struct {
	// Time is the number of passes.
	Time uint32 `json:"time"`
	// MemoryKiB is the memory cost in KiB.
	MemoryKiB uint32 `json:"memory_kib"`
	// Threads is the parallelism.
	Threads uint8 `json:"threads"`
}

// DefaultKDF is RFC 9106's second recommended option: t=3, 64 MiB, p=4.
var DefaultKDF = KDFParams{Time: 3, MemoryKiB: 64 * 1024, Threads: 4}

// Options configure Open. The zero value is usable.
type Options struct {
	// Logger receives the development-default warning. Nil discards it.
	Logger *slog.Logger
	// KDF sets the Argon2id cost of a new key store; the zero value means
	// DefaultKDF. An existing store keeps the parameters it was made with.
	// WARNING: lowering it makes a stolen key directory easier to crack; only
	// tests should.
	KDF KDFParams
	// Now is the clock; nil means time.Now.
	Now func() time.Time
}

// Store is a directory of encrypted key files.
type Store struct {
	dir  string
	kek  cipher.AEAD
	uri  *hsm.URI
	now  func() time.Time
	rand io.Reader
}

var (
	_ hsm.KeyStore   = (*Store)(nil)
	_ hsm.KeyDeleter = (*Store)(nil)
)

const (
	metaFile     = "keystore.json"
	keySuffix    = ".key"
	formatV1     = 1
	maxKeyFile   = 64 << 10
	checkContext = "kyso softkey passphrase check v1"
)

type storeMeta struct {
	Version int       `json:"version"`
	KDF     string    `json:"kdf"`
	Params  KDFParams `json:"params"`
	Salt    []byte    `json:"salt"`
	Check   []byte    `json:"check"` // AES-GCM nonce||seal of checkContext
	Created time.Time `json:"created"`
}

type keyFile struct {
	Version    int           `json:"version"`
	Label      string        `json:"label"`
	Algorithm  hsm.Algorithm `json:"algorithm"`
	Created    time.Time     `json:"created"`
	PublicKey  []byte        `json:"public_key"` // SPKI DER
	Nonce      []byte        `json:"nonce"`
	Ciphertext []byte        `json:"ciphertext"` // AES-GCM of PKCS#8 DER
}

// aad binds a key file's clear fields to its ciphertext.
func (k *keyFile) aad() []byte {
	return []byte(fmt.Sprintf("kyso softkey v%d\x00%s\x00%s\x00%d\x00%x", k.Version, k.Label, k.Algorithm, k.Created.UnixNano(), k.PublicKey))
}

// Open opens (or, when dir does not exist or is empty, creates) the key store
// named by u: "softkey:?dir=DIR&passphrase-source=env:NAME|file:PATH", or
// "passphrase=..." for tests. A wrong passphrase fails with an error wrapping
// hsm.ErrAuthentication.
func Open(ctx context.Context, u *hsm.URI, opts *Options) (*Store, error) {
	if opts == nil {
		opts = &Options{}
	}
	if u.Scheme != "softkey" {
		return nil, fmt.Errorf("softkey: URI scheme is %q, want softkey", u.Scheme)
	}
	dir := u.Query["dir"]
	if dir == "" {
		return nil, errors.New("softkey: URI has no dir attribute (softkey:?dir=PATH&passphrase-source=file:PATH)")
	}
	var pass []byte
	switch {
	case u.Query["passphrase"] != "":
		pass = []byte(u.Query["passphrase"])
	case u.Query["passphrase-source"] != "":
		p, err := hsm.ReadSecret(u.Query["passphrase-source"])
		if err != nil {
			return nil, fmt.Errorf("softkey: reading passphrase: %w", err)
		}
		pass = p
	default:
		return nil, errors.New("softkey: URI has neither passphrase-source nor passphrase")
	}
	if len(pass) < 8 {
		return nil, fmt.Errorf("softkey: passphrase is %d bytes, at least 8 required", len(pass))
	}
	now := opts.Now
	if now == nil {
		now = time.Now
	}
	s := &Store{dir: dir, now: now, rand: rand.Reader}
	s.uri = &hsm.URI{Scheme: "softkey", Path: map[string]string{}, Query: map[string]string{"dir": dir}}
	if ps := u.Query["passphrase-source"]; ps != "" {
		s.uri.Query["passphrase-source"] = ps
	}
	meta, err := s.loadOrCreateMeta(pass, opts.KDF)
	if err != nil {
		return nil, err
	}
	kek := argon2.IDKey(pass, meta.Salt, meta.Params.Time, meta.Params.MemoryKiB, meta.Params.Threads, 32)
	aead, err := newGCM(kek)
	if err != nil {
		return nil, err
	}
	if len(meta.Check) < aead.NonceSize() {
		return nil, errors.New("softkey: keystore.json check value is truncated")
	}
	if _, err := aead.Open(nil, meta.Check[:aead.NonceSize()], meta.Check[aead.NonceSize():], []byte(checkContext)); err != nil {
		return nil, fmt.Errorf("softkey: %w: wrong passphrase for %s", hsm.ErrAuthentication, dir)
	}
	s.kek = aead
	if opts.Logger != nil {
		opts.Logger.Warn("softkey: keys are kept in passphrase-encrypted files; this is the embedded development default — use a PKCS#11 HSM or Vault in production", "dir", dir)
	}
	return s, nil
}

func newGCM(key []byte) (cipher.AEAD, error) {
	b, err := aes.NewCipher(key)
	if err != nil {
		return nil, fmt.Errorf("softkey: %w", err)
	}
	return cipher.NewGCM(b)
}

func (s *Store) loadOrCreateMeta(pass []byte, kdf KDFParams) (*storeMeta, error) {
	path := filepath.Join(s.dir, metaFile)
	b, err := readBounded(path)
	if err == nil {
		var m storeMeta
		if err := json.Unmarshal(b, &m); err != nil {
			return nil, fmt.Errorf("softkey: %s is not a key store description: %w", path, err)
		}
		if m.Version != formatV1 || m.KDF != "argon2id" || len(m.Salt) < 16 || m.Params.Time == 0 || m.Params.MemoryKiB < 8 || m.Params.Threads == 0 || m.Params.MemoryKiB > 4<<20 || m.Params.Time > 100 {
			return nil, fmt.Errorf("softkey: %s has unsupported or unsafe parameters", path)
		}
		return &m, nil
	}
	if !errors.Is(err, fs.ErrNotExist) {
		return nil, fmt.Errorf("softkey: reading %s: %w", path, err)
	}
	// No store yet: create one, but never inside a directory that holds
	// something else.
	if entries, err := os.ReadDir(s.dir); err == nil {
		for _, e := range entries {
			// Another process opening the same new directory may be
			// writing its description: its temporary file is not
			// something else, and one of the two descriptions wins;
			// once it is there, it is this store's.
			if e.Name() == metaFile {
				return s.loadOrCreateMeta(pass, kdf)
			}
			if !strings.HasPrefix(e.Name(), ".tmp-"+metaFile+"-") {
				return nil, fmt.Errorf("softkey: %s is not empty and holds no %s: refusing to make a key store there", s.dir, metaFile)
			}
		}
	}
	if err := os.MkdirAll(s.dir, 0o700); err != nil {
		return nil, fmt.Errorf("softkey: creating %s: %w", s.dir, err)
	}
	if kdf == (KDFParams{}) {
		kdf = DefaultKDF
	}
	m := &storeMeta{Version: formatV1, KDF: "argon2id", Params: kdf, Salt: make([]byte, 32), Created: s.now().UTC()}
	if _, err := io.ReadFull(s.rand, m.Salt); err != nil {
		return nil, fmt.Errorf("softkey: %w", err)
	}
	aead, err := newGCM(argon2.IDKey(pass, m.Salt, kdf.Time, kdf.MemoryKiB, kdf.Threads, 32))
	if err != nil {
		return nil, err
	}
	nonce := make([]byte, aead.NonceSize())
	if _, err := io.ReadFull(s.rand, nonce); err != nil {
		return nil, fmt.Errorf("softkey: %w", err)
	}
	m.Check = aead.Seal(nonce, nonce, nil, []byte(checkContext))
	out, _ := json.MarshalIndent(m, "", "  ")
	if err := writeNew(s.dir, metaFile, out); err != nil {
		if errors.Is(err, fs.ErrExist) { // another process made it first
			return s.loadOrCreateMeta(pass, kdf)
		}
		return nil, err
	}
	return m, nil
}

// CreateKey generates a key in memory, seals it and writes it to a new file.
func (s *Store) CreateKey(ctx context.Context, req *hsm.CreateKeyRequest) (*hsm.KeyInfo, error) {
	if err := hsm.CheckLabel(req.Label); err != nil {
		return nil, err
	}
	var priv crypto.Signer
	var err error
	switch req.Algorithm {
	case hsm.RSA2048, hsm.RSA3072, hsm.RSA4096:
		priv, err = rsa.GenerateKey(s.rand, req.Algorithm.Bits())
	case hsm.ECDSAP256:
		priv, err = ecdsa.GenerateKey(elliptic.P256(), s.rand)
	case hsm.ECDSAP384:
		priv, err = ecdsa.GenerateKey(elliptic.P384(), s.rand)
	case hsm.Ed25519:
		_, priv, err = ed25519.GenerateKey(s.rand)
	default:
		return nil, fmt.Errorf("softkey: %w: %q", hsm.ErrUnsupportedAlgorithm, req.Algorithm)
	}
	if err != nil {
		return nil, fmt.Errorf("softkey: generating %s key: %w", req.Algorithm, err)
	}
	if _, err := os.Stat(s.path(req.Label)); err == nil {
		return nil, fmt.Errorf("softkey: %w: %q in %s", hsm.ErrKeyExists, req.Label, s.dir)
	}
	p8, err := x509.MarshalPKCS8PrivateKey(priv)
	if err != nil {
		return nil, fmt.Errorf("softkey: encoding key: %w", err)
	}
	defer clear(p8)
	spki, err := x509.MarshalPKIXPublicKey(priv.Public())
	if err != nil {
		return nil, fmt.Errorf("softkey: encoding public key: %w", err)
	}
	kf := &keyFile{Version: formatV1, Label: req.Label, Algorithm: req.Algorithm, Created: s.now().UTC(), PublicKey: spki}
	kf.Nonce = make([]byte, s.kek.NonceSize())
	if _, err := io.ReadFull(s.rand, kf.Nonce); err != nil {
		return nil, fmt.Errorf("softkey: %w", err)
	}
	kf.Ciphertext = s.kek.Seal(nil, kf.Nonce, p8, kf.aad())
	out, _ := json.MarshalIndent(kf, "", "  ")
	if err := writeNew(s.dir, req.Label+keySuffix, out); err != nil {
		if errors.Is(err, fs.ErrExist) {
			return nil, fmt.Errorf("softkey: %w: %q in %s", hsm.ErrKeyExists, req.Label, s.dir)
		}
		return nil, err
	}
	return s.info(kf, priv.Public()), nil
}

func (s *Store) info(kf *keyFile, pub crypto.PublicKey) *hsm.KeyInfo {
	return &hsm.KeyInfo{
		Label:     kf.Label,
		URI:       s.uri.WithKey("name", kf.Label).String(),
		Algorithm: kf.Algorithm,
		PublicKey: pub,
		Created:   kf.Created,
	}
}

func (s *Store) path(label string) string { return filepath.Join(s.dir, label+keySuffix) }

// readKeyFile reads and checks the clear part of a key file.
func (s *Store) readKeyFile(label string) (*keyFile, crypto.PublicKey, os.FileInfo, error) {
	if err := hsm.CheckLabel(label); err != nil {
		return nil, nil, nil, err
	}
	path := s.path(label)
	fi, err := os.Stat(path)
	if errors.Is(err, fs.ErrNotExist) {
		return nil, nil, nil, fmt.Errorf("softkey: %w: %q in %s", hsm.ErrKeyNotFound, label, s.dir)
	}
	if err != nil {
		return nil, nil, nil, fmt.Errorf("softkey: reading key %q: %w", label, err)
	}
	b, err := readBounded(path)
	if err != nil {
		return nil, nil, nil, fmt.Errorf("softkey: reading key %q: %w", label, err)
	}
	var kf keyFile
	if err := json.Unmarshal(b, &kf); err != nil {
		return nil, nil, nil, fmt.Errorf("softkey: key file %s is damaged: %w", path, err)
	}
	if kf.Version != formatV1 || kf.Label != label {
		return nil, nil, nil, fmt.Errorf("softkey: key file %s is damaged or was renamed (it says label %q, version %d)", path, kf.Label, kf.Version)
	}
	pub, err := x509.ParsePKIXPublicKey(kf.PublicKey)
	if err != nil {
		return nil, nil, nil, fmt.Errorf("softkey: key file %s: public key: %w", path, err)
	}
	if alg, err := hsm.AlgorithmOf(pub); err != nil || alg != kf.Algorithm {
		return nil, nil, nil, fmt.Errorf("softkey: key file %s: public key does not match algorithm %q", path, kf.Algorithm)
	}
	return &kf, pub, fi, nil
}

// PublicKey returns a stored key's public key.
func (s *Store) PublicKey(ctx context.Context, req *hsm.PublicKeyRequest) (crypto.PublicKey, error) {
	_, pub, _, err := s.readKeyFile(req.Label)
	return pub, err
}

// Signer decrypts a key into memory and returns a signer for it. Each Sign
// checks that the key file is still the one decrypted, so a deleted or
// replaced key stops signing.
func (s *Store) Signer(ctx context.Context, req *hsm.SignerRequest) (crypto.Signer, error) {
	kf, pub, fi, err := s.readKeyFile(req.Label)
	if err != nil {
		return nil, err
	}
	if len(kf.Nonce) != s.kek.NonceSize() {
		return nil, fmt.Errorf("softkey: key %q: damaged nonce", req.Label)
	}
	p8, err := s.kek.Open(nil, kf.Nonce, kf.Ciphertext, kf.aad())
	if err != nil {
		return nil, fmt.Errorf("softkey: key %q does not decrypt: the file was altered or belongs to another key store", req.Label)
	}
	defer clear(p8)
	k, err := x509.ParsePKCS8PrivateKey(p8)
	if err != nil {
		return nil, fmt.Errorf("softkey: key %q: %w", req.Label, err)
	}
	priv, ok := k.(crypto.Signer)
	if !ok || !hsm.SamePublicKey(priv.Public(), pub) {
		return nil, fmt.Errorf("softkey: key %q: private key does not match its public key", req.Label)
	}
	return &signer{store: s, label: req.Label, alg: kf.Algorithm, priv: priv, pub: pub, fi: fi}, nil
}

type signer struct {
	store *Store
	label string
	alg   hsm.Algorithm
	priv  crypto.Signer
	pub   crypto.PublicKey
	fi    os.FileInfo
}

func (k *signer) Public() crypto.PublicKey { return k.pub }

func (k *signer) Sign(rnd io.Reader, digest []byte, opts crypto.SignerOpts) ([]byte, error) {
	p, err := hsm.CheckSignRequest(k.alg, digest, opts)
	if err != nil {
		return nil, err
	}
	fi, err := os.Stat(k.store.path(k.label))
	if err != nil {
		return nil, fmt.Errorf("softkey: %w: %q was deleted", hsm.ErrKeyNotFound, k.label)
	}
	if !os.SameFile(fi, k.fi) || fi.ModTime() != k.fi.ModTime() || fi.Size() != k.fi.Size() {
		return nil, fmt.Errorf("softkey: key %q was replaced since this signer was made; refusing to sign", k.label)
	}
	if p.PSS {
		opts = &rsa.PSSOptions{SaltLength: p.SaltLength, Hash: p.Hash}
	}
	if rnd == nil {
		rnd = rand.Reader
	}
	return k.priv.Sign(rnd, digest, opts)
}

// ListKeys lists the key files, sorted by label. Files that do not parse are
// reported as an error naming them.
func (s *Store) ListKeys(ctx context.Context, req *hsm.ListKeysRequest) ([]*hsm.KeyInfo, error) {
	entries, err := os.ReadDir(s.dir)
	if err != nil {
		return nil, fmt.Errorf("softkey: listing %s: %w", s.dir, err)
	}
	var out []*hsm.KeyInfo
	for _, e := range entries {
		name := e.Name()
		if !e.Type().IsRegular() || !strings.HasSuffix(name, keySuffix) {
			continue
		}
		kf, pub, _, err := s.readKeyFile(strings.TrimSuffix(name, keySuffix))
		if err != nil {
			return nil, err
		}
		out = append(out, s.info(kf, pub))
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Label < out[j].Label })
	return out, nil
}

// DeleteKey removes a key file.
func (s *Store) DeleteKey(ctx context.Context, req *hsm.DeleteKeyRequest) error {
	if err := hsm.CheckLabel(req.Label); err != nil {
		return err
	}
	err := os.Remove(s.path(req.Label))
	if errors.Is(err, fs.ErrNotExist) {
		return fmt.Errorf("softkey: %w: %q in %s", hsm.ErrKeyNotFound, req.Label, s.dir)
	}
	if err != nil {
		return fmt.Errorf("softkey: deleting %q: %w", req.Label, err)
	}
	return syncDir(s.dir)
}

// Close forgets the key-encryption key.
func (s *Store) Close() error {
	s.kek = nil
	return nil
}

// Dir returns the key store's directory.
func (s *Store) Dir() string { return s.dir }

func readBounded(path string) ([]byte, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	b, err := io.ReadAll(io.LimitReader(f, maxKeyFile+1))
	if err != nil {
		return nil, err
	}
	if len(b) > maxKeyFile {
		return nil, fmt.Errorf("%s is larger than %d bytes", path, maxKeyFile)
	}
	return b, nil
}

// writeNew writes data to dir/name atomically and only if it does not exist
// yet: a temporary file is written and fsynced, hard-linked into place (which
// fails if the name is taken), and the directory fsynced.
func writeNew(dir, name string, data []byte) error {
	tmp, err := os.CreateTemp(dir, ".tmp-"+name+"-*")
	if err != nil {
		return fmt.Errorf("softkey: writing %s: %w", name, err)
	}
	tmpName := tmp.Name()
	defer os.Remove(tmpName)
	if err := tmp.Chmod(0o600); err != nil {
		tmp.Close()
		return fmt.Errorf("softkey: writing %s: %w", name, err)
	}
	if _, err := tmp.Write(data); err != nil {
		tmp.Close()
		return fmt.Errorf("softkey: writing %s: %w", name, err)
	}
	if err := tmp.Sync(); err != nil {
		tmp.Close()
		return fmt.Errorf("softkey: writing %s: %w", name, err)
	}
	if err := tmp.Close(); err != nil {
		return fmt.Errorf("softkey: writing %s: %w", name, err)
	}
	if err := os.Link(tmpName, filepath.Join(dir, name)); err != nil {
		if errors.Is(err, fs.ErrExist) {
			return fs.ErrExist
		}
		return fmt.Errorf("softkey: writing %s: %w", name, err)
	}
	return syncDir(dir)
}

func syncDir(dir string) error {
	d, err := os.Open(dir)
	if err != nil {
		return fmt.Errorf("softkey: syncing %s: %w", dir, err)
	}
	defer d.Close()
	if err := d.Sync(); err != nil {
		return fmt.Errorf("softkey: syncing %s: %w", dir, err)
	}
	return nil
}
