// Package csc speaks the Cloud Signature Consortium API v2 (CSC "API v2.0.0.2",
// PROTOCOLS.md): the wire types, an http.Handler serving them under
// /csc/v2/ over pkg/signing, and a Go client with a crypto.Signer that signs
// through it, so a portal signs a PDF locally with a remote key and never
// sends the document.
package csc

import (
	"encoding/json"
	"fmt"
)

// Error is the body of every error response (CSC API v2 section 10.1).
type Error struct {
	Error       string `json:"error"`
	Description string `json:"error_description,omitempty"`
	// RequestID is the request's X-Request-ID, for the caller to quote
	// (kyso's addition; CSC clients ignore members they do not know).
	RequestID string `json:"request_id,omitempty"`
}

// InfoResponse answers info (section 11.1).
type InfoResponse struct {
	Specs             string   `json:"specs"`
	Name              string   `json:"name"`
	Logo              string   `json:"logo"`
	Region            string   `json:"region"`
	Lang              string   `json:"lang"`
	Description       string   `json:"description"`
	AuthType          []string `json:"authType"`
	OAuth2            string   `json:"oauth2,omitempty"`
	Methods           []string `json:"methods"`
	SignAlgorithms    *Algos   `json:"signAlgorithms,omitempty"`
	SignatureFormats  *Formats `json:"signature_formats,omitempty"`
	ConformanceLevels []string `json:"conformance_levels,omitempty"`
}

// Algos lists signature algorithm OIDs.
type Algos struct {
	Algos []string `json:"algos"`
}

// Formats lists signature formats and their envelope properties.
type Formats struct {
	Formats            []string   `json:"formats"`
	EnvelopeProperties [][]string `json:"envelope_properties"`
}

// TokenResponse answers oauth2/token and auth/login (RFC 6749 section 5.1).
type TokenResponse struct {
	AccessToken string `json:"access_token"`
	TokenType   string `json:"token_type,omitempty"`
	ExpiresIn   int    `json:"expires_in"`
	// Cnf, for a token obtained by mutual TLS, says which certificate it
	// is bound to. RFC 8705 section 3 puts cnf in a JWT access token or an
	// introspection answer; kyso's tokens are opaque and it offers no
	// introspection, so it tells the client here (RFC 6749 section 5.1:
	// a client ignores names it does not know).
	Cnf *Confirmation `json:"cnf,omitempty"`
	// Scope and CredentialID answer an authorization_code grant: with
	// scope credential the access token is the SAD for the approved
	// hashes on CredentialID (kyso's addition, as cnf).
	Scope        string `json:"scope,omitempty"`
	CredentialID string `json:"credentialID,omitempty"`
}

// Confirmation is the cnf member of RFC 7800 as RFC 8705 section 3.1 uses
// it: the base64url SHA-256 thumbprint of the DER client certificate.
type Confirmation struct {
	X5tS256 string `json:"x5t#S256"`
}

// RevokeRequest is auth/revoke and oauth2/revoke.
type RevokeRequest struct {
	Token         string `json:"token"`
	TokenTypeHint string `json:"token_type_hint,omitempty"`
}

// ListRequest is credentials/list (section 11.4). UserID is optional, as
// CSC makes it:
//
//   - with UserID, a national ID ("CCCD:…" or the 12 digits), the answer
//     lists that owner's credentials, oldest first: any relying party may
//     ask for a signature with any credential, and the owner approves
//     each one;
//   - without it, the answer lists the credentials of the user the access
//     token acts for. CSC leaves userID out when the service authorization
//     is user-specific and the user is implicit in the token: a token
//     from the owner's oauth2code consent with scope service lists that
//     owner's credentials (and refuses a userID). A relying party's own
//     token (client credentials, or auth/login with the client's own
//     secret) acts for no owner, so that list is empty. Listing every
//     owner's credentials instead would hand any relying party the
//     register of citizens.
type ListRequest struct {
	UserID       string     `json:"userID,omitempty"`
	CredInfo     bool       `json:"credInfo,omitempty"`
	Certificates CertChoice `json:"certificates,omitempty"`
	CertInfo     bool       `json:"certInfo,omitempty"`
	AuthInfo     bool       `json:"authInfo,omitempty"`
	MaxResults   int        `json:"maxResults,omitempty"`
}

// CertChoice is the certificates parameter of credentials/list and
// credentials/info: "none", "single" or "chain"; absent (or null) means
// single. Any other value, the empty string included, is refused when the
// request is read, whether or not certificates would be returned.
type CertChoice string

// UnmarshalJSON accepts null and the three values CSC defines.
func (c *CertChoice) UnmarshalJSON(b []byte) error {
	if string(b) == "null" {
		return nil
	}
	var s string
	if err := json.Unmarshal(b, &s); err != nil {
		return err
	}
	switch s {
	case "none", "single", "chain":
		*c = CertChoice(s)
		return nil
	}
	return fmt.Errorf(`certificates must be "none", "single" or "chain", not %q`, s)
}

// ListResponse answers credentials/list.
type ListResponse struct {
	CredentialIDs   []string        `json:"credentialIDs"`
	CredentialInfos []*InfoCredResp `json:"credentialInfos,omitempty"`
}

// InfoCredRequest is credentials/info (section 11.5).
type InfoCredRequest struct {
	CredentialID string     `json:"credentialID"`
	Certificates CertChoice `json:"certificates,omitempty"` // none, single, chain
	CertInfo     bool       `json:"certInfo,omitempty"`
	AuthInfo     bool       `json:"authInfo,omitempty"`
}

// InfoCredResp answers credentials/info.
type InfoCredResp struct {
	CredentialID string   `json:"credentialID,omitempty"`
	Description  string   `json:"description,omitempty"`
	Key          KeyInfo  `json:"key"`
	Cert         CertInfo `json:"cert"`
	Auth         *Auth    `json:"auth,omitempty"`
	SCAL         string   `json:"SCAL"`
	Multisign    int      `json:"multisign"`
	Lang         string   `json:"lang,omitempty"`
}

// KeyInfo describes the credential's key.
type KeyInfo struct {
	Status string   `json:"status"`
	Algo   []string `json:"algo"`
	Len    int      `json:"len"`
	Curve  string   `json:"curve,omitempty"`
}

// CertInfo describes the credential's certificate.
type CertInfo struct {
	Status       string   `json:"status,omitempty"`
	Certificates []string `json:"certificates,omitempty"`
	IssuerDN     string   `json:"issuerDN,omitempty"`
	SerialNumber string   `json:"serialNumber,omitempty"`
	SubjectDN    string   `json:"subjectDN,omitempty"`
	ValidFrom    string   `json:"validFrom,omitempty"`
	ValidTo      string   `json:"validTo,omitempty"`
}

// Auth says how a credential is authorised: explicitly, with the objects
// PIN and OTP.
type Auth struct {
	Mode       string       `json:"mode"`
	Expression string       `json:"expression,omitempty"`
	Objects    []AuthObject `json:"objects,omitempty"`
}

// AuthObject is one authorisation factor.
type AuthObject struct {
	Type        string `json:"type"`
	ID          string `json:"id"`
	Format      string `json:"format,omitempty"`
	Label       string `json:"label,omitempty"`
	Description string `json:"description,omitempty"`
	Generator   string `json:"generator,omitempty"`
}

// AuthorizeRequest is credentials/authorize (section 11.6).
type AuthorizeRequest struct {
	CredentialID     string     `json:"credentialID"`
	NumSignatures    int        `json:"numSignatures"`
	Hashes           []string   `json:"hashes,omitempty"`
	HashAlgorithmOID string     `json:"hashAlgorithmOID,omitempty"`
	AuthData         []AuthData `json:"authData,omitempty"`
	Description      string     `json:"description,omitempty"`
	ClientData       string     `json:"clientData,omitempty"`
	// Hash, PIN and OTP are the CSC v1 spellings of hashes and authData,
	// which clients such as pyHanko still send; they are accepted too.
	Hash []string `json:"hash,omitempty"`
	PIN  string   `json:"PIN,omitempty"`
	OTP  string   `json:"OTP,omitempty"`
}

// AuthData is one factor's value.
type AuthData struct {
	ID    string `json:"id"`
	Value string `json:"value"`
}

// AuthorizeResponse carries the SAD.
type AuthorizeResponse struct {
	SAD       string `json:"SAD"`
	ExpiresIn int    `json:"expiresIn"`
}

// SignHashRequest is signatures/signHash (section 11.9).
type SignHashRequest struct {
	CredentialID     string   `json:"credentialID"`
	SAD              string   `json:"SAD"`
	Hashes           []string `json:"hashes"`
	HashAlgorithmOID string   `json:"hashAlgorithmOID,omitempty"`
	SignAlgo         string   `json:"signAlgo"`
	SignAlgoParams   string   `json:"signAlgoParams,omitempty"`
	OperationMode    string   `json:"operationMode,omitempty"`
	ClientData       string   `json:"clientData,omitempty"`
	// Hash and HashAlgo are the CSC v1 spellings of hashes and
	// hashAlgorithmOID (pyHanko sends them); accepted too.
	Hash     []string `json:"hash,omitempty"`
	HashAlgo string   `json:"hashAlgo,omitempty"`
}

// SignHashResponse carries the signatures, base64, in the order of the
// hashes.
type SignHashResponse struct {
	Signatures []string `json:"signatures"`
}

// TimestampRequest is signatures/timestamp (section 11.13).
type TimestampRequest struct {
	Hash             string `json:"hash"`
	HashAlgorithmOID string `json:"hashAlgorithmOID"`
	Nonce            string `json:"nonce,omitempty"`
	ClientData       string `json:"clientData,omitempty"`
}

// TimestampResponse carries the RFC 3161 TimeStampToken, base64.
type TimestampResponse struct {
	Timestamp string `json:"timestamp"`
}

// SignDocRequest is signatures/signDoc (section 11.11) with whole PDFs:
// each is signed as PAdES at its conformance level. The SAD must have been
// authorised for the SHA-256 digests of the documents as sent, in order.
type SignDocRequest struct {
	CredentialID                string      `json:"credentialID"`
	SAD                         string      `json:"SAD"`
	Documents                   []DocToSign `json:"documents"`
	ClientData                  string      `json:"clientData,omitempty"`
	ReturnValidationInformation bool        `json:"returnValidationInformation,omitempty"`
}

// DocToSign is one document of signDoc.
type DocToSign struct {
	// Document is the PDF, base64.
	Document string `json:"document"`
	// SignatureFormat must be "P" (PAdES).
	SignatureFormat string `json:"signature_format"`
	// ConformanceLevel is AdES-B-B, AdES-B-T, AdES-B-LT or AdES-B-LTA
	// (Ades-B-B etc. are accepted too); empty means AdES-B-B.
	ConformanceLevel string `json:"conformance_level,omitempty"`
	// SignedEnvelopeProperty is "Approval" (the default) or
	// "Certification".
	SignedEnvelopeProperty string `json:"signed_envelope_property,omitempty"`
}

// SignDocResponse carries the signed documents, base64, in order.
type SignDocResponse struct {
	DocumentWithSignature []string `json:"DocumentWithSignature"`
}
