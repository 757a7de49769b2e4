package smartca

import (
	"bytes"
	"context"
	"crypto/x509"
	"encoding/base64"
	"net/http"
	"time"

	"github.com/kyso-pki/kyso/pkg/display"
	"github.com/kyso-pki/kyso/pkg/signing"
	"github.com/kyso-pki/kyso/pkg/store"
)

// getCertificate is credentials/get_certificate: the owner's certificates,
// oldest first, or the one with serial_number.
func (h *Handler) getCertificate(w http.ResponseWriter, r *http.Request) {
	var req CertificateRequest
	if !h.decode(w, r, &req) {
		return
	}
	uid, err := nationalID(req.UserID)
	if err != nil {
		h.fail(w, r, err)
		return
	}
	serial, err := serialFilter(req.SerialNumber)
	if err != nil {
		h.fail(w, r, err)
		return
	}
	if _, ok := h.authenticate(w, r, &req.SP); !ok {
		return
	}
	creds, err := h.svc.Credentials(r.Context(), uid)
	if err != nil {
		h.fail(w, r, err)
		return
	}
	data := CertificateData{UserCertificates: []UserCertificate{}}
	for _, c := range creds {
		cert, chain, err := h.svc.Certificate(r.Context(), c)
		if err != nil {
			h.fail(w, r, err)
			return
		}
		if serial != nil && !sameSerial(cert, serial) {
			continue
		}
		cs, err := h.svc.CertificateStatus(r.Context(), c, cert, h.now())
		if err != nil {
			h.fail(w, r, err)
			return
		}
		data.UserCertificates = append(data.UserCertificates, describe(c, cert, chain, cs))
	}
	writeOK(w, "Thành công", data)
}

// serialFilter reads an optional serial_number, in hex as
// display.ParseSerial reads it: with or without the leading zero nibble,
// any case, separators allowed. Nil means none was given.
func serialFilter(s string) ([]byte, error) {
	if s == "" {
		return nil, nil
	}
	b, err := display.ParseSerial(s)
	if err != nil {
		return nil, &signing.Error{Kind: signing.KindInvalid, Description: "serial_number must be the certificate's serial number in hex"}
	}
	return b, nil
}

// sameSerial reports whether cert's serial number is serial, big-endian
// octets without leading zeros.
func sameSerial(cert *x509.Certificate, serial []byte) bool {
	return bytes.Equal(cert.SerialNumber.Bytes(), serial)
}

// credentialBySerial picks the owner's credential whose certificate has
// the serial number.
func (h *Handler) credentialBySerial(ctx context.Context, uid string, serial []byte) (string, error) {
	creds, err := h.svc.Credentials(ctx, uid)
	if err != nil {
		return "", err
	}
	for _, c := range creds {
		cert, _, err := h.svc.Certificate(ctx, c)
		if err != nil {
			return "", err
		}
		if sameSerial(cert, serial) {
			return c.ID, nil
		}
	}
	return "", &signing.Error{Kind: signing.KindNotFound, Description: "the user has no certificate with that serial number"}
}

// certStatus is cert_status for each state of a certificate: the
// dialect's own words, lower-case English as the rest of its fields.
var certStatus = map[signing.CertStatus]string{
	signing.CertValid: "active", signing.CertExpired: "expired", signing.CertNotYetValid: "not_yet_valid",
	signing.CertRevoked: "revoked", signing.CertSuspended: "suspended",
}

// describe is one certificate of get_certificate's answer; cs is its
// status (signing.Service.CertificateStatus). A disabled credential is
// "disabled" whatever its certificate, as it cannot sign.
func describe(c *store.Credential, cert *x509.Certificate, chain []*x509.Certificate, cs signing.CertStatus) UserCertificate {
	status := certStatus[cs]
	if c.Status != "active" {
		status = "disabled"
	}
	u := UserCertificate{
		CertID: c.ID, CertStatus: status,
		SerialNumber:  display.FormatSerialInt(cert.SerialNumber),
		CertSubject:   display.SubjectDN(cert),
		CertValidFrom: cert.NotBefore.UTC().Format(time.RFC3339),
		CertValidTo:   cert.NotAfter.UTC().Format(time.RFC3339),
		CertData:      base64.StdEncoding.EncodeToString(cert.Raw),
	}
	if len(chain) > 0 {
		u.ChainData.CACert = base64.StdEncoding.EncodeToString(chain[0].Raw)
		u.ChainData.RootCert = base64.StdEncoding.EncodeToString(chain[len(chain)-1].Raw)
	}
	return u
}
