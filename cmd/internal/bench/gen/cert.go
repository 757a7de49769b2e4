package gen

import (
	"bytes"
	"crypto"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/sha1"
	"crypto/sha256"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/asn1"
	"fmt"
	"math/big"
	"strings"
	"time"
)

// Issuer is what signs the generated certificates: the issuing CA's
// certificate and key, and a citizen certificate the CA issued through
// its real path (ca.Authority.IssueCitizen: profile, zlint), whose
// extensions, policies and URLs every generated certificate copies.
type Issuer struct {
	// Name is the issuer's name in the store ("issuing").
	Name   string
	Cert   *x509.Certificate
	Signer crypto.Signer
	// Template is the real citizen certificate; TemplateName,
	// TemplateCCCD and TemplateProvince are the values of its subject
	// that each generated certificate replaces.
	Template                                     *x509.Certificate
	TemplateName, TemplateCCCD, TemplateProvince string
	// Subject is the template's subject as the store records it
	// (store.Certificate.Subject), and CRLShard its shard.
	Subject  string
	CRLShard int
}

// Subject's attribute types the generator rewrites.
var (
	oidCN       = asn1.ObjectIdentifier{2, 5, 4, 3}
	oidProvince = asn1.ObjectIdentifier{2, 5, 4, 8}
	oidSKI      = asn1.ObjectIdentifier{2, 5, 29, 14}
)

// atv and rdnSET keep each attribute value's tag (UTF8String,
// PrintableString) as the CA wrote it; encoding/asn1 reads a type named
// …SET as a SET OF.
type atv struct {
	Type  asn1.ObjectIdentifier
	Value asn1.RawValue
}
type rdnSET []atv

// minter makes certificates like Issuer.Template for other citizens.
type minter struct {
	is   *Issuer
	rdns []rdnSET
	exts []pkix.Extension
}

func newMinter(is *Issuer) (*minter, error) {
	m := &minter{is: is}
	if rest, err := asn1.Unmarshal(is.Template.RawSubject, &m.rdns); err != nil || len(rest) > 0 {
		return nil, fmt.Errorf("gen: reading the template's subject: %v", err)
	}
	m.exts = append(m.exts, is.Template.Extensions...)
	return m, nil
}

// minted is one generated certificate.
type minted struct {
	der, serial, spkiSHA256 []byte
	subject                 string
	notBefore, notAfter     time.Time
}

// mint makes and signs a certificate for p, valid from nb for the
// template's life, with a fresh P-256 key and a random serial.
func (m *minter) mint(p *person, nb time.Time) (*minted, error) {
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return nil, err
	}
	serial := make([]byte, 16)
	rand.Read(serial)
	serial[0] = serial[0]&0x7f | 0x01 // positive, never a leading zero (as pkg/ca draws them)
	t := *m.is.Template
	t.SerialNumber = new(big.Int).SetBytes(serial)
	t.NotBefore = nb
	t.NotAfter = nb.Add(m.is.Template.NotAfter.Sub(m.is.Template.NotBefore))
	if t.RawSubject, err = m.subject(p); err != nil {
		return nil, err
	}
	spki, err := x509.MarshalPKIXPublicKey(&key.PublicKey)
	if err != nil {
		return nil, err
	}
	point, err := key.PublicKey.Bytes() // the subjectPublicKey bits, which pkg/ca's key ID hashes
	if err != nil {
		return nil, err
	}
	ski := sha1.Sum(point)
	skiExt, _ := asn1.Marshal(ski[:])
	t.ExtraExtensions = make([]pkix.Extension, len(m.exts))
	for i, e := range m.exts {
		if e.Id.Equal(oidSKI) {
			e.Value = skiExt
		}
		t.ExtraExtensions[i] = e
	}
	t.SubjectKeyId = ski[:]
	der, err := x509.CreateCertificate(rand.Reader, &t, m.is.Cert, &key.PublicKey, m.is.Signer)
	if err != nil {
		return nil, fmt.Errorf("gen: signing a certificate: %w", err)
	}
	h := sha256.Sum256(spki)
	return &minted{der: der, serial: serial, spkiSHA256: h[:], notBefore: t.NotBefore, notAfter: t.NotAfter,
		subject: m.subjectText(p)}, nil
}

// subject is the template's subject with p's name, CCCD and province.
func (m *minter) subject(p *person) ([]byte, error) {
	out := make([]rdnSET, len(m.rdns))
	for i, rdn := range m.rdns {
		out[i] = make(rdnSET, len(rdn))
		for j, a := range rdn {
			v := a.Value
			switch {
			case a.Type.Equal(oidCN):
				v = raw(v, p.name)
			case a.Type.Equal(oidProvince):
				v = raw(v, p.province)
			case bytes.Contains(v.Bytes, []byte(m.is.TemplateCCCD)):
				v = raw(v, strings.ReplaceAll(string(v.Bytes), m.is.TemplateCCCD, p.cccd))
			}
			out[i][j] = atv{a.Type, v}
		}
	}
	return asn1.Marshal(out)
}

// raw is v with its content s, tag and class kept.
func raw(v asn1.RawValue, s string) asn1.RawValue {
	return asn1.RawValue{Class: v.Class, Tag: v.Tag, Bytes: []byte(s)}
}

// subjectText is the store's subject text with p's values.
func (m *minter) subjectText(p *person) string {
	return strings.NewReplacer(m.is.TemplateName, p.name, m.is.TemplateCCCD, p.cccd, m.is.TemplateProvince, p.province).Replace(m.is.Subject)
}
