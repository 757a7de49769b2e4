package ca

import (
	"context"
	"crypto/x509"
	"crypto/x509/pkix"
	"fmt"
	"math/big"
	"strconv"
	"strings"

	"github.com/kyso-pki/kyso/pkg/revocation"
)

// oidIssuingDistributionPoint is the CRL extension that limits a CRL's
// scope (RFC 5280 section 5.2.5).
var oidIssuingDistributionPoint = []int{2, 5, 29, 28}

// ShardURL is the URL of CRL shard shard of the CRL at base: base itself
// for shard 0 (the issuer's original CRL), else "-<shard>" put before a
// ".crl" suffix ("…/crl/issuing.crl" → "…/crl/issuing-7.crl") or after a
// URL without one.
func ShardURL(base string, shard int) string {
	if shard == 0 {
		return base
	}
	if stem, ok := strings.CutSuffix(base, ".crl"); ok {
		return stem + "-" + strconv.Itoa(shard) + ".crl"
	}
	return base + "-" + strconv.Itoa(shard)
}

// crlShard picks the CRL shard of a certificate about to be issued with
// serial by the CA named issuerName and points tmpl's CRL distribution
// point at that shard's CRL. It is 0, and tmpl unchanged, unless
// Options.CRLShards is above 1 and tmpl is an end-entity certificate
// naming the issuer's CRL; then (serial mod CRLShards) + 1.
func (a *Authority) crlShard(issuerName string, tmpl *x509.Certificate, serial []byte) int {
	n := a.opts.CRLShards
	base := a.urls(issuerName).CRL
	if n <= 1 || tmpl.IsCA || len(tmpl.CRLDistributionPoints) != 1 || tmpl.CRLDistributionPoints[0] != base {
		return 0
	}
	shard := int(new(big.Int).Mod(new(big.Int).SetBytes(serial), big.NewInt(int64(n))).Int64()) + 1
	tmpl.CRLDistributionPoints = []string{ShardURL(base, shard)}
	return shard
}

// CRLScopes returns the CRLs the CA named name publishes: shard 0 (its
// original CRL), then every shard its certificates were issued into.
func (a *Authority) CRLScopes(ctx context.Context, name string) ([]int, error) {
	shards, err := a.st.CRLShards(ctx, name)
	if err != nil {
		return nil, fmt.Errorf("ca: listing %s's CRL shards: %w", name, err)
	}
	return append([]int{0}, shards...), nil
}

// crlScopeExtension returns the critical issuingDistributionPoint of the
// CA named name's CRL of shard, or nil when that CRL is its only one and
// complete. A shard's CRL names the shard's URL and lists only end-entity
// certificates (CRLShards gives shards to those only). Shard 0 names the
// issuer's URL once any certificate has gone to a shard: from then on it
// no longer lists every revocation, and a CRL without the extension would
// claim to (RFC 5280 section 5.2.5), so that a relying party holding it
// would take a revoked certificate of another shard for good.
func (a *Authority) crlScopeExtension(ctx context.Context, name string, shard int) (*pkix.Extension, error) {
	idp := &revocation.IssuingDistributionPoint{URIs: []string{ShardURL(a.urls(name).CRL, shard)}, OnlyUserCerts: shard > 0}
	if shard == 0 {
		shards, err := a.st.CRLShards(ctx, name)
		if err != nil {
			return nil, fmt.Errorf("ca: listing %s's CRL shards: %w", name, err)
		}
		if len(shards) == 0 {
			return nil, nil
		}
	}
	v, err := idp.Marshal()
	if err != nil {
		return nil, fmt.Errorf("ca: encoding the issuing distribution point of %s's CRL shard %d: %w", name, shard, err)
	}
	return &pkix.Extension{Id: oidIssuingDistributionPoint, Critical: true, Value: v}, nil
}
