package gen

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"fmt"

	"github.com/kyso-pki/kyso/hsm"
	"github.com/kyso-pki/kyso/pkg/ca"
	"github.com/kyso-pki/kyso/pkg/store"
)

// The template citizen. Its CCCD (Cà Mau's code, sex and century digit 3,
// born in '99) is one the generator never draws: it draws births up to
// 2007.
const (
	templateName     = "Nguyễn Văn Mẫu"
	templateCCCD     = "096399999999"
	templateProvince = "Cà Mau"
)

// BenchPrefix opens the CCCDs of the citizens the benches enrol and
// certify themselves (Cà Mau's code, sex and century digit 3, born in
// '99), which Generate never draws; the template is its last number.
const BenchPrefix = "096399"

// BenchNumber is the highest number after BenchPrefix a certificate in
// the database dsn names, but the template's: a bench numbers its
// citizens on from there.
func BenchNumber(ctx context.Context, dsn string) (int, error) {
	sk, err := openSink(ctx, dsnOf(dsn))
	if err != nil {
		return 0, err
	}
	defer sk.close()
	rows, err := sk.query(ctx, `SELECT 'max', coalesce(max(substr(national_id, 12, 6)), '0') FROM certificates
		WHERE national_id LIKE $1 AND national_id <> $2`, "CCCD:"+BenchPrefix+"%", "CCCD:"+templateCCCD)
	if err != nil || len(rows) != 1 {
		return 0, fmt.Errorf("gen: reading the benches' CCCDs: %v", err)
	}
	var n int
	fmt.Sscanf(rows[0][1], "%d", &n)
	return n, nil
}

// NewIssuer issues the template certificate through a's real path
// (ca.Authority.IssueCitizen, from a CSR of a key held in memory) and
// opens the issuing CA's key in ks, for Generate.
func NewIssuer(ctx context.Context, a *ca.Authority, st store.Store, ks hsm.KeyStore) (*Issuer, error) {
	rec, err := st.GetCA(ctx, ca.IssuingName)
	if err != nil {
		return nil, fmt.Errorf("gen: reading the issuing CA: %w", err)
	}
	cert, err := x509.ParseCertificate(rec.CertDER)
	if err != nil {
		return nil, fmt.Errorf("gen: reading the issuing CA's certificate: %w", err)
	}
	signer, err := ks.Signer(ctx, &hsm.SignerRequest{Label: ca.KeyLabel(rec.KeyURI)})
	if err != nil {
		return nil, fmt.Errorf("gen: opening the issuing CA's key: %w", err)
	}
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return nil, err
	}
	csr, err := x509.CreateCertificateRequest(rand.Reader, &x509.CertificateRequest{Subject: pkix.Name{CommonName: templateName}}, key)
	if err != nil {
		return nil, err
	}
	tmpl, err := a.IssueCitizen(ctx, &ca.CitizenRequest{Name: templateName, CCCD: templateCCCD, Province: templateProvince,
		Key: ca.KeySource{CSR: csr}, Actor: "bench:gen"})
	if err != nil {
		return nil, fmt.Errorf("gen: issuing the template certificate: %w", err)
	}
	stored, err := a.Certificate(ctx, tmpl.SerialNumber.Bytes())
	if err != nil {
		return nil, err
	}
	// Revoke the template at once: it is no citizen's, and its campaign
	// holding would otherwise stand for one.
	if err := a.Revoke(ctx, tmpl.SerialNumber.Bytes(), store.ReasonCessationOfOperation, tmpl.NotBefore); err != nil {
		return nil, fmt.Errorf("gen: revoking the template certificate: %w", err)
	}
	return &Issuer{Name: ca.IssuingName, Cert: cert, Signer: signer, Template: tmpl, TemplateName: templateName,
		TemplateCCCD: templateCCCD, TemplateProvince: templateProvince, Subject: stored.Subject, CRLShard: stored.CRLShard}, nil
}
