package check

import (
	"bytes"
	"crypto/sha256"
	"encoding/json"
	"fmt"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/kyso-pki/kyso/pkg/store"
)

// Bounds on the remote-signing records (store.Signing).
const (
	MaxID          = 128      // client, owner, credential, transaction IDs; client refs
	MaxText        = 256      // names, provinces, algorithms, scopes' parts
	MaxPHC         = 512      // argon2id PHC strings
	MaxSecret      = 1024     // sealed TOTP secrets, webhook HMAC keys
	MaxPhone       = 32       // E.164 with room to spare
	MaxEmail       = 254      // RFC 5321 section 4.5.3.1.3, a path less its brackets
	MaxWrappedKey  = 16 << 10 // a wrapped private key
	MaxDescription = 500      // characters the owner reads
	MaxDocuments   = 64 << 20 // a transaction's documents or result JSON
	MaxError       = 4096     // a transaction's or webhook's last error
	MaxScope       = 1024     // an access token's scope
	MaxHashes      = 1000     // hashes one activation approves
	MaxHash        = 64       // one hash (SHA-512)
	MaxUses        = 1000     // uses of one activation
	MaxPINFailures = 1000     // attempts ReserveAttempt may grant before locking
	MaxTokenHash   = 64       // an access token's hash
	MaxWebhookBody = 1 << 20  // a notification; results are fetched, not pushed
	SADHashSize    = 32       // SHA-256 of a SAD
	TxLimit        = 100      // transactions listed when no limit is given
	MaxSigningList = 1000     // largest transaction list or webhook claim
)

// ID checks a record's ID or a reference: 1 to MaxID bytes of NUL-free
// UTF-8.
func ID(field, id string) error { return String(field, id, MaxID, true) }

// Client checks a relying party.
func Client(c *store.Client) error {
	if c == nil {
		return Invalid("client is nil")
	}
	for _, f := range []struct {
		field, v string
		max      int
		required bool
	}{
		{"client ID", c.ID, MaxID, true},
		{"client name", c.Name, MaxText, true},
		{"client secret hash", c.SecretHash, MaxPHC, false},
		{"client webhook URL", c.WebhookURL, MaxURI, false},
		{"client staff ID", c.StaffID, MaxID, false},
	} {
		if err := String(f.field, f.v, f.max, f.required); err != nil {
			return err
		}
	}
	if len(c.WebhookSecret) > MaxSecret {
		return Invalid("client webhook secret is %d bytes, more than %d", len(c.WebhookSecret), MaxSecret)
	}
	if c.Category != "" {
		if err := Category(c.Category); err != nil {
			return err
		}
	}
	if c.StaffID != "" && c.Role != store.RoleOfficer {
		return Invalid("only an officer's client is bound to a staff member")
	}
	if c.Role != "" && c.Role != store.RoleRelyingParty && c.Role != store.RoleOfficer {
		return Invalid("client role %q is not %s or %s", c.Role, store.RoleRelyingParty, store.RoleOfficer)
	}
	if len(c.RedirectURIs) > MaxRedirectURIs {
		return Invalid("client has %d redirect URIs, more than %d", len(c.RedirectURIs), MaxRedirectURIs)
	}
	for _, u := range c.RedirectURIs {
		if err := String("client redirect URI", u, MaxURI, true); err != nil {
			return err
		}
		if strings.ContainsAny(u, "\r\n") {
			return Invalid("client redirect URI %q has a line break", u)
		}
	}
	if c.CertSHA256 != nil && len(c.CertSHA256) != 32 {
		return Invalid("client certificate fingerprint is %d bytes, not a SHA-256's 32", len(c.CertSHA256))
	}
	return nil
}

// Owner checks an owner.
func Owner(o *store.Owner) error {
	if o == nil {
		return Invalid("owner is nil")
	}
	for _, f := range []struct {
		field, v string
		max      int
		required bool
	}{
		{"owner ID", o.ID, MaxID, true},
		{"national ID", o.NationalID, MaxNationalID, true},
		{"owner name", o.Name, MaxText, true},
		{"province", o.Province, MaxText, false},
		{"phone", o.Phone, MaxPhone, false},
		{"email", o.Email, MaxEmail, false},
		{"PIN hash", o.PINHash, MaxPHC, false},
	} {
		if err := String(f.field, f.v, f.max, f.required); err != nil {
			return err
		}
	}
	switch {
	case o.PINFailures < 0:
		return Invalid("PIN failures %d is negative", o.PINFailures)
	case o.TOTPLastStep < 0:
		return Invalid("last TOTP step %d is negative", o.TOTPLastStep)
	case len(o.TOTPSecret) > MaxSecret:
		return Invalid("TOTP secret is %d bytes, more than %d", len(o.TOTPSecret), MaxSecret)
	}
	return nil
}

// Attempt checks ReserveAttempt's arguments.
func Attempt(ownerID string, limit int, lockFor time.Duration) error {
	if err := ID("owner ID", ownerID); err != nil {
		return err
	}
	return lockRule(limit, lockFor)
}

// Miss checks the arguments of a login miss's reservation: a 32-byte
// key (an HMAC-SHA-256) and the lock rule.
func Miss(key []byte, limit int, lockFor time.Duration) error {
	if len(key) != 32 {
		return Invalid("a login miss's key is %d bytes, want 32 (HMAC-SHA-256)", len(key))
	}
	return lockRule(limit, lockFor)
}

// lockRule checks a lock after limit attempts for lockFor.
func lockRule(limit int, lockFor time.Duration) error {
	if limit < 1 || limit > MaxPINFailures {
		return Invalid("lock after %d attempts: want 1 to %d", limit, MaxPINFailures)
	}
	if lockFor <= 0 {
		return Invalid("lock for %v: want a positive duration", lockFor)
	}
	return nil
}

// Credential checks a credential. An empty Status means "active".
func Credential(c *store.Credential) error {
	if c == nil {
		return Invalid("credential is nil")
	}
	for _, f := range []struct {
		field, v string
		max      int
		required bool
	}{
		{"credential ID", c.ID, MaxID, true},
		{"owner ID", c.OwnerID, MaxID, true},
		{"key URI", c.KeyURI, MaxURI, true},
		{"algorithm", c.Algorithm, MaxText, true},
		{"certificate issuer", c.CertIssuer, MaxName, false},
	} {
		if err := String(f.field, f.v, f.max, f.required); err != nil {
			return err
		}
	}
	if len(c.WrappedKey) > MaxWrappedKey {
		return Invalid("wrapped key is %d bytes, more than %d", len(c.WrappedKey), MaxWrappedKey)
	}
	if len(c.CertSerial) > 0 || c.CertIssuer != "" {
		if err := Serial(c.CertSerial); err != nil {
			return err
		}
		if c.CertIssuer == "" {
			return Invalid("certificate serial without an issuer")
		}
	}
	switch c.Status {
	case "", "active", "disabled":
	default:
		return Invalid("credential status %q is not active or disabled", c.Status)
	}
	return nil
}

// TxStatus checks a transaction status.
func TxStatus(s store.TransactionStatus) error {
	switch s {
	case store.TxPending, store.TxApproved, store.TxSigned, store.TxRejected, store.TxExpired, store.TxFailed:
		return nil
	}
	return Invalid("transaction status %q is not pending, approved, signed, rejected, expired or failed", s)
}

// Transaction checks a new transaction. An empty Status means pending.
func Transaction(t *store.Transaction) error {
	if t == nil {
		return Invalid("transaction is nil")
	}
	for _, f := range []struct{ field, v string }{
		{"transaction ID", t.ID}, {"client ID", t.ClientID}, {"client reference", t.ClientRef},
		{"credential ID", t.CredentialID}, {"owner ID", t.OwnerID},
	} {
		if err := ID(f.field, f.v); err != nil {
			return err
		}
	}
	if err := Description(t.Description); err != nil {
		return err
	}
	if err := Documents(t.Documents); err != nil {
		return err
	}
	if t.Status != "" {
		if err := TxStatus(t.Status); err != nil {
			return err
		}
	}
	if err := Result(t.Result, t.Error); err != nil {
		return err
	}
	if t.ExpiresAt.IsZero() {
		return Invalid("transaction expiry is not set")
	}
	return nil
}

// Description checks what the owner is shown: at most MaxDescription
// characters.
func Description(d string) error {
	if err := String("description", d, MaxDescription*utf8.UTFMax, false); err != nil {
		return err
	}
	if n := utf8.RuneCountInString(d); n > MaxDescription {
		return Invalid("description is %d characters, more than %d", n, MaxDescription)
	}
	return nil
}

// Documents checks a transaction's documents: a JSON array of at most
// MaxDocuments bytes.
func Documents(d []byte) error {
	if err := Bytes("documents", d, MaxDocuments); err != nil {
		return err
	}
	if t := bytes.TrimLeft(d, " \t\r\n"); len(t) == 0 || t[0] != '[' || !json.Valid(d) {
		return Invalid("documents are not a JSON array")
	}
	return nil
}

// Result checks a transaction's result (empty, or JSON of at most
// MaxDocuments bytes) and error message.
func Result(result []byte, msg string) error {
	if len(result) > 0 {
		if len(result) > MaxDocuments {
			return Invalid("result is %d bytes, more than %d", len(result), MaxDocuments)
		}
		if !json.Valid(result) {
			return Invalid("result is not JSON")
		}
	}
	return String("error", msg, MaxError, false)
}

// TxUpdate checks UpdateTransaction's arguments.
func TxUpdate(t *store.Transaction, from store.TransactionStatus) error {
	if t == nil {
		return Invalid("transaction is nil")
	}
	if err := ID("transaction ID", t.ID); err != nil {
		return err
	}
	if err := String("lease owner", t.LeaseOwner, MaxID, false); err != nil {
		return err
	}
	if err := TxStatus(from); err != nil {
		return fmt.Errorf("from: %w", err)
	}
	if err := TxStatus(t.Status); err != nil {
		return err
	}
	return Result(t.Result, t.Error)
}

// TxFilter checks a transaction filter and returns the limit to use: zero
// gives TxLimit; a negative limit or one above MaxSigningList is refused.
func TxFilter(f *store.TransactionFilter) (int, error) {
	if f == nil {
		return TxLimit, nil
	}
	for _, s := range []struct{ field, v string }{{"client ID", f.ClientID}, {"owner ID", f.OwnerID}} {
		if err := String(s.field, s.v, MaxID, false); err != nil {
			return 0, err
		}
	}
	if f.Status != "" {
		if err := TxStatus(f.Status); err != nil {
			return 0, err
		}
	}
	switch {
	case f.Limit == 0:
		return TxLimit, nil
	case f.Limit < 0 || f.Limit > MaxSigningList:
		return 0, Invalid("limit %d is not between 1 and %d", f.Limit, MaxSigningList)
	}
	return f.Limit, nil
}

// SADHash checks the hash activation data is kept by: SHA-256, 32 bytes.
func SADHash(h []byte) error {
	if len(h) != SADHashSize {
		return Invalid("SAD hash is %d bytes, not %d (SHA-256)", len(h), SADHashSize)
	}
	return nil
}

// Activation checks activation data: an ID, a client ID of at most
// MaxID bytes (empty allowed), up to MaxHashes hashes of 1 to
// MaxHash bytes each under a dotted hash algorithm OID (required when
// there are hashes), 1 to MaxUses uses and an expiry.
func Activation(a *store.Activation) error {
	if a == nil {
		return Invalid("activation is nil")
	}
	if err := SADHash(a.SADHash); err != nil {
		return err
	}
	if err := ID("activation ID", a.ID); err != nil {
		return err
	}
	if err := String("activation client ID", a.ClientID, MaxID, false); err != nil {
		return err
	}
	if err := ID("credential ID", a.CredentialID); err != nil {
		return err
	}
	if err := String("transaction ID", a.TransactionID, MaxID, false); err != nil {
		return err
	}
	if err := String("receipt ID", a.ReceiptID, MaxID, false); err != nil {
		return err
	}
	if err := OID("hash algorithm", a.HashAlgorithm, len(a.Hashes) > 0); err != nil {
		return err
	}
	if len(a.Hashes) > MaxHashes {
		return Invalid("activation has %d hashes, more than %d", len(a.Hashes), MaxHashes)
	}
	for i, h := range a.Hashes {
		if err := Bytes(fmt.Sprintf("hash %d", i), h, MaxHash); err != nil {
			return err
		}
	}
	if a.Remaining < 1 || a.Remaining > MaxUses {
		return Invalid("activation uses %d not between 1 and %d", a.Remaining, MaxUses)
	}
	if a.ExpiresAt.IsZero() {
		return Invalid("activation expiry is not set")
	}
	return nil
}

// Uses checks how many uses UseActivation takes.
func Uses(n int) error {
	if n < 1 || n > MaxUses {
		return Invalid("uses %d not between 1 and %d", n, MaxUses)
	}
	return nil
}

// OID checks a dotted object identifier ("2.16.840.1.101.3.4.2.1"): at
// most MaxText bytes, digits in at least two arcs, no empty arc.
func OID(field, s string, required bool) error {
	if s == "" && !required {
		return nil
	}
	if err := String(field, s, MaxText, required); err != nil {
		return err
	}
	arcs, digits := 1, 0
	for _, c := range []byte(s) {
		switch {
		case c >= '0' && c <= '9':
			digits++
		case c == '.' && digits > 0:
			arcs, digits = arcs+1, 0
		default:
			return Invalid("%s %q is not a dotted OID", field, s)
		}
	}
	if arcs < 2 || digits == 0 {
		return Invalid("%s %q is not a dotted OID", field, s)
	}
	return nil
}

// TokenHash checks an access token's hash: 1 to MaxTokenHash bytes.
func TokenHash(h []byte) error { return Bytes("token hash", h, MaxTokenHash) }

// Token checks an access token record.
func Token(t *store.Token) error {
	if t == nil {
		return Invalid("token is nil")
	}
	if err := TokenHash(t.Hash); err != nil {
		return err
	}
	switch t.Kind {
	case "client", "owner":
	default:
		return Invalid("token kind %q is not client or owner", t.Kind)
	}
	if err := ID("token subject", t.Subject); err != nil {
		return err
	}
	if err := String("token scope", t.Scope, MaxScope, false); err != nil {
		return err
	}
	if t.ExpiresAt.IsZero() {
		return Invalid("token expiry is not set")
	}
	if t.OwnerID != "" {
		if t.Kind != "client" {
			return Invalid("only a client's token acts for an owner")
		}
		if err := ID("token owner", t.OwnerID); err != nil {
			return err
		}
	}
	if t.CertSHA256 != nil && len(t.CertSHA256) != sha256.Size {
		return Invalid("token certificate hash is %d bytes, not %d (SHA-256)", len(t.CertSHA256), sha256.Size)
	}
	return nil
}

// MaxTraceparent bounds a stored W3C traceparent: 55 characters in its
// version 00, with room for a later version's fields.
const MaxTraceparent = 128

// Webhook checks a delivery for the outbox.
func Webhook(w *store.Webhook) error {
	if w == nil {
		return Invalid("webhook is nil")
	}
	if err := ID("client ID", w.ClientID); err != nil {
		return err
	}
	if err := String("webhook URL", w.URL, MaxURI, true); err != nil {
		return err
	}
	if err := Bytes("webhook body", w.Body, MaxWebhookBody); err != nil {
		return err
	}
	if err := String("idempotency key", w.IdempotencyKey, MaxID, false); err != nil {
		return err
	}
	if w.Attempts < 0 {
		return Invalid("webhook attempts %d is negative", w.Attempts)
	}
	if err := String("webhook trace", w.Trace, MaxTraceparent, false); err != nil {
		return err
	}
	return String("webhook error", w.LastError, MaxError, false)
}

// Claim checks ClaimWebhooks' arguments.
func Claim(lease time.Duration, limit int) error {
	if lease <= 0 {
		return Invalid("lease %v: want a positive duration", lease)
	}
	if limit < 1 || limit > MaxSigningList {
		return Invalid("limit %d is not between 1 and %d", limit, MaxSigningList)
	}
	return nil
}

// MaxRedirectURIs bounds a client's redirect URIs.
const MaxRedirectURIs = 20

// AuthCode checks an authorisation code record.
func AuthCode(c *store.AuthCode) error {
	if c == nil {
		return Invalid("authorisation code is nil")
	}
	if len(c.Hash) != sha256.Size {
		return Invalid("authorisation code hash is %d bytes, not %d (SHA-256)", len(c.Hash), sha256.Size)
	}
	if err := ID("client ID", c.ClientID); err != nil {
		return err
	}
	if len(c.Request) == 0 || len(c.Request) > MaxAuthCodeRequest {
		return Invalid("authorisation code request is %d bytes, not 1 to %d", len(c.Request), MaxAuthCodeRequest)
	}
	if c.ExpiresAt.IsZero() {
		return Invalid("authorisation code expiry is not set")
	}
	return nil
}

// Receipt checks a consent receipt before it is stored.
func Receipt(r *store.Receipt) error {
	if r == nil {
		return Invalid("receipt is nil")
	}
	for _, f := range []struct{ name, v string }{{"receipt ID", r.ID}, {"owner ID", r.OwnerID}, {"client ID", r.ClientID}} {
		if err := ID(f.name, f.v); err != nil {
			return err
		}
	}
	if err := String("transaction ID", r.TransactionID, MaxID, false); err != nil {
		return err
	}
	if err := String("activation ID", r.ActivationID, MaxID, false); err != nil {
		return err
	}
	if len(r.CMS) == 0 || len(r.CMS) > MaxReceipt {
		return Invalid("receipt is %d bytes, not 1 to %d", len(r.CMS), MaxReceipt)
	}
	return nil
}

// MaxReceipt bounds a signed receipt: a thousand documents with their
// names and hashes, the certificates and the signature.
const MaxReceipt = 1 << 20

// MaxAuthCodeRequest bounds an authorisation code's request: a thousand
// SHA-512 hashes in base64 and the rest.
const MaxAuthCodeRequest = 256 << 10

// Bounds of passkeys (store.Passkey).
const (
	MaxPasskeyID        = 1023 // a credential ID (WebAuthn section 5.8.3)
	MaxPasskeyPublicKey = 2048 // a COSE_Key: an RSA-4096 key with room to spare
	MaxPasskeyName      = 64   // characters of the owner's name for one
)

// Passkey checks an owner's WebAuthn credential.
func Passkey(p *store.Passkey) error {
	if p == nil {
		return Invalid("passkey is nil")
	}
	if len(p.ID) == 0 || len(p.ID) > MaxPasskeyID {
		return Invalid("passkey credential ID is %d bytes, not 1 to %d", len(p.ID), MaxPasskeyID)
	}
	if err := ID("owner ID", p.OwnerID); err != nil {
		return err
	}
	if len(p.PublicKey) == 0 || len(p.PublicKey) > MaxPasskeyPublicKey {
		return Invalid("passkey public key is %d bytes, not 1 to %d", len(p.PublicKey), MaxPasskeyPublicKey)
	}
	if len(p.AAGUID) != 16 {
		return Invalid("passkey AAGUID is %d bytes, not 16", len(p.AAGUID))
	}
	for _, tr := range p.Transports {
		if tr == "" || len(tr) > 32 || strings.ContainsAny(tr, ", \t\r\n") {
			return Invalid("passkey transport %q is not a short word", tr)
		}
	}
	if len(p.Transports) > 8 {
		return Invalid("passkey has %d transports, more than 8", len(p.Transports))
	}
	if err := String("passkey name", p.Name, MaxText, true); err != nil {
		return err
	}
	if utf8.RuneCountInString(p.Name) > MaxPasskeyName {
		return Invalid("passkey name has more than %d characters", MaxPasskeyName)
	}
	return nil
}

// PasskeyChallenge checks a WebAuthn challenge the service issued.
func PasskeyChallenge(c *store.PasskeyChallenge) error {
	if c == nil {
		return Invalid("passkey challenge is nil")
	}
	if len(c.Nonce) != 32 {
		return Invalid("passkey challenge nonce is %d bytes, not 32", len(c.Nonce))
	}
	if c.OwnerID != "" {
		if err := ID("owner ID", c.OwnerID); err != nil {
			return err
		}
	}
	if err := String("passkey challenge purpose", c.Purpose, MaxText, true); err != nil {
		return err
	}
	if len(c.Binding) != sha256.Size {
		return Invalid("passkey challenge binding is %d bytes, not %d (SHA-256)", len(c.Binding), sha256.Size)
	}
	if c.ExpiresAt.IsZero() {
		return Invalid("passkey challenge expiry is not set")
	}
	return nil
}

// EnrolmentRecord checks an enrolment record's fields.
func EnrolmentRecord(r *store.EnrolmentRecord) error {
	if r == nil {
		return Invalid("enrolment record is nil")
	}
	if err := ID("enrolment record credential", r.CredentialID); err != nil {
		return err
	}
	switch r.Channel {
	case store.ChannelDesk, store.ChannelEvent, store.ChannelHousehold, store.ChannelOnline, store.ChannelOperator:
	default:
		return Invalid("enrolment channel %q is not desk, event, household, online or operator", r.Channel)
	}
	for _, f := range []struct {
		name, v  string
		required bool
	}{{"staff ID", r.StaffID, false}, {"province", r.Province, true}, {"ward", r.Ward, false},
		{"evidence kind", r.EvidenceKind, false}, {"evidence reference", r.EvidenceRef, false}} {
		if err := String("enrolment "+f.name, f.v, 128, f.required); err != nil {
			return err
		}
	}
	if r.ConsentAt.IsZero() {
		return Invalid("enrolment record without the citizen's consent time")
	}
	return nil
}

// Bounds of a usage query.
const (
	// UsageLimit is a usage query's row limit when none is given;
	// MaxUsageList the most it may ask for.
	UsageLimit   = 1000
	MaxUsageList = 100000
	// MaxUsageDays is the longest period a usage query may cover, in
	// days (a leap year and its neighbours' first days).
	MaxUsageDays = 366
)

// UsageFilter checks a usage query and returns its row limit.
func UsageFilter(f *store.UsageFilter) (int, error) {
	if f == nil {
		return 0, Invalid("usage filter is nil")
	}
	for _, s := range []struct{ field, v string }{{"client ID", f.ClientID}, {"owner ID", f.OwnerID}} {
		if err := String(s.field, s.v, MaxID, false); err != nil {
			return 0, err
		}
	}
	switch {
	case f.From.IsZero() || f.To.IsZero():
		return 0, Invalid("a usage period needs both a first and a last day")
	case f.To.Before(f.From):
		return 0, Invalid("the usage period ends (%s) before it starts (%s)", f.To.Format(time.DateOnly), f.From.Format(time.DateOnly))
	case f.To.Sub(f.From) >= MaxUsageDays*24*time.Hour:
		return 0, Invalid("the usage period %s to %s is longer than %d days", f.From.Format(time.DateOnly), f.To.Format(time.DateOnly), MaxUsageDays)
	}
	switch {
	case f.Limit == 0:
		return UsageLimit, nil
	case f.Limit < 0 || f.Limit > MaxUsageList:
		return 0, Invalid("limit %d is not between 1 and %d", f.Limit, MaxUsageList)
	}
	return f.Limit, nil
}
