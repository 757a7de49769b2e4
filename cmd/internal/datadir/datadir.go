// Package datadir is what a kyso data directory holds and how the CLI and
// the daemon open it: kyso.json (where the keys and the database are, the
// URLs written into certificates), and on embedded defaults the softkey key
// files, a generated passphrase and the SQLite database.
//
// `kyso ca init --data DIR` writes kyso.json; later commands and kysod read
// it, so that an operator names the key store and database once.
package datadir

import (
	"context"
	"crypto/rand"
	"encoding/asn1"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"log/slog"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"github.com/kyso-pki/kyso/hsm"
	"github.com/kyso-pki/kyso/hsm/keystore"
	"github.com/kyso-pki/kyso/pkg/ca"
	"github.com/kyso-pki/kyso/pkg/signing"
	"github.com/kyso-pki/kyso/pkg/store"
	"github.com/kyso-pki/kyso/pkg/store/storeopen"
)

// ConfigFile is the name of the configuration file in a data directory.
const ConfigFile = "kyso.json"

// Config is a data directory's kyso.json. Secrets are never in it: the key
// store URI names where its PIN, token or passphrase comes from.
type Config struct {
	// Keystore is the key store URI; empty means softkey files under the
	// data directory, with a generated passphrase (development only).
	Keystore string `json:"keystore,omitempty"`
	// DB is the database: "sqlite:PATH" or "postgres://…"; empty means
	// SQLite at DIR/kyso.db.
	DB string `json:"db,omitempty"`
	// BaseURL is the plain-HTTP base of the OCSP, CRL and CA certificate
	// URLs written into certificates; empty means ca.DefaultBaseURL, or,
	// for a development directory kysod sets up, the address kysod serves
	// the PKI routes on (Options.DevelopmentBaseURL), recorded here on
	// first start.
	BaseURL string `json:"base_url,omitempty"`
	// PolicyOID is the provider's certificate policy; empty means
	// ca.DefaultPolicyOID.
	PolicyOID string `json:"policy_oid,omitempty"`
	// TSAPolicyOID is the time-stamping policy; empty means
	// tsa.PlaceholderPolicy.
	TSAPolicyOID string `json:"tsa_policy_oid,omitempty"`
	// RSAPKCS1v15 makes RSA keys of the CA, the OCSP responder and the TSA
	// sign with PKCS#1 v1.5 instead of RSASSA-PSS (ca.Options.RSAPKCS1v15,
	// ocsp.Config.RSAPKCS1v15, tsa.Config.RSAPKCS1v15). WARNING: for legacy relying parties only;
	// Circular 15/2025 Annex I asks for RSASSA-PSS.
	RSAPKCS1v15 bool `json:"rsa_pkcs1v15,omitempty"`
	// CRLShards partitions the issuing CA's CRL into this many shards
	// (ca.Options.CRLShards): certificates issued from then on name their
	// shard's CRL. Empty, 0 or 1: one CRL. Every process sharing the
	// database must use the same value; a change applies to certificates
	// issued after it and moves none issued before.
	CRLShards int `json:"crl_shards,omitempty"`
	// SecretsKey is where the 32-byte key sealing TOTP and webhook secrets
	// in the database comes from: "file:PATH" or "env:NAME", holding it
	// base64. Empty means DIR/secrets.key, generated on first use. Every
	// replica sharing a database needs the same key.
	SecretsKey string `json:"secrets_key,omitempty"`
	// CampaignRegistry says who this provider is in the campaign registry
	// and, with a URL, which shared registry it uses (issue 18: one
	// campaign signature per citizen across providers). Absent or without
	// a URL: the embedded registry in this provider's database.
	CampaignRegistry *RegistryConfig `json:"campaign_registry,omitempty"`
}

// Dir is an opened data directory.
type Dir struct {
	// Path is the directory.
	Path string
	// Config is its configuration, defaults filled in.
	Config Config
	// Development is true when the key store is the generated softkey
	// default.
	Development bool
	// baseURLKept is true when kyso.json names the base URL.
	baseURLKept bool
}

// Load reads DIR/kyso.json (absent: all defaults) and fills in defaults.
func Load(path string) (*Dir, error) {
	d := &Dir{Path: path}
	b, err := os.ReadFile(filepath.Join(path, ConfigFile))
	switch {
	case errors.Is(err, fs.ErrNotExist):
	case err != nil:
		return nil, fmt.Errorf("datadir: reading %s: %w", ConfigFile, err)
	default:
		dec := json.NewDecoder(strings.NewReader(string(b)))
		dec.DisallowUnknownFields()
		if err := dec.Decode(&d.Config); err != nil {
			return nil, fmt.Errorf("datadir: %s: %w", filepath.Join(path, ConfigFile), err)
		}
		if d.Config.Keystore != "" {
			if err := hsm.CheckKeptURI(d.Config.Keystore); err != nil {
				return nil, fmt.Errorf("datadir: %s: keystore: %w", filepath.Join(path, ConfigFile), err)
			}
		}
	}
	if d.Config.Keystore == "" {
		d.Development = true
		d.Config.Keystore = (&hsm.URI{Scheme: "softkey", Path: map[string]string{}, Query: map[string]string{
			"dir": filepath.Join(path, "keys"), "passphrase-source": "file:" + filepath.Join(path, "passphrase")}}).String()
	}
	if d.Config.DB == "" {
		d.Config.DB = "sqlite:" + filepath.Join(path, "kyso.db")
	}
	d.baseURLKept = d.Config.BaseURL != ""
	if d.Config.BaseURL == "" {
		d.Config.BaseURL = ca.DefaultBaseURL
	}
	return d, nil
}

// UseKeystore makes uri the key store, in place of kyso.json's: the
// --keystore of a command or of kysod. A URI given here may be saved, so
// it must not hold a secret (hsm.URI.CheckKept): pin-value and the like
// are refused, with the pin-source=file:PATH or env:NAME to use instead.
func (d *Dir) UseKeystore(uri string) error {
	if err := hsm.CheckKeptURI(uri); err != nil {
		return fmt.Errorf("datadir: keystore: %w", err)
	}
	d.Config.Keystore, d.Development = uri, false
	return nil
}

// Save writes the configuration to DIR/kyso.json (0600), leaving out what
// equals the defaults. A key store URI that holds a secret is refused
// (hsm.URI.CheckKept): kyso.json never holds one.
func (d *Dir) Save() error {
	c := d.Config
	if d.Development {
		c.Keystore = ""
	}
	if c.Keystore != "" {
		if err := hsm.CheckKeptURI(c.Keystore); err != nil {
			return fmt.Errorf("datadir: not writing %s: keystore: %w", ConfigFile, err)
		}
	}
	if c.DB == "sqlite:"+filepath.Join(d.Path, "kyso.db") {
		c.DB = ""
	}
	b, err := json.MarshalIndent(c, "", "  ")
	if err != nil {
		return err
	}
	if err := os.MkdirAll(d.Path, 0o700); err != nil {
		return fmt.Errorf("datadir: %w", err)
	}
	tmp := filepath.Join(d.Path, "."+ConfigFile+".tmp")
	if err := os.WriteFile(tmp, append(b, '\n'), 0o600); err != nil {
		return fmt.Errorf("datadir: writing %s: %w", ConfigFile, err)
	}
	return os.Rename(tmp, filepath.Join(d.Path, ConfigFile))
}

// Opened holds what a command works with; Close releases it.
type Opened struct {
	Keys  hsm.KeyStore
	Store store.Store
	CA    *ca.Authority
}

// Close closes the store and the key store.
func (o *Opened) Close() error {
	return errors.Join(o.Store.Close(), o.Keys.Close())
}

// Options configure Open.
type Options struct {
	// Logger receives notices; nil discards them.
	Logger *slog.Logger
	// Actor is recorded in the audit trail.
	Actor string
	// DevelopmentBaseURL, when set, is the base URL of a development
	// directory that has no CA hierarchy yet and whose kyso.json names no
	// base URL: Open records it in kyso.json before any certificate
	// carries it, so that later runs issue with the same URLs. kysod passes
	// the address of its PKI listener, so that the development
	// certificates name URLs that answer. Empty leaves ca.DefaultBaseURL.
	DevelopmentBaseURL string
	// CRLBatch is ca.Options.CRLBatch: kysod batches CRLs; a command,
	// leaving it zero, makes one at every change.
	CRLBatch time.Duration
}

// Open creates the directory (and, on embedded defaults, the passphrase)
// when needed, and opens the key store, the database and the CA.
func (d *Dir) Open(ctx context.Context, opts *Options) (*Opened, error) {
	if opts == nil {
		opts = &Options{}
	}
	log := opts.Logger
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	if err := os.MkdirAll(d.Path, 0o700); err != nil {
		return nil, fmt.Errorf("datadir: creating %s: %w", d.Path, err)
	}
	if d.Development {
		passFile := filepath.Join(d.Path, "passphrase")
		created, err := ensurePassphrase(passFile)
		if err != nil {
			return nil, err
		}
		if created {
			log.Warn("generated a key store passphrase on first start; it sits next to the keys and is for DEVELOPMENT ONLY", "file", passFile)
		}
	}
	ks, _, err := keystore.Open(ctx, d.Config.Keystore, &keystore.Options{Logger: log})
	if err != nil {
		return nil, fmt.Errorf("opening key store: %w", err)
	}
	st, err := storeopen.Open(ctx, d.Config.DB)
	if err != nil {
		ks.Close()
		return nil, fmt.Errorf("opening database: %w", err)
	}
	if err := d.developmentBaseURL(ctx, st, opts.DevelopmentBaseURL, log); err != nil {
		st.Close()
		ks.Close()
		return nil, err
	}
	caOpts := &ca.Options{Logger: log, BaseURL: d.Config.BaseURL, Actor: opts.Actor, RSAPKCS1v15: d.Config.RSAPKCS1v15, CRLBatch: opts.CRLBatch, CRLShards: d.Config.CRLShards}
	if d.Config.PolicyOID != "" {
		oid, err := ParseOID(d.Config.PolicyOID)
		if err != nil {
			st.Close()
			ks.Close()
			return nil, fmt.Errorf("datadir: policy_oid: %w", err)
		}
		caOpts.PolicyOID = oid
	}
	a, err := ca.New(st, ks, caOpts)
	if err != nil {
		st.Close()
		ks.Close()
		return nil, err
	}
	return &Opened{Keys: ks, Store: st, CA: a}, nil
}

// developmentBaseURL sets and records base as d's base URL when d is a
// development directory whose kyso.json names none and whose database
// holds no CA hierarchy yet.
func (d *Dir) developmentBaseURL(ctx context.Context, st store.Store, base string, log *slog.Logger) error {
	if base == "" || !d.Development || d.baseURLKept {
		return nil
	}
	if _, err := st.GetCA(ctx, ca.IssuingName); !errors.Is(err, store.ErrNotFound) {
		// A hierarchy made before base URLs were recorded carries the
		// default; keep it.
		return err
	}
	d.Config.BaseURL = strings.TrimRight(base, "/")
	if err := d.keepBaseURL(); err != nil {
		return err
	}
	log.Info("development CA URLs follow the PKI listener; recorded in kyso.json", "base_url", d.Config.BaseURL, "file", filepath.Join(d.Path, ConfigFile))
	return nil
}

// keepBaseURL records d's base URL in kyso.json, leaving the rest of the
// file as it is (not d's overrides of it).
func (d *Dir) keepBaseURL() error {
	f, err := Load(d.Path)
	if err != nil {
		return err
	}
	f.Config.BaseURL = d.Config.BaseURL
	if err := f.Save(); err != nil {
		return err
	}
	d.baseURLKept = true
	return nil
}

// ParseOID parses a dotted object identifier such as "1.2.3.4".
func ParseOID(s string) (asn1.ObjectIdentifier, error) {
	parts := strings.Split(s, ".")
	if len(parts) < 2 {
		return nil, fmt.Errorf("%q is not a dotted OID", s)
	}
	oid := make(asn1.ObjectIdentifier, len(parts))
	for i, p := range parts {
		n, err := strconv.Atoi(p)
		if err != nil || n < 0 {
			return nil, fmt.Errorf("%q is not a dotted OID", s)
		}
		oid[i] = n
	}
	return oid, nil
}

// ensurePassphrase makes a random passphrase file unless one exists, and
// reports whether it made one. The file appears whole or not at all (a
// temporary file, hard-linked into place): a process that finds it, even
// while another is making it, reads the complete passphrase, and of two
// processes making it at once one wins and both use the winner's.
func ensurePassphrase(path string) (bool, error) {
	if _, err := os.Lstat(path); err == nil {
		return false, nil
	}
	b := make([]byte, 32)
	if _, err := io.ReadFull(rand.Reader, b); err != nil {
		return false, err
	}
	f, err := os.CreateTemp(filepath.Dir(path), "."+filepath.Base(path)+".tmp-*")
	if err != nil {
		return false, fmt.Errorf("datadir: creating %s: %w", path, err)
	}
	defer os.Remove(f.Name())
	_, err = f.WriteString(base64.RawURLEncoding.EncodeToString(b) + "\n")
	if err == nil {
		err = f.Sync()
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return false, fmt.Errorf("datadir: writing %s: %w", path, err)
	}
	switch err := os.Link(f.Name(), path); {
	case errors.Is(err, fs.ErrExist):
		return false, nil
	case err != nil:
		return false, fmt.Errorf("datadir: creating %s: %w", path, err)
	}
	return true, nil
}

// SecretsKey returns the key sealing secrets in the database: from
// Config.SecretsKey, or DIR/secrets.key, made on first use.
func (d *Dir) SecretsKey() ([]byte, error) {
	src := d.Config.SecretsKey
	if src == "" {
		path := filepath.Join(d.Path, "secrets.key")
		if _, err := ensurePassphrase(path); err != nil {
			return nil, err
		}
		src = "file:" + path
	}
	raw, err := hsm.ReadSecret(src)
	if err != nil {
		return nil, fmt.Errorf("datadir: secrets key: %w", err)
	}
	key, err := base64.RawURLEncoding.DecodeString(strings.TrimRight(strings.TrimSpace(string(raw)), "="))
	if err != nil || len(key) != 32 {
		return nil, fmt.Errorf("datadir: the secrets key from %s is not 32 bytes of base64", src)
	}
	return key, nil
}

// Signing returns the remote-signing service over what o opened, with the
// secrets key of d, for CLI commands that enrol and register but never
// sign: it has no pre-signing check (SkipSignerCheck). kysod uses
// SigningWith with the trust store's check.
func (o *Opened) Signing(d *Dir, log *slog.Logger) (*signing.Service, error) {
	return o.SigningWith(d, signing.Config{Logger: log, SkipSignerCheck: true})
}

// SigningWith is Signing with cfg's settings (its SecretsKey is replaced by
// d's).
func (o *Opened) SigningWith(d *Dir, cfg signing.Config) (*signing.Service, error) {
	key, err := d.SecretsKey()
	if err != nil {
		return nil, err
	}
	cfg.SecretsKey = key
	return signing.New(o.Store, o.Keys, o.CA, cfg)
}

// ProviderName is the provider's name as its issuing CA's certificate
// writes it (its O: `kyso ca init --name`), for what the provider signs
// with its name, such as the campaign report; empty when there is no CA
// yet or it names no organisation.
func (o *Opened) ProviderName(ctx context.Context) string {
	chain, err := o.CA.Chain(ctx)
	if err != nil || len(chain) == 0 || len(chain[0].Subject.Organization) == 0 {
		return ""
	}
	return chain[0].Subject.Organization[0]
}
