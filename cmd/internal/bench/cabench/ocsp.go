package cabench

import (
	"bytes"
	"context"
	"crypto"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/asn1"
	"fmt"
	"io"
	"math/big"
	"net"
	"net/http"
	"os"
	"time"

	xocsp "golang.org/x/crypto/ocsp"

	"github.com/kyso-pki/kyso/hsm"
	"github.com/kyso-pki/kyso/pkg/ca"
	"github.com/kyso-pki/kyso/pkg/httpedge"
	"github.com/kyso-pki/kyso/pkg/ocsp"
	"github.com/kyso-pki/kyso/pkg/ocsp/ocspbench"
	"github.com/kyso-pki/kyso/pkg/store"
)

// OCSPOptions describe the OCSP comparison.
type OCSPOptions struct {
	// Authority holds the hierarchy whose issuing CA both responders answer
	// for; certificates are issued and revoked in it.
	Authority *ca.Authority
	// KeyStore is the Authority's key store, where the issuing CA's key
	// (ca.IssuingKeyLabel) signs the benchmark's delegated OCSP
	// certificate.
	KeyStore hsm.KeyStore
	// Database names the Authority's store in the rows.
	Database string
	// CCCDs numbers the citizens; shared with other runs on the database.
	CCCDs *CCCDs
	// Dir receives openssl's files; it must exist. One subdirectory per
	// openssl responder is made in it.
	Dir string
	// OpenSSL is the openssl command; empty means "openssl" from $PATH.
	OpenSSL string
	// Certificates is how many certificates to issue and ask about; 0
	// means 20. Revoked of them are revoked (keyCompromise); 0 means a
	// fifth.
	Certificates, Revoked int
	// Goroutines is how many clients send at once; 0 means 1.
	Goroutines int
	// Duration is how long each responder is loaded; 0 means one second.
	Duration time.Duration
	// OpenSSLWorkers > 1 adds a row for openssl ocsp -multi OpenSSLWorkers.
	OpenSSLWorkers int
}

// Notes of the OCSP rows.
const (
	noteKyso       = "kyso answers requests without a nonce from its cache of pre-signed responses (RFC 5019), behind kysod's request metrics and body bound (httpedge.Measure, http.MaxBytesHandler) as kysod serves /ocsp; openssl signs every response. Both sign with the same in-memory P-256 delegated responder key (openssl reads it from a file; kysod would use the key store's); the load generator runs in kyso's process: one keep-alive HTTP/1.1 connection per goroutine, each request's octets encoded once (pkg/ocsp/ocspbench), for every row"
	noteKysoNonce  = "every kyso-nonce request carries a nonce, so kyso signs each response, as openssl does: the like-for-like comparison"
	noteOpenSSL    = "openssl ocsp -index index.txt -port PORT -rsigner ocsp.pem -rkey ocsp.key -CA issuing.pem -ndays 1, one process, same certificates, same requests"
	noteOpenSSLMul = "the same openssl responder with -multi, one process per CPU"
)

// CompareOCSP issues o.Certificates certificates and revokes some, gives
// kyso's responder (ocsp.New over the Authority's records, as kysod wires
// it, behind kysod's request metrics and body bound, on a loopback port)
// and `openssl ocsp` the same issuer and the same delegated responder
// certificate and P-256 key (made here, in memory, and signed with the
// issuing CA's key, so openssl can read the key from a file), checks every answer of each once, then loads each for o.Duration
// with the same SHA-1 CertID requests from o.Goroutines clients, one after
// the other. It returns the rows OCSPKyso, OCSPKysoNonce, OCSPOpenSSL and,
// with OpenSSLWorkers > 1, OCSPOpenSSLMulti; a row that could not be
// measured carries the error.
func CompareOCSP(ctx context.Context, o OCSPOptions) []Result {
	if o.Certificates <= 0 {
		o.Certificates = 20
	}
	if o.Revoked <= 0 {
		o.Revoked = max(o.Certificates/5, 1)
	}
	o.Revoked = min(o.Revoked, o.Certificates)
	o.Goroutines = max(o.Goroutines, 1)
	if o.Duration <= 0 {
		o.Duration = time.Second
	}
	if o.CCCDs == nil {
		o.CCCDs = &CCCDs{}
	}
	rows := []Result{
		{Name: OCSPKyso, Note: noteKyso},
		{Name: OCSPKysoNonce, Note: noteKysoNonce},
		{Name: OCSPOpenSSL, Note: noteOpenSSL},
	}
	if o.OpenSSLWorkers > 1 {
		rows = append(rows, Result{Name: OCSPOpenSSLMulti, Note: noteOpenSSLMul})
	}
	for i := range rows {
		rows[i].Kind, rows[i].Database, rows[i].Goroutines = KindOCSP, o.Database, o.Goroutines
	}
	fail := func(err error) []Result {
		for i := range rows {
			rows[i].Err = err.Error()
		}
		return rows
	}

	fx, err := newOCSPFixture(ctx, &o)
	if err != nil {
		return fail(err)
	}
	r, err := ocsp.New(ocsp.Config{Issuer: fx.issuer, Signer: fx.key, SignerCert: fx.cert, Source: &authoritySource{a: o.Authority}})
	if err != nil {
		return fail(fmt.Errorf("cabench: kyso's OCSP responder: %w", err))
	}
	// kysod serves the PKI routes through the same two layers.
	kysoURL, stop, err := serve(httpedge.Measure("pki", "pki", http.MaxBytesHandler(r, 64<<10)))
	if err != nil {
		return fail(err)
	}
	defer stop()

	keyDER, err := x509.MarshalPKCS8PrivateKey(fx.key)
	if err != nil {
		return fail(fmt.Errorf("cabench: encoding the OCSP key: %w", err))
	}
	for i := range rows {
		rows[i] = fx.measure(ctx, &o, rows[i], kysoURL, keyDER)
	}
	return rows
}

// measure checks and loads the responder of row (starting openssl for
// openssl rows, and stopping it afterwards so that it holds no CPU during
// the next row) and returns the row filled in.
func (fx *ocspFixture) measure(ctx context.Context, o *OCSPOptions, row Result, kysoURL string, keyDER []byte) Result {
	url, reqs := kysoURL, fx.plain
	switch row.Name {
	case OCSPKysoNonce:
		reqs = fx.nonced
	case OCSPOpenSSL, OCSPOpenSSLMulti:
		workers := 0
		if row.Name == OCSPOpenSSLMulti {
			workers = o.OpenSSLWorkers
		}
		dir, err := os.MkdirTemp(o.Dir, "openssl-")
		if err != nil {
			row.Err = fmt.Sprintf("cabench: %v", err)
			return row
		}
		osr, err := StartOpenSSL(ctx, OpenSSLOptions{
			Binary: o.OpenSSL, Dir: dir, Issuer: fx.issuer, SignerCert: fx.cert, SignerKeyDER: keyDER,
			Entries: fx.entries, Workers: workers, ProbeRequest: fx.plain[0],
		})
		if err != nil {
			row.Err = err.Error()
			return row
		}
		defer osr.Close()
		url = osr.URL
	}
	if err := fx.check(ctx, url, reqs); err != nil {
		row.Err = fmt.Sprintf("cabench: %s answered wrongly: %v", row.Name, err)
		return row
	}
	res, err := ocspbench.Run(ctx, ocspbench.Options{URL: url, Requests: reqs, Concurrency: o.Goroutines, Duration: o.Duration})
	if err == nil && ctx.Err() != nil {
		err = ctx.Err()
	}
	if err == nil && res.Responses == 0 {
		err = fmt.Errorf("cabench: no responses (%d errors): %v", res.Errors, res.FirstError)
	}
	if err != nil {
		row.Err = err.Error()
		return row
	}
	row.Errors = res.Errors
	if res.Errors > 0 && res.FirstError != nil {
		row.Note = joinNote(row.Note, fmt.Sprintf("%s: first failed request: %v", row.Name, res.FirstError))
	}
	row.finish(res.Responses, res.Elapsed.Seconds())
	return row
}

// ocspFixture is what both responders are given and asked.
type ocspFixture struct {
	issuer  *x509.Certificate
	cert    *x509.Certificate // delegated OCSP responder
	key     *ecdsa.PrivateKey
	certs   []*x509.Certificate
	revoked map[string]time.Time // by serial, decimal
	entries []IndexEntry
	plain   [][]byte // per certificate, SHA-1 CertID, no nonce
	nonced  [][]byte // the same with a nonce each
	nonces  [][]byte // the nonce extnValue of each nonced request
}

func newOCSPFixture(ctx context.Context, o *OCSPOptions) (*ocspFixture, error) {
	a := o.Authority
	h, err := a.Hierarchy(ctx)
	if err != nil {
		return nil, fmt.Errorf("cabench: loading the hierarchy: %w", err)
	}
	fx := &ocspFixture{issuer: h.Issuing, revoked: map[string]time.Time{}}
	csrs, err := NewCSRs(ctx, o.Certificates)
	if err != nil {
		return nil, err
	}
	for _, csr := range csrs {
		c, err := a.IssueCitizen(ctx, &ca.CitizenRequest{Name: "Trần Thị OCSP", CCCD: o.CCCDs.Next(), Province: "Hà Nội", Key: ca.KeySource{CSR: csr}, Actor: "kyso-bench"})
		if err != nil {
			return nil, fmt.Errorf("cabench: issuing a certificate to ask about: %w", err)
		}
		fx.certs = append(fx.certs, c)
	}
	at := time.Now().Add(-time.Minute).UTC().Truncate(time.Second)
	for _, c := range fx.certs[:o.Revoked] {
		if err := a.Revoke(ctx, c.SerialNumber.Bytes(), store.ReasonKeyCompromise, at); err != nil {
			return nil, fmt.Errorf("cabench: revoking a certificate: %w", err)
		}
		fx.revoked[c.SerialNumber.String()] = at
	}
	for _, c := range fx.certs {
		at, revoked := fx.revoked[c.SerialNumber.String()]
		e := IndexEntry{Cert: c, Revoked: revoked, RevokedAt: at}
		if revoked {
			e.Reason = "keyCompromise"
		}
		fx.entries = append(fx.entries, e)
	}

	caKey, err := o.KeyStore.Signer(ctx, &hsm.SignerRequest{Label: ca.IssuingKeyLabel})
	if err != nil {
		return nil, fmt.Errorf("cabench: opening the issuing CA's key: %w", err)
	}
	if !hsm.SamePublicKey(caKey.Public(), fx.issuer.PublicKey) {
		return nil, fmt.Errorf("cabench: key %q is not the issuing CA's", ca.IssuingKeyLabel)
	}
	if fx.cert, fx.key, err = delegatedResponder(fx.issuer, caKey); err != nil {
		return nil, err
	}

	for _, c := range fx.certs {
		der, err := xocsp.CreateRequest(c, fx.issuer, &xocsp.RequestOptions{Hash: crypto.SHA1})
		if err != nil {
			return nil, fmt.Errorf("cabench: making an OCSP request: %w", err)
		}
		nonce := make([]byte, 16)
		rand.Read(nonce)
		value, _ := asn1.Marshal(nonce)
		withNonce, err := addExtension(der, pkix.Extension{Id: oidNonce, Value: value})
		if err != nil {
			return nil, err
		}
		fx.plain = append(fx.plain, der)
		fx.nonced = append(fx.nonced, withNonce)
		fx.nonces = append(fx.nonces, value)
	}
	return fx, nil
}

// oidNonce is id-pkix-ocsp-nonce (RFC 6960 section 4.4.1).
var oidNonce = asn1.ObjectIdentifier{1, 3, 6, 1, 5, 5, 7, 48, 1, 2}

// oidNoCheck is id-pkix-ocsp-nocheck (RFC 6960 section 4.2.2.2.1).
var oidNoCheck = asn1.ObjectIdentifier{1, 3, 6, 1, 5, 5, 7, 48, 1, 5}

// delegatedResponder makes a P-256 key in memory and a two-day delegated
// OCSP responder certificate for it (RFC 6960 section 4.2.2.2:
// id-kp-OCSPSigning, and id-pkix-ocsp-nocheck), signed by the issuer's key.
// It is not recorded in the store: it exists for this run only.
func delegatedResponder(issuer *x509.Certificate, issuerKey crypto.Signer) (*x509.Certificate, *ecdsa.PrivateKey, error) {
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return nil, nil, fmt.Errorf("cabench: making the OCSP key: %w", err)
	}
	serial, err := rand.Int(rand.Reader, new(big.Int).Lsh(big.NewInt(1), 127))
	if err != nil {
		return nil, nil, fmt.Errorf("cabench: drawing a serial number: %w", err)
	}
	now := time.Now()
	tmpl := &x509.Certificate{
		SerialNumber:    serial.Add(serial, big.NewInt(1)),
		Subject:         pkix.Name{Country: []string{"VN"}, Organization: issuer.Subject.Organization, CommonName: "kyso bench OCSP Responder"},
		NotBefore:       now.Add(-time.Minute),
		NotAfter:        now.Add(48 * time.Hour),
		KeyUsage:        x509.KeyUsageDigitalSignature,
		ExtKeyUsage:     []x509.ExtKeyUsage{x509.ExtKeyUsageOCSPSigning},
		ExtraExtensions: []pkix.Extension{{Id: oidNoCheck, Value: []byte{0x05, 0x00}}},
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, issuer, &key.PublicKey, issuerKey)
	if err != nil {
		return nil, nil, fmt.Errorf("cabench: signing the OCSP responder certificate: %w", err)
	}
	cert, err := x509.ParseCertificate(der)
	if err != nil {
		return nil, nil, fmt.Errorf("cabench: parsing the OCSP responder certificate: %w", err)
	}
	return cert, key, nil
}

// addExtension returns the DER OCSPRequest der (RFC 6960 section 4.1.1, as
// x/crypto/ocsp makes it: no requestorName, no signature) with ext added to
// its requestExtensions.
func addExtension(der []byte, ext pkix.Extension) ([]byte, error) {
	type tbsRequest struct {
		Version     int `asn1:"explicit,tag:0,default:0,optional"`
		RequestList []asn1.RawValue
		Extensions  []pkix.Extension `asn1:"explicit,tag:2,optional"`
	}
	var req struct{ TBSRequest tbsRequest }
	if rest, err := asn1.Unmarshal(der, &req); err != nil || len(rest) != 0 {
		return nil, fmt.Errorf("cabench: re-reading an OCSP request: %v", err)
	}
	req.TBSRequest.Extensions = append(req.TBSRequest.Extensions, ext)
	out, err := asn1.Marshal(req)
	if err != nil {
		return nil, fmt.Errorf("cabench: encoding an OCSP request: %w", err)
	}
	return out, nil
}

// check sends each request once and verifies the answer: signed by the
// delegated responder for the issuer, good or revoked as recorded, and
// echoing the request's nonce if it had one.
func (fx *ocspFixture) check(ctx context.Context, url string, reqs [][]byte) error {
	client := &http.Client{Timeout: 10 * time.Second}
	defer client.CloseIdleConnections()
	for i, der := range reqs {
		c := fx.certs[i]
		hreq, err := http.NewRequestWithContext(ctx, http.MethodPost, url, bytes.NewReader(der))
		if err != nil {
			return err
		}
		hreq.Header.Set("Content-Type", "application/ocsp-request")
		resp, err := client.Do(hreq)
		if err != nil {
			return err
		}
		body, err := io.ReadAll(io.LimitReader(resp.Body, 1<<20))
		resp.Body.Close()
		if err != nil {
			return err
		}
		if resp.StatusCode != http.StatusOK {
			return fmt.Errorf("HTTP %d for serial %X", resp.StatusCode, c.SerialNumber)
		}
		r, err := xocsp.ParseResponseForCert(body, c, fx.issuer)
		if err != nil {
			return fmt.Errorf("serial %X: %w", c.SerialNumber, err)
		}
		if r.Certificate == nil || !bytes.Equal(r.Certificate.Raw, fx.cert.Raw) {
			return fmt.Errorf("serial %X: not signed by the delegated responder certificate", c.SerialNumber)
		}
		at, revoked := fx.revoked[c.SerialNumber.String()]
		switch {
		case revoked && (r.Status != xocsp.Revoked || !r.RevokedAt.Equal(at) || r.RevocationReason != xocsp.KeyCompromise):
			return fmt.Errorf("serial %X: status %d at %v reason %d, want revoked at %v for keyCompromise", c.SerialNumber, r.Status, r.RevokedAt, r.RevocationReason, at)
		case !revoked && r.Status != xocsp.Good:
			return fmt.Errorf("serial %X: status %d, want good", c.SerialNumber, r.Status)
		case r.NextUpdate.IsZero():
			return fmt.Errorf("serial %X: no nextUpdate", c.SerialNumber)
		}
		if bytes.Equal(der, fx.plain[i]) {
			continue
		}
		if !echoesNonce(r.TBSResponseData, fx.nonces[i]) {
			return fmt.Errorf("serial %X: the response does not echo the request's nonce", c.SerialNumber)
		}
	}
	return nil
}

// echoesNonce reports whether the DER ResponseData tbs (RFC 6960 section
// 4.2.1) has a nonce extension in its responseExtensions with extnValue
// value. x/crypto/ocsp exposes only singleExtensions, where RFC 6960 puts
// no nonce.
func echoesNonce(tbs, value []byte) bool {
	var rd struct {
		Version     int `asn1:"optional,default:0,explicit,tag:0"`
		ResponderID asn1.RawValue
		ProducedAt  asn1.RawValue
		Responses   asn1.RawValue
		Extensions  []pkix.Extension `asn1:"optional,explicit,tag:1"`
	}
	if rest, err := asn1.Unmarshal(tbs, &rd); err != nil || len(rest) != 0 {
		return false
	}
	for _, e := range rd.Extensions {
		if e.Id.Equal(oidNonce) && bytes.Equal(e.Value, value) {
			return true
		}
	}
	return false
}

// authoritySource is an ocsp.Source over the Authority's records, as
// kysod's (pkg/server caSource).
type authoritySource struct{ a *ca.Authority }

var _ ocsp.Source = (*authoritySource)(nil)

// Status implements ocsp.Source.
func (s *authoritySource) Status(ctx context.Context, serial *big.Int) (ocsp.Status, error) {
	st, err := s.a.OCSPStatus(ctx, ca.IssuingName, serial)
	if err != nil {
		return ocsp.Status{}, err
	}
	return ocsp.Status{Known: st.Known, Revoked: st.Revoked && !st.OnHold, OnHold: st.OnHold, RevokedAt: st.RevokedAt, Reason: st.Reason}, nil
}

// serve serves h over HTTP on a free loopback port and returns its URL and
// a function that stops it.
func serve(h http.Handler) (string, func(), error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return "", nil, fmt.Errorf("cabench: listening for kyso's responder: %w", err)
	}
	srv := &http.Server{Handler: h, ReadHeaderTimeout: 10 * time.Second}
	done := make(chan struct{})
	go func() {
		// Serve's error after Close is http.ErrServerClosed; any other shows
		// as failed requests in the load run.
		srv.Serve(l)
		close(done)
	}()
	return "http://" + l.Addr().String(), func() { srv.Close(); <-done }, nil
}
