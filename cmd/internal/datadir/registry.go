package datadir

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"encoding/pem"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"time"

	"github.com/kyso-pki/kyso/pkg/campaignreg"
)

// RegistryConfig is kyso.json's campaign_registry.
type RegistryConfig struct {
	// ProviderID and ProviderName are this provider as the registry's
	// members name it; the name is what another provider's citizen is
	// shown when refused. An empty name is the issuing CA's organisation
	// (its O, `kyso ca init --name`), the name the provider signs with;
	// name it here when the public name differs from the legal one.
	ProviderID   string `json:"provider_id"`
	ProviderName string `json:"provider_name,omitempty"`
	// URL is the shared registry's HTTPS base ("https://host:8443");
	// empty: the embedded registry.
	URL string `json:"url,omitempty"`
	// CAFile is a PEM file (relative to the data directory, or absolute)
	// of the roots the registry's server certificate chains to; empty:
	// the system's.
	CAFile string `json:"ca_file,omitempty"`
}

// DefaultProvider is this provider when kyso.json names none and the CA
// names no organisation: enough for the embedded registry, where no
// other provider is ever shown.
var DefaultProvider = campaignreg.Provider{ID: "local", Name: "kyso"}

// Provider is this provider as kyso.json names it: its ID (else
// DefaultProvider's) and its name, else the issuing CA's organisation
// (ProviderName), else DefaultProvider's.
func (o *Opened) Provider(ctx context.Context, d *Dir) campaignreg.Provider {
	p := campaignreg.Provider{ID: DefaultProvider.ID}
	if c := d.Config.CampaignRegistry; c != nil && c.ProviderID != "" {
		p = campaignreg.Provider{ID: c.ProviderID, Name: c.ProviderName}
	}
	if p.Name == "" {
		p.Name = o.ProviderName(ctx)
	}
	if p.Name == "" {
		p.Name = DefaultProvider.Name
	}
	return p
}

// CampaignRegistry returns the campaign registry kyso.json configures:
// a client of the shared registry at its URL, with the provider's
// registry keys (made in the key store on first use), or the embedded
// one in this database. log receives the registry's notices.
func (o *Opened) CampaignRegistry(ctx context.Context, d *Dir, log *slog.Logger) (campaignreg.Registry, error) {
	c := d.Config.CampaignRegistry
	if c != nil && c.URL != "" && c.ProviderID == "" {
		return nil, fmt.Errorf("datadir: %s: campaign_registry names a registry URL but not this provider's provider_id", ConfigFile)
	}
	p := o.Provider(ctx, d)
	if c == nil || c.URL == "" {
		return campaignreg.NewLocal(campaignreg.NewBook(o.Store, nil, log), p)
	}
	sign, tlsKey, err := campaignreg.OpenKeys(ctx, o.Keys)
	if err != nil {
		return nil, err
	}
	cert, err := campaignreg.ClientCertificate(tlsKey, p.ID, time.Now())
	if err != nil {
		return nil, err
	}
	tc := &tls.Config{Certificates: []tls.Certificate{cert}}
	if c.CAFile != "" {
		path := c.CAFile
		if !filepath.IsAbs(path) {
			path = filepath.Join(d.Path, path)
		}
		b, err := os.ReadFile(path)
		if err != nil {
			return nil, fmt.Errorf("datadir: campaign_registry.ca_file: %w", err)
		}
		tc.RootCAs = x509.NewCertPool()
		if !tc.RootCAs.AppendCertsFromPEM(b) {
			return nil, fmt.Errorf("datadir: campaign_registry.ca_file %s holds no PEM certificate", path)
		}
	}
	return campaignreg.NewClient(campaignreg.ClientConfig{URL: c.URL, Provider: p, TLS: tc, Signer: sign})
}

// RegistryMember returns this provider's entry for the shared registry's
// members file: its ID and name, the SHA-256 of its TLS client key and
// its signing key (PEM), making the keys in the key store on first use.
func (o *Opened) RegistryMember(ctx context.Context, d *Dir) (*campaignreg.MemberEntry, error) {
	if c := d.Config.CampaignRegistry; c == nil || c.ProviderID == "" {
		return nil, fmt.Errorf("datadir: %s names no campaign_registry provider_id: set it first (and provider_name, when the name citizens know differs from the CA's organisation)", ConfigFile)
	}
	p := o.Provider(ctx, d)
	sign, tlsKey, err := campaignreg.OpenKeys(ctx, o.Keys)
	if err != nil {
		return nil, err
	}
	pin, err := campaignreg.KeySHA256(tlsKey.Public())
	if err != nil {
		return nil, err
	}
	der, err := x509.MarshalPKIXPublicKey(sign.Public())
	if err != nil {
		return nil, err
	}
	return &campaignreg.MemberEntry{ID: p.ID, Name: p.Name, TLSKeySHA256: pin,
		SigningKey: string(pem.EncodeToMemory(&pem.Block{Type: "PUBLIC KEY", Bytes: der}))}, nil
}
