// Package smartca serves the SmartCA-style asynchronous dialect under
// /smartca/v1/ (PROTOCOLS.md, "SmartCA-style asynchronous dialect"): the
// shape Vietnamese portals written against VNPT SmartCA's integration API
// already speak, as a compatibility front end over pkg/signing. Every body
// carries the relying party's client credentials as sp_id / sp_password;
// every answer is the envelope {status_code, message, data}. A portal
// submits hashes, the owner approves on their phone (pkg/owner), and the
// portal polls for the signatures or receives them by webhook: the body
// is EncodeNotification's, which kysod gives the signing service, and
// signing.Dispatcher delivers it.
package smartca

// Envelope is the body of every answer. StatusCode equals the HTTP status;
// Data is null on errors.
type Envelope struct {
	StatusCode int    `json:"status_code"`
	Message    string `json:"message"`
	Data       any    `json:"data"`
}

// SP are the relying party's client credentials, carried in every body.
type SP struct {
	SPID       string `json:"sp_id"`
	SPPassword string `json:"sp_password"`
}

// CertificateRequest is credentials/get_certificate's body.
type CertificateRequest struct {
	SP
	// UserID is the owner's national ID: the 12 digits of a CCCD, or with
	// its type prefix ("CCCD:…", "MST:…").
	UserID string `json:"user_id"`
	// SerialNumber, hex, picks one certificate; empty lists them all.
	SerialNumber string `json:"serial_number,omitempty"`
}

// CertificateData is get_certificate's data.
type CertificateData struct {
	UserCertificates []UserCertificate `json:"user_certificates"`
}

// UserCertificate is one of the owner's certificates.
type UserCertificate struct {
	// CertID is the credential ID (the CSC API's credentialID).
	CertID string `json:"cert_id"`
	// CertStatus is "active", "expired", "not_yet_valid", "revoked",
	// "suspended" (on hold, RFC 5280 certificateHold) or "disabled" (the
	// credential, whatever its certificate).
	CertStatus   string `json:"cert_status"`
	SerialNumber string `json:"serial_number"` // upper-case hex
	CertSubject  string `json:"cert_subject"`  // RFC 4514
	// CertValidFrom and CertValidTo are RFC 3339, UTC.
	CertValidFrom string    `json:"cert_valid_from"`
	CertValidTo   string    `json:"cert_valid_to"`
	CertData      string    `json:"cert_data"` // base64 DER
	ChainData     ChainData `json:"chain_data"`
}

// ChainData holds the CA certificates above a user certificate, base64 DER.
type ChainData struct {
	CACert   string `json:"ca_cert"`
	RootCert string `json:"root_cert"`
}

// SignRequest is signatures/sign's body.
type SignRequest struct {
	SP
	UserID string `json:"user_id"`
	// TransactionID is the caller's own, unique ID: the same ID with the
	// same request returns the same transaction.
	TransactionID   string `json:"transaction_id"`
	TransactionDesc string `json:"transaction_desc"`
	// SerialNumber, hex, picks the certificate; empty means the owner's
	// newest active one.
	SerialNumber string     `json:"serial_number,omitempty"`
	SignFiles    []SignFile `json:"sign_files"`
}

// SignFile is one hash to sign, or a whole PDF.
type SignFile struct {
	// DocID is what the owner sees the document as.
	DocID    string `json:"doc_id"`
	FileType string `json:"file_type"`
	// SignType is "hash" (or empty), or "pdf" for a whole PDF in
	// FileData that kyso signs as PAdES and returns signed.
	SignType string `json:"sign_type"`
	// DataToBeSigned is the SHA-256 of what is signed, hex (sign_type
	// "hash").
	DataToBeSigned string `json:"data_to_be_signed,omitempty"`
	// FileData is the PDF, base64 (sign_type "pdf").
	FileData string `json:"file_data,omitempty"`
	// Level is the PAdES level for a PDF: B-B, B-T, B-LT or B-LTA; empty
	// is the service's default (B-LT in kysod, with the status evidence of
	// the pre-signing check in the DSS).
	Level string `json:"level,omitempty"`
}

// SignData is signatures/sign's data.
type SignData struct {
	TransactionID string `json:"transaction_id"`
	TranCode      string `json:"tran_code"`
}

// StatusRequest is the body of signatures/sign/{tran_code}/status.
type StatusRequest struct {
	SP
}
