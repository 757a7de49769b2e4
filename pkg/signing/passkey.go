package signing

import (
	"bytes"
	"context"
	"crypto"
	"crypto/sha256"
	"encoding/base64"
	"encoding/binary"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/url"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/go-webauthn/webauthn/protocol"
	"github.com/go-webauthn/webauthn/webauthn"

	"github.com/kyso-pki/kyso/pkg/store"
)

// Passkeys (WebAuthn, W3C Web Authentication Level 3) let an owner approve
// with one gesture what PIN and one-time code approve: a passkey whose
// authenticator verifies its user (a device PIN, a fingerprint, a face:
// the UV flag) is something the owner has and something they know or are,
// so a passkey-only approval is SCAL2 (CSC API v2; DESIGN.md, "Factor
// attempts"). An assertion without UV is refused. PIN and code stay.
//
// Every challenge is issued by this service for one purpose and is spent
// once: 32 random bytes (the nonce, kept in the database until answered
// or expired) followed by the SHA-256 of what it approves (the binding:
// the transaction's ID, hash algorithm and hashes; or the oauth2code
// request in full). The authenticator signs the challenge, so an
// assertion made for one request cannot approve another, and the nonce is
// taken from the database once (store.TakePasskeyChallenge), so a
// captured assertion cannot be replayed, on any replica.

// Factors are what an owner proves an approval or a login with: the PIN
// and a one-time code, or a passkey's answer to a challenge this service
// issued for exactly this approval.
type Factors struct {
	PIN, OTP string
	// Passkey is the browser's PublicKeyCredential answering the
	// challenge, as JSON (WebAuthn section 5.1,
	// PublicKeyCredential.toJSON). When set, PIN and OTP are not read.
	Passkey []byte
}

// PINAndCode are the owner's PIN and one-time code as Factors.
func PINAndCode(pin, otp string) *Factors { return &Factors{PIN: pin, OTP: otp} }

// kind names the factors in the audit log and consent receipts.
func (f *Factors) kind() string {
	if f != nil && len(f.Passkey) > 0 {
		return "passkey"
	}
	return "pin+otp"
}

// Bounds of passkeys.
const (
	// MaxPasskeyResponse bounds a browser's WebAuthn answer (JSON).
	MaxPasskeyResponse = 16 << 10
	// PasskeyChallengeLifetime is how long a challenge may be answered.
	PasskeyChallengeLifetime = 5 * time.Minute
	// MaxPasskeys is how many passkeys an owner may register.
	MaxPasskeys = 10
	// MaxPasskeyName bounds the owner's name for a passkey, in
	// characters.
	MaxPasskeyName = 64
)

// What a challenge may be answered for (store.PasskeyChallenge.Purpose).
const (
	purposeLogin    = "login"
	purposeRegister = "register"
	purposeApprove  = "approve"
)

// Passkey verdicts in the audit log, beside factorRight, factorWrong and
// factorReplayed (a challenge answered already, or never issued).
const (
	passkeyUnbound = "unbound"   // the challenge was issued for something else
	passkeyUnknown = "unknown"   // not a passkey of this owner
	passkeyNoUV    = "no_uv"     // the authenticator did not verify its user
	passkeyCounter = "counter"   // the signature counter went backwards: a clone?
	passkeyBad     = "malformed" // not a WebAuthn answer
)

// passkeyUse is what an assertion must have been made for: the purpose,
// the owner (empty for a login, where the assertion says whose it is) and
// the binding.
type passkeyUse struct {
	purpose, ownerID string
	binding          [32]byte
}

// binding hashes a purpose and its parts, each length-prefixed, so no two
// lists of parts hash alike.
func binding(purpose string, parts ...[]byte) [32]byte {
	h := sha256.New()
	io.WriteString(h, "kyso passkey binding v1\x00"+purpose)
	for _, p := range parts {
		var n [8]byte
		binary.BigEndian.PutUint64(n[:], uint64(len(p)))
		h.Write(n[:])
		h.Write(p)
	}
	var out [32]byte
	h.Sum(out[:0])
	return out
}

func txUse(ownerID, txID string, alg crypto.Hash, hashes [][]byte) passkeyUse {
	parts := [][]byte{[]byte("transaction"), []byte(txID), []byte(hashOID(alg))}
	return passkeyUse{purposeApprove, ownerID, binding(purposeApprove, append(parts, hashes...)...)}
}

func oauthUse(ownerID string, r *OAuthRequest) passkeyUse {
	parts := [][]byte{[]byte("oauth2code"), []byte(r.ClientID), []byte(r.RedirectURI), []byte(r.State), []byte(r.CodeChallenge),
		[]byte(r.Scope), []byte(r.CredentialID), []byte(fmt.Sprint(r.NumSignatures)), []byte(r.Description)}
	if r.Scope == ScopeCredential {
		parts = append(parts, []byte(hashOID(r.HashAlgorithm)))
		parts = append(parts, r.Hashes...)
	}
	return passkeyUse{purposeApprove, ownerID, binding(purposeApprove, parts...)}
}

func loginUse() passkeyUse { return passkeyUse{purpose: purposeLogin, binding: binding(purposeLogin)} }

func registerUse(ownerID string) passkeyUse {
	return passkeyUse{purposeRegister, ownerID, binding(purposeRegister, []byte(ownerID))}
}

// newRelyingParty is the WebAuthn relying party of Config.PasskeyOrigin;
// nil when it is empty (passkeys off).
func newRelyingParty(origin string) (*webauthn.WebAuthn, error) {
	if origin == "" {
		return nil, nil
	}
	u, err := url.Parse(origin)
	if err != nil || (u.Scheme != "https" && !(u.Scheme == "http" && u.Hostname() == "localhost")) || u.Host == "" ||
		(u.Path != "" && u.Path != "/") || u.RawQuery != "" || u.User != nil {
		return nil, fmt.Errorf("signing: Config.PasskeyOrigin %q is not an https origin (scheme, host and port; http only for localhost)", origin)
	}
	return webauthn.New(&webauthn.Config{RPID: u.Hostname(), RPDisplayName: "kyso", RPOrigins: []string{u.Scheme + "://" + u.Host}})
}

// PasskeysOn reports whether the service takes passkeys
// (Config.PasskeyOrigin is set).
func (s *Service) PasskeysOn() bool { return s.rp != nil }

func (s *Service) passkeysOff() error {
	return fail(KindInvalid, "passkeys are not configured on this service (Config.PasskeyOrigin)")
}

// passkeyUser is an owner as the WebAuthn library sees one.
type passkeyUser struct {
	o     *store.Owner
	creds []webauthn.Credential
}

func (u *passkeyUser) WebAuthnID() []byte                         { return []byte(u.o.ID) }
func (u *passkeyUser) WebAuthnName() string                       { return u.o.NationalID }
func (u *passkeyUser) WebAuthnDisplayName() string                { return u.o.Name }
func (u *passkeyUser) WebAuthnCredentials() []webauthn.Credential { return u.creds }

func (s *Service) passkeyUser(ctx context.Context, o *store.Owner) (*passkeyUser, []*store.Passkey, error) {
	keys, err := s.st.ListPasskeys(ctx, o.ID)
	if err != nil {
		return nil, nil, err
	}
	u := &passkeyUser{o: o}
	for _, k := range keys {
		c := webauthn.Credential{ID: k.ID, PublicKey: k.PublicKey, Flags: webauthn.NewCredentialFlags(protocol.AuthenticatorFlags(k.Flags)),
			Authenticator: webauthn.Authenticator{AAGUID: k.AAGUID, SignCount: k.SignCount}}
		for _, t := range k.Transports {
			c.Transport = append(c.Transport, protocol.AuthenticatorTransport(t))
		}
		u.creds = append(u.creds, c)
	}
	return u, keys, nil
}

// issueChallenge records a challenge for use and returns it: the nonce
// followed by the binding.
func (s *Service) issueChallenge(ctx context.Context, use passkeyUse) ([]byte, error) {
	nonce := make([]byte, 32)
	if _, err := io.ReadFull(s.cfg.Rand, nonce); err != nil {
		return nil, err
	}
	now := s.now()
	if err := s.st.PutPasskeyChallenge(ctx, &store.PasskeyChallenge{Nonce: nonce, OwnerID: use.ownerID, Purpose: use.purpose,
		Binding: use.binding[:], ExpiresAt: now.Add(PasskeyChallengeLifetime), CreatedAt: now}); err != nil {
		return nil, err
	}
	return append(nonce, use.binding[:]...), nil
}

// requestOptions issues a challenge for use and returns the
// PublicKeyCredentialRequestOptions (JSON, WebAuthn section 5.5, as
// PublicKeyCredential.parseRequestOptionsFromJSON reads it) naming the
// owner's passkeys (none for a login: the authenticator offers its
// discoverable ones). User verification is required.
func (s *Service) requestOptions(ctx context.Context, use passkeyUse, keys []*store.Passkey) ([]byte, error) {
	challenge, err := s.issueChallenge(ctx, use)
	if err != nil {
		return nil, err
	}
	opts := protocol.PublicKeyCredentialRequestOptions{Challenge: challenge, Timeout: int(PasskeyChallengeLifetime / time.Millisecond),
		RelyingPartyID: s.rp.Config.RPID, UserVerification: protocol.VerificationRequired}
	for _, k := range keys {
		d := protocol.CredentialDescriptor{Type: protocol.PublicKeyCredentialType, CredentialID: k.ID}
		for _, t := range k.Transports {
			d.Transport = append(d.Transport, protocol.AuthenticatorTransport(t))
		}
		opts.AllowedCredentials = append(opts.AllowedCredentials, d)
	}
	return json.Marshal(&opts)
}

// ownerPasskeyOptions are the request options for the owner to approve
// use; ErrNotFound-kind when the owner has no passkey.
func (s *Service) ownerPasskeyOptions(ctx context.Context, o *store.Owner, use passkeyUse) ([]byte, error) {
	keys, err := s.st.ListPasskeys(ctx, o.ID)
	if err != nil {
		return nil, err
	}
	if len(keys) == 0 {
		return nil, fail(KindNotFound, "the owner has no passkey")
	}
	return s.requestOptions(ctx, use, keys)
}

// TransactionPasskeyOptions issues a passkey challenge bound to the
// owner's pending transaction txID — its ID, hash algorithm and hashes —
// and returns the browser's request options (JSON). Another owner's
// transaction is not found, and so is an owner without a passkey.
func (s *Service) TransactionPasskeyOptions(ctx context.Context, ownerID, txID string) ([]byte, error) {
	if s.rp == nil {
		return nil, s.passkeysOff()
	}
	t, x, o, err := s.ownerDecoded(ctx, ownerID, txID)
	if err != nil {
		return nil, err
	}
	return s.ownerPasskeyOptions(ctx, o, txUse(ownerID, t.ID, x.HashAlgorithm, x.hashes()))
}

// OAuthPasskeyOptions issues a passkey challenge bound to the whole
// oauth2code request req (client, redirect URI, state, PKCE challenge,
// scope, credential, hashes, description) for the owner's consent.
func (s *Service) OAuthPasskeyOptions(ctx context.Context, ownerID string, req *OAuthRequest) ([]byte, error) {
	if s.rp == nil {
		return nil, s.passkeysOff()
	}
	o, err := s.st.GetOwner(ctx, ownerID)
	if err != nil {
		return nil, err
	}
	return s.ownerPasskeyOptions(ctx, o, oauthUse(ownerID, req))
}

// LoginPasskeyOptions issues a challenge for a login with a discoverable
// passkey: the authenticator offers the passkeys it holds for this
// service, and the answer says whose it is (PasskeyLogin).
func (s *Service) LoginPasskeyOptions(ctx context.Context) ([]byte, error) {
	if s.rp == nil {
		return nil, s.passkeysOff()
	}
	return s.requestOptions(ctx, loginUse(), nil)
}

// PasskeyLogin checks a passkey's answer to a LoginPasskeyOptions
// challenge — an attempt at the owner's factors, counted like any other —
// and returns an access token for the owner's pages, as OwnerLogin does.
// An answer naming no enrolled owner, or a passkey the owner does not
// have, gets the same answer as wrong factors.
func (s *Service) PasskeyLogin(ctx context.Context, response []byte) (string, time.Duration, error) {
	if s.rp == nil {
		return "", 0, s.passkeysOff()
	}
	denied := fail(KindDenied, "this passkey is not one of an enrolled owner's, or its answer is wrong")
	if len(response) > MaxPasskeyResponse {
		return "", 0, fail(KindInvalid, "the passkey's answer is over %d bytes", MaxPasskeyResponse)
	}
	parsed, err := protocol.ParseCredentialRequestResponseBytes(response)
	if err != nil || len(parsed.Response.UserHandle) == 0 || !utf8.Valid(parsed.Response.UserHandle) {
		return "", 0, denied
	}
	o, err := s.st.GetOwner(ctx, string(parsed.Response.UserHandle))
	if errors.Is(err, store.ErrNotFound) || errors.Is(err, store.ErrInvalid) {
		return "", 0, denied
	}
	if err != nil {
		return "", 0, err
	}
	if _, err := s.checkFactors(ctx, o, &Factors{Passkey: response}, ptr(loginUse())); err != nil {
		return "", 0, err
	}
	return s.issueToken(ctx, &store.Token{Kind: "owner", Subject: o.ID, Scope: "owner"})
}

func ptr[T any](v T) *T { return &v }

// passkeyAttempt evaluates a passkey's answer for use, within an attempt
// reserved by checkFactors. It returns the verdict and the passkey
// answering (when it is the owner's); err is for the store's failures
// only. The order: the answer parses; its challenge was issued for use
// (checked before the challenge is spent, so an answer posted for another
// request does not burn the challenge of the one it was made for); the
// challenge is taken from the database (once); the passkey is the
// owner's; the signature, origin and relying party check out (the
// library); the authenticator verified its user; the counter moved up.
func (s *Service) passkeyAttempt(ctx context.Context, o *store.Owner, raw []byte, use passkeyUse, now time.Time) (string, *store.Passkey, error) {
	if len(raw) > MaxPasskeyResponse {
		return passkeyBad, nil, nil
	}
	parsed, err := protocol.ParseCredentialRequestResponseBytes(raw)
	if err != nil {
		return passkeyBad, nil, nil
	}
	challenge, err := base64.RawURLEncoding.DecodeString(strings.TrimRight(parsed.Response.CollectedClientData.Challenge, "="))
	if err != nil || len(challenge) != 64 {
		return passkeyUnbound, nil, nil
	}
	if !bytes.Equal(challenge[32:], use.binding[:]) {
		return passkeyUnbound, nil, nil
	}
	c, err := s.st.TakePasskeyChallenge(ctx, challenge[:32], now)
	if errors.Is(err, store.ErrNotFound) {
		return factorReplayed, nil, nil
	}
	if err != nil {
		return "", nil, err
	}
	if c.Purpose != use.purpose || c.OwnerID != use.ownerID || !bytes.Equal(c.Binding, use.binding[:]) {
		return passkeyUnbound, nil, nil
	}
	user, keys, err := s.passkeyUser(ctx, o)
	if err != nil {
		return "", nil, err
	}
	var key *store.Passkey
	for _, k := range keys {
		if bytes.Equal(k.ID, parsed.RawID) {
			key = k
		}
	}
	if key == nil {
		return passkeyUnknown, nil, nil
	}
	session := webauthn.SessionData{Challenge: base64.RawURLEncoding.EncodeToString(challenge), RelyingPartyID: s.rp.Config.RPID,
		UserID: user.WebAuthnID(), UserVerification: protocol.VerificationPreferred}
	if _, err := s.rp.ValidateLogin(user, session, parsed); err != nil {
		s.log.Info("signing: a passkey's answer did not verify", "owner", o.ID, "err", err)
		return factorWrong, key, nil
	}
	if !parsed.Response.AuthenticatorData.Flags.HasUserVerified() {
		return passkeyNoUV, key, nil
	}
	err = s.st.UsePasskey(ctx, o.ID, key.ID, parsed.Response.AuthenticatorData.Counter, now)
	switch {
	case errors.Is(err, store.ErrReplay):
		return passkeyCounter, key, nil
	case errors.Is(err, store.ErrNotFound): // removed meanwhile
		return passkeyUnknown, key, nil
	case err != nil:
		return "", nil, err
	}
	return factorRight, key, nil
}

// passkeyID is how the audit log and the owner's pages name a passkey:
// the first 8 bytes of the SHA-256 of its credential ID, in hex.
func passkeyID(id []byte) string {
	h := sha256.Sum256(id)
	return hex.EncodeToString(h[:8])
}

// ErrNoUserVerification is in the chain of the answer (KindDenied) to a
// passkey whose authenticator did not verify its user: a front end tells
// the owner so, and offers PIN and code.
var ErrNoUserVerification = errors.New("the passkey's authenticator did not verify its user (WebAuthn UV flag)")

// noUVError is the answer to a passkey whose authenticator did not verify
// its user: the owner can act on it.
func noUVError() *Error {
	return &Error{Kind: KindDenied, Err: ErrNoUserVerification,
		Description: "only a passkey unlocked by a PIN, a fingerprint or a face counts as both factors; use the PIN and one-time code"}
}

// PasskeyInfo is one of an owner's passkeys, as the owner's pages list it.
type PasskeyInfo struct {
	// ID names it (passkeyID: a fingerprint of the credential ID);
	// CredentialID is the credential ID itself.
	ID           string
	CredentialID []byte
	Name         string
	CreatedAt    time.Time
	LastUsedAt   time.Time
	// Synced: the authenticator may copy it to the owner's other devices
	// (WebAuthn's backup-eligible flag).
	Synced bool
}

// Passkeys lists the owner's passkeys, oldest first.
func (s *Service) Passkeys(ctx context.Context, ownerID string) ([]PasskeyInfo, error) {
	keys, err := s.st.ListPasskeys(ctx, ownerID)
	if err != nil {
		return nil, err
	}
	out := make([]PasskeyInfo, 0, len(keys))
	for _, k := range keys {
		out = append(out, PasskeyInfo{ID: passkeyID(k.ID), CredentialID: k.ID, Name: k.Name, CreatedAt: k.CreatedAt, LastUsedAt: k.LastUsedAt,
			Synced: protocol.AuthenticatorFlags(k.Flags).HasBackupEligible()})
	}
	return out, nil
}

// BeginPasskeyRegistration is the step-up before the owner adds a
// passkey: their PIN and a fresh one-time code (one attempt at the
// factors, counted like any other; a passkey does not do: a new factor is
// added with the factors the owner had). It issues a challenge for this
// owner's registration only and returns the browser's creation options
// (JSON, WebAuthn section 5.4): a discoverable credential, user
// verification required, no attestation asked, the owner's passkeys
// excluded.
func (s *Service) BeginPasskeyRegistration(ctx context.Context, ownerID string, f *Factors) ([]byte, error) {
	if s.rp == nil {
		return nil, s.passkeysOff()
	}
	if f == nil || len(f.Passkey) > 0 || f.PIN == "" || f.OTP == "" {
		return nil, fail(KindInvalid, "adding a passkey takes the PIN and a fresh one-time code")
	}
	o, err := s.st.GetOwner(ctx, ownerID)
	if err != nil {
		return nil, err
	}
	if _, err := s.checkFactors(ctx, o, f, nil); err != nil {
		return nil, err
	}
	user, keys, err := s.passkeyUser(ctx, o)
	if err != nil {
		return nil, err
	}
	if len(keys) >= MaxPasskeys {
		return nil, fail(KindConflict, "the owner has %d passkeys already, the most one may have", MaxPasskeys)
	}
	challenge, err := s.issueChallenge(ctx, registerUse(ownerID))
	if err != nil {
		return nil, err
	}
	var exclude []protocol.CredentialDescriptor
	for _, c := range user.creds {
		exclude = append(exclude, c.Descriptor())
	}
	creation, _, err := s.rp.BeginRegistration(user,
		webauthn.WithAuthenticatorSelection(protocol.AuthenticatorSelection{ResidentKey: protocol.ResidentKeyRequirementRequired,
			RequireResidentKey: protocol.ResidentKeyRequired(), UserVerification: protocol.VerificationRequired}),
		webauthn.WithExclusions(exclude),
		webauthn.WithConveyancePreference(protocol.PreferNoAttestation))
	if err != nil {
		return nil, fmt.Errorf("signing: passkey creation options: %w", err)
	}
	creation.Response.Challenge = challenge
	creation.Response.Timeout = int(PasskeyChallengeLifetime / time.Millisecond)
	return json.Marshal(&creation.Response)
}

// FinishPasskeyRegistration checks the browser's answer to a
// BeginPasskeyRegistration challenge — issued to this owner for a
// registration, within its lifetime, answered once — and records the new
// passkey under name. The authenticator must have verified its user. The
// audit event passkey.register records the outcome either way.
func (s *Service) FinishPasskeyRegistration(ctx context.Context, ownerID, name string, response []byte) (*PasskeyInfo, error) {
	if s.rp == nil {
		return nil, s.passkeysOff()
	}
	name = strings.TrimSpace(name)
	if name == "" || utf8.RuneCountInString(name) > MaxPasskeyName || !utf8.ValidString(name) {
		return nil, fail(KindInvalid, "a passkey's name has 1 to %d characters", MaxPasskeyName)
	}
	if err := shown("passkey name", name); err != nil {
		return nil, err
	}
	o, err := s.st.GetOwner(ctx, ownerID)
	if err != nil {
		return nil, err
	}
	actor := "owner:" + ownerID
	refuse := func(reason string, e *Error) (*PasskeyInfo, error) {
		if err := s.audit(ctx, actor, "passkey.register", o.NationalID, "error", map[string]any{"reason": reason}); err != nil {
			return nil, err
		}
		return nil, e
	}
	if len(response) > MaxPasskeyResponse {
		return refuse(passkeyBad, fail(KindInvalid, "the passkey's answer is over %d bytes", MaxPasskeyResponse))
	}
	parsed, err := protocol.ParseCredentialCreationResponseBytes(response)
	if err != nil {
		return refuse(passkeyBad, fail(KindInvalid, "not a WebAuthn registration"))
	}
	use := registerUse(ownerID)
	challenge, err := base64.RawURLEncoding.DecodeString(strings.TrimRight(parsed.Response.CollectedClientData.Challenge, "="))
	if err != nil || len(challenge) != 64 || !bytes.Equal(challenge[32:], use.binding[:]) {
		return refuse(passkeyUnbound, fail(KindDenied, "the registration answers a challenge not issued for it: add the passkey again with the PIN and code"))
	}
	c, err := s.st.TakePasskeyChallenge(ctx, challenge[:32], s.now())
	if errors.Is(err, store.ErrNotFound) {
		return refuse(factorReplayed, fail(KindDenied, "the registration's challenge was used or has expired: add the passkey again with the PIN and code"))
	}
	if err != nil {
		return nil, err
	}
	if c.Purpose != use.purpose || c.OwnerID != ownerID || !bytes.Equal(c.Binding, use.binding[:]) {
		return refuse(passkeyUnbound, fail(KindDenied, "the registration answers a challenge not issued for it"))
	}
	user, _, err := s.passkeyUser(ctx, o)
	if err != nil {
		return nil, err
	}
	session := webauthn.SessionData{Challenge: base64.RawURLEncoding.EncodeToString(challenge), RelyingPartyID: s.rp.Config.RPID,
		UserID: user.WebAuthnID(), UserVerification: protocol.VerificationPreferred, CredParams: webauthn.CredentialParametersDefault()}
	cred, err := s.rp.CreateCredential(user, session, parsed)
	if err != nil {
		s.log.Info("signing: a passkey registration did not verify", "owner", ownerID, "err", err)
		return refuse(factorWrong, fail(KindDenied, "the passkey's registration did not verify"))
	}
	if !cred.Flags.UserVerified {
		return refuse(passkeyNoUV, noUVError())
	}
	k := &store.Passkey{ID: cred.ID, OwnerID: ownerID, PublicKey: cred.PublicKey, SignCount: cred.Authenticator.SignCount,
		AAGUID: cred.Authenticator.AAGUID, Flags: byte(cred.Flags.ProtocolValue()), Name: name, CreatedAt: s.now()}
	if len(k.AAGUID) == 0 {
		k.AAGUID = make([]byte, 16)
	}
	for _, t := range cred.Transport {
		if t != "" && len(k.Transports) < 8 && !strings.ContainsAny(string(t), ", \t\r\n") && len(t) <= 32 {
			k.Transports = append(k.Transports, string(t))
		}
	}
	if err := s.st.PutPasskey(ctx, k); errors.Is(err, store.ErrExists) {
		return refuse("registered", fail(KindConflict, "this passkey is registered already"))
	} else if err != nil {
		return nil, err
	}
	if err := s.audit(ctx, actor, "passkey.register", o.NationalID, "ok", map[string]any{"passkey_id": passkeyID(k.ID),
		"aaguid": hex.EncodeToString(k.AAGUID), "synced": protocol.AuthenticatorFlags(k.Flags).HasBackupEligible()}); err != nil {
		return nil, err
	}
	return &PasskeyInfo{ID: passkeyID(k.ID), CredentialID: k.ID, Name: k.Name, CreatedAt: k.CreatedAt}, nil
}

// RemovePasskey removes the owner's passkey id (PasskeyInfo.ID); another
// owner's is not found. The audit event passkey.remove records it.
func (s *Service) RemovePasskey(ctx context.Context, ownerID, id string) error {
	keys, err := s.st.ListPasskeys(ctx, ownerID)
	if err != nil {
		return err
	}
	for _, k := range keys {
		if passkeyID(k.ID) == id {
			if err := s.st.DeletePasskey(ctx, ownerID, k.ID); err != nil {
				return err
			}
			return s.audit(ctx, "owner:"+ownerID, "passkey.remove", "owner:"+ownerID, "ok", map[string]any{"passkey_id": id})
		}
	}
	return fail(KindNotFound, "no such passkey of yours")
}
