package vault

import (
	"context"
	"crypto"
	"crypto/ed25519"
	"crypto/x509"
	"encoding/base64"
	"encoding/json"
	"encoding/pem"
	"errors"
	"fmt"
	"sort"
	"strconv"
	"time"

	"github.com/kyso-pki/kyso/hsm"
)

// transitTypes maps kyso's algorithms to Transit key types. They happen to
// share names; the map also says which types kyso can use.
var transitTypes = map[hsm.Algorithm]string{
	hsm.RSA2048:   "rsa-2048",
	hsm.RSA3072:   "rsa-3072",
	hsm.RSA4096:   "rsa-4096",
	hsm.ECDSAP256: "ecdsa-p256",
	hsm.ECDSAP384: "ecdsa-p384",
	hsm.Ed25519:   "ed25519",
}

func algorithmOfType(t string) (hsm.Algorithm, bool) {
	for a, tt := range transitTypes {
		if tt == t {
			return a, true
		}
	}
	return "", false
}

// key is what kyso reads of a Transit key.
type key struct {
	alg        hsm.Algorithm
	latest     int
	pub        crypto.PublicKey // of version latest
	created    time.Time        // of version latest
	exportable bool
}

// readKey reads transit/keys/:label. A missing key is an error wrapping
// hsm.ErrKeyNotFound.
func (s *Store) readKey(ctx context.Context, label string) (*key, error) {
	if err := s.checkOpen(); err != nil {
		return nil, err
	}
	sec, err := s.client.Logical().ReadWithContext(ctx, s.mount+"/keys/"+label)
	if err != nil {
		return nil, s.wrap("reading key "+label, err)
	}
	if sec == nil || sec.Data == nil {
		return nil, fmt.Errorf("vault: reading key %s: %w", label, hsm.ErrKeyNotFound)
	}
	k, err := parseKey(sec.Data)
	if err != nil {
		return nil, fmt.Errorf("vault: reading key %s: %w", label, err)
	}
	return k, nil
}

// parseKey reads the fields kyso uses from a transit/keys/:name response.
func parseKey(d map[string]any) (*key, error) {
	typ, _ := d["type"].(string)
	alg, ok := algorithmOfType(typ)
	if !ok {
		return nil, fmt.Errorf("%w: Transit key type %q is not a signing key type kyso uses", hsm.ErrUnsupportedAlgorithm, typ)
	}
	latest, err := intField(d["latest_version"])
	if err != nil || latest < 1 {
		return nil, fmt.Errorf("bad latest_version %v", d["latest_version"])
	}
	versions, _ := d["keys"].(map[string]any)
	v, _ := versions[strconv.Itoa(latest)].(map[string]any)
	if v == nil {
		return nil, fmt.Errorf("version %d missing from the key's versions", latest)
	}
	pubText, _ := v["public_key"].(string)
	pub, err := parsePublicKey(alg, pubText)
	if err != nil {
		return nil, fmt.Errorf("version %d: %w", latest, err)
	}
	k := &key{alg: alg, latest: latest, pub: pub}
	if ct, _ := v["creation_time"].(string); ct != "" {
		k.created, _ = time.Parse(time.RFC3339Nano, ct)
	}
	k.exportable, _ = d["exportable"].(bool)
	return k, nil
}

// parsePublicKey decodes Transit's public_key: PEM SubjectPublicKeyInfo for
// RSA and ECDSA, base64 of the 32 raw bytes for Ed25519.
func parsePublicKey(alg hsm.Algorithm, s string) (crypto.PublicKey, error) {
	var pub crypto.PublicKey
	if alg == hsm.Ed25519 {
		raw, err := base64.StdEncoding.DecodeString(s)
		if err != nil || len(raw) != ed25519.PublicKeySize {
			return nil, errors.New("Ed25519 public key is not base64 of 32 bytes")
		}
		pub = ed25519.PublicKey(raw)
	} else {
		block, _ := pem.Decode([]byte(s))
		if block == nil || block.Type != "PUBLIC KEY" {
			return nil, errors.New("public key is not a PEM PUBLIC KEY")
		}
		p, err := x509.ParsePKIXPublicKey(block.Bytes)
		if err != nil {
			return nil, fmt.Errorf("parsing public key: %w", err)
		}
		pub = p
	}
	if got, err := hsm.AlgorithmOf(pub); err != nil || got != alg {
		return nil, fmt.Errorf("public key is %v, key type says %s", got, alg)
	}
	return pub, nil
}

func intField(v any) (int, error) {
	switch n := v.(type) {
	case json.Number:
		i, err := n.Int64()
		return int(i), err
	case float64:
		return int(n), nil
	case int:
		return n, nil
	}
	return 0, fmt.Errorf("%v is not a number", v)
}

func (s *Store) info(label string, k *key) *hsm.KeyInfo {
	return &hsm.KeyInfo{Label: label, URI: s.keyURI(label), Algorithm: k.alg, PublicKey: k.pub, Created: k.created}
}

// CreateKey generates a key in Transit (POST :mount/keys/:label) that is not
// exportable and has no plaintext backup. Transit's create answers the same
// for a new key and an existing one, so the label is checked first and an
// existing key gives hsm.ErrKeyExists; creates from this store are
// serialised so they cannot race each other, but two processes creating the
// same label at the same moment can both succeed with one key.
func (s *Store) CreateKey(ctx context.Context, req *hsm.CreateKeyRequest) (*hsm.KeyInfo, error) {
	if err := hsm.CheckLabel(req.Label); err != nil {
		return nil, fmt.Errorf("vault: creating key: %w", err)
	}
	typ, ok := transitTypes[req.Algorithm]
	if !ok {
		return nil, fmt.Errorf("vault: creating key %s: %w: %q", req.Label, hsm.ErrUnsupportedAlgorithm, req.Algorithm)
	}
	s.creates.Lock()
	defer s.creates.Unlock()
	switch _, err := s.readKey(ctx, req.Label); {
	case err == nil:
		return nil, fmt.Errorf("vault: creating key %s: %w", req.Label, hsm.ErrKeyExists)
	case errors.Is(err, hsm.ErrUnsupportedAlgorithm):
		// A Transit key of another kind (an AES key, say) holds the name.
		return nil, fmt.Errorf("vault: creating key %s: %w (a Transit key of another type)", req.Label, hsm.ErrKeyExists)
	case !errors.Is(err, hsm.ErrKeyNotFound):
		return nil, err
	}
	_, err := s.client.Logical().WriteWithContext(ctx, s.mount+"/keys/"+req.Label, map[string]any{
		"type":                   typ,
		"exportable":             false,
		"allow_plaintext_backup": false,
	})
	if err != nil {
		return nil, s.wrap("creating key "+req.Label, err)
	}
	k, err := s.readKey(ctx, req.Label)
	if err != nil {
		return nil, err
	}
	if k.alg != req.Algorithm {
		return nil, fmt.Errorf("vault: creating key %s: %w (created concurrently as %s)", req.Label, hsm.ErrKeyExists, k.alg)
	}
	s.log.Info("vault: created key", "label", req.Label, "algorithm", string(k.alg), "mount", s.mount)
	return s.info(req.Label, k), nil
}

// PublicKey returns the public key of the latest version of a Transit key.
func (s *Store) PublicKey(ctx context.Context, req *hsm.PublicKeyRequest) (crypto.PublicKey, error) {
	if err := hsm.CheckLabel(req.Label); err != nil {
		return nil, fmt.Errorf("vault: reading key: %w", err)
	}
	k, err := s.readKey(ctx, req.Label)
	if err != nil {
		return nil, err
	}
	return k.pub, nil
}

// ListKeys lists the mount's signing keys of the types kyso uses, sorted by
// label. Keys of other types (AES, HMAC, ECDSA P-521) are skipped.
func (s *Store) ListKeys(ctx context.Context, _ *hsm.ListKeysRequest) ([]*hsm.KeyInfo, error) {
	if err := s.checkOpen(); err != nil {
		return nil, err
	}
	sec, err := s.client.Logical().ListWithContext(ctx, s.mount+"/keys")
	if err != nil {
		return nil, s.wrap("listing keys", err)
	}
	var names []string
	if sec != nil && sec.Data != nil {
		list, _ := sec.Data["keys"].([]any)
		for _, n := range list {
			if name, ok := n.(string); ok {
				names = append(names, name)
			}
		}
	}
	sort.Strings(names)
	out := make([]*hsm.KeyInfo, 0, len(names))
	for _, name := range names {
		if hsm.CheckLabel(name) != nil {
			s.log.Debug("vault: skipping key with a name kyso does not use", "name", name)
			continue
		}
		k, err := s.readKey(ctx, name)
		switch {
		case errors.Is(err, hsm.ErrKeyNotFound):
			continue // deleted since the list
		case errors.Is(err, hsm.ErrUnsupportedAlgorithm):
			s.log.Debug("vault: skipping key", "name", name, "reason", err)
			continue
		case err != nil:
			return nil, fmt.Errorf("vault: listing keys: %w", err)
		}
		out = append(out, s.info(name, k))
	}
	return out, nil
}

// DeleteKey destroys a Transit key and all its versions: it sets
// deletion_allowed, which Transit requires, then deletes.
func (s *Store) DeleteKey(ctx context.Context, req *hsm.DeleteKeyRequest) error {
	if err := hsm.CheckLabel(req.Label); err != nil {
		return fmt.Errorf("vault: deleting key: %w", err)
	}
	if _, err := s.readKey(ctx, req.Label); err != nil && !errors.Is(err, hsm.ErrUnsupportedAlgorithm) {
		return err
	}
	path := s.mount + "/keys/" + req.Label
	if _, err := s.client.Logical().WriteWithContext(ctx, path+"/config", map[string]any{"deletion_allowed": true}); err != nil {
		return s.wrap("allowing deletion of key "+req.Label, err)
	}
	if _, err := s.client.Logical().DeleteWithContext(ctx, path); err != nil {
		return s.wrap("deleting key "+req.Label, err)
	}
	s.log.Info("vault: deleted key", "label", req.Label, "mount", s.mount)
	return nil
}
