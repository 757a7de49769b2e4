package signing

import (
	"bytes"
	"context"
	"crypto"
	"crypto/ecdsa"
	"crypto/rsa"
	"crypto/sha256"
	"crypto/x509"
	"encoding/base64"
	"errors"
	"fmt"
	"io"
	"path"
	"reflect"
	"sync"
	"time"

	"go.opentelemetry.io/otel/attribute"

	"github.com/kyso-pki/kyso/hsm"
	"github.com/kyso-pki/kyso/internal/crashpoint"
	"github.com/kyso-pki/kyso/internal/tracing"
	"github.com/kyso-pki/kyso/pkg/algid"
	"github.com/kyso-pki/kyso/pkg/metrics"
	"github.com/kyso-pki/kyso/pkg/signercheck"
	"github.com/kyso-pki/kyso/pkg/store"
)

// MaxHashes bounds the hashes of one authorisation or transaction.
const MaxHashes = 1000

// hashOID returns the dotted OID of h (RFC 5754 section 2), as the
// records of activation data and transactions keep it, or "" when h is
// not one kyso signs with (SHA-256, SHA-384, SHA-512).
func hashOID(h crypto.Hash) string {
	if !algid.SHA2(h) {
		return ""
	}
	return algid.HashOID(h).String()
}

// hashByOID is the inverse of hashOID.
func hashByOID(oid string) (crypto.Hash, bool) {
	h := algid.Hash(algid.Dotted(oid))
	return h, algid.SHA2(h)
}

// signerOpts maps a signature algorithm OID, dotted (with the hash), to
// the options for crypto.Signer, checking it fits the key: PKCS#1 v1.5 or
// RSASSA-PSS (salt as long as the hash, RFC 8017 section 9.1) for RSA
// keys, ECDSA for EC keys; an OID that names a hash must name the hash of
// the digests.
func signerOpts(oid string, h crypto.Hash, pub crypto.PublicKey) (crypto.SignerOpts, error) {
	_, isRSA := pub.(*rsa.PublicKey)
	_, isEC := pub.(*ecdsa.PublicKey)
	scheme, named := algid.Signature(algid.Dotted(oid))
	if named != 0 && named != h {
		return nil, fail(KindInvalid, "signAlgo %s names %v but the hashes are %v", oid, named, h)
	}
	switch scheme {
	case algid.RSAPKCS1v15:
		if !isRSA {
			return nil, fail(KindInvalid, "signAlgo %s needs an RSA key", oid)
		}
		return h, nil
	case algid.RSAPSS:
		if !isRSA {
			return nil, fail(KindInvalid, "signAlgo %s needs an RSA key", oid)
		}
		return &rsa.PSSOptions{SaltLength: h.Size(), Hash: h}, nil
	case algid.ECDSA:
		if !isEC {
			return nil, fail(KindInvalid, "signAlgo %s needs an EC key", oid)
		}
		return h, nil
	}
	return nil, fail(KindInvalid, "signAlgo %q is not supported", oid)
}

// DefaultSignAlgo is the algorithm kyso uses for a key when the caller
// names none, as a dotted OID: RSASSA-PSS for RSA (Circular 15/2025),
// ECDSA with h (SHA-256 unless h is SHA-384 or SHA-512) for EC.
func DefaultSignAlgo(pub crypto.PublicKey, h crypto.Hash) string {
	if _, ok := pub.(*rsa.PublicKey); ok {
		return algid.RSASSAPSS.String()
	}
	if h != crypto.SHA384 && h != crypto.SHA512 {
		h = crypto.SHA256
	}
	return algid.SignatureOID(algid.ECDSA, h).String()
}

// SignHashRequest asks for signatures over hashes with a credential, under
// activation data (CSC signatures/signHash).
type SignHashRequest struct {
	// ClientID is the relying party that asks: the SAD must have been
	// handed to it (AuthorizeRequest.ClientID). Empty only for a caller in
	// the same process that acts for no client.
	ClientID     string
	CredentialID string
	// SAD is the activation data an authorisation or approval returned.
	SAD string
	// Hashes are the digests to sign, in the order authorised.
	Hashes [][]byte
	// HashAlgorithm is the digests' algorithm.
	HashAlgorithm crypto.Hash
	// SignAlgo is the signature algorithm OID; empty means DefaultSignAlgo.
	SignAlgo string
	// Actor is who asks (a client), for the audit trail.
	Actor string
}

// SignHash signs hashes under activation data; see signHashes.
func (s *Service) SignHash(ctx context.Context, req *SignHashRequest) ([][]byte, error) {
	return s.signHashes(ctx, req)
}

// sadHash is how activation data is looked up: the SAD itself is never
// stored.
func sadHash(sad string) []byte {
	h := sha256.Sum256([]byte(sad))
	return h[:]
}

// signHashes signs hashes with the key unlock hands out for them. Their
// audit events (signature.create, outcome intent, one per hash) are
// written with the spending of the activation data, in one durable write
// before the key signs; a signature that then fails adds an error event.
func (s *Service) signHashes(ctx context.Context, req *SignHashRequest) ([][]byte, error) {
	u, opts, err := s.unlock(ctx, req, auditIntent)
	if err != nil {
		return nil, err
	}
	crashpoint.Reach(crashpoint.Spent)
	if ms, ok := u.signer.(hsm.MultiSigner); ok {
		return u.signAll(ms, req.Hashes, opts)
	}
	sigs := make([][]byte, len(req.Hashes))
	for i, d := range req.Hashes {
		if sigs[i], err = u.Sign(s.cfg.Rand, d, opts); err != nil {
			return nil, err
		}
	}
	return sigs, nil
}

// signAll signs every digest in one operation on the device (a wrapped
// key is unwrapped once) and audits the signatures, one event each, in one
// write (none when unlock audited them already).
func (u *unlocked) signAll(ms hsm.MultiSigner, digests [][]byte, opts crypto.SignerOpts) ([][]byte, error) {
	u.mu.Lock()
	defer u.mu.Unlock()
	if u.left < len(digests) {
		return nil, errors.New("signing: the activation data allows no more signatures")
	}
	if u.mode == auditIntent && !sameHashes(u.digests[len(u.digests)-u.left:][:len(digests)], digests) {
		return nil, errors.New("signing: these are not the digests the activation data was spent for")
	}
	u.left -= len(digests)
	ctx, done := u.measure(len(digests))
	sigs, err := ms.SignDigests(ctx, digests, opts)
	done(err)
	if err != nil {
		_ = u.s.audit(u.ctx, u.actor, "signature.create", u.cred.ID, "error", map[string]any{"error": err.Error()})
		return nil, u.keyStoreFault(err)
	}
	if u.mode != auditEach {
		return sigs, nil
	}
	events := make([]*store.AuditEvent, len(digests))
	for i, d := range digests {
		if events[i], err = u.s.signatureEvent(u.actor, u.cred, u.txID, u.activation, u.receipt, d, opts.HashFunc(), "ok", u.usage); err != nil {
			return nil, err
		}
	}
	if err := u.s.st.AppendAudit(u.ctx, events...); err != nil {
		return nil, fmt.Errorf("signing: auditing signature.create: %w", err)
	}
	return sigs, nil
}

// signatureEvent is the audit event of a signature over digest, made
// under the activation data named activation, which the owner's approval
// with consent receipt receipt (empty: none, an explicit CSC
// authorisation) made.
//
// use, when not nil, is the signature's count (usage.go), which the store
// adds in the write that records the event; nil for an event that does
// not stand for a signature of its own (a transaction's intent, whose
// outcome event counts).
func (s *Service) signatureEvent(actor string, cred *store.Credential, txID, activation, receipt string, digest []byte, h crypto.Hash, outcome string, use *store.Usage) (*store.AuditEvent, error) {
	d := map[string]any{
		"owner": cred.OwnerID, "transaction": txID, "activation": activation, "digest": base64.StdEncoding.EncodeToString(digest), "hash": h.String(),
	}
	if receipt != "" {
		d["receipt"] = receipt
	}
	e, err := s.auditEvent(actor, "signature.create", cred.ID, outcome, d)
	if err != nil {
		return nil, err
	}
	e.Usage = use
	return e, nil
}

// Refusals of a request to spend activation data, as the audit event
// signature.refuse names them in its details ("refusal", beside the
// "reason" told to the caller and the "activation" ID once the SAD is
// known). The mutation suite reads them.
const (
	refusedMalformed   = "malformed"   // the request's shape: hash algorithm, count, sizes, SAD, credential ID
	refusedUnknown     = "unknown_sad" // no such activation data
	refusedClient      = "client"      // handed to another relying party
	refusedCredential  = "credential"  // issued for another credential
	refusedHashAlgo    = "hash_algorithm"
	refusedExpired     = "expired"
	refusedHashes      = "hashes" // not the hashes approved: set, order or count
	refusedCredStatus  = "credential_status"
	refusedCertificate = "certificate" // the pre-signing check (checkSigner)
	refusedSignAlgo    = "sign_algo"   // signAlgo does not fit the key or the hashes
	refusedReplay      = "replay"      // already spent, or fewer uses left than asked
)

// auditMode is how the signatures a spent SAD allows are audited.
type auditMode int

const (
	// auditIntent: one signature.create intent per hash, written with the
	// spending of the activation data; the signer then signs exactly
	// those hashes, in order (CSC signHash).
	auditIntent auditMode = iota
	// auditEach: one signature.create ok event after each signature
	// (CSC signDoc, whose signed digests are computed after the approved
	// hashes of the documents).
	auditEach
	// auditOutcome: one intent per approved hash with the spending, as
	// auditIntent, but the signer may sign other digests (a PDF's signed
	// attributes) up to the count, and the caller writes the outcome
	// events with the result it delivers (a transaction's final state).
	auditOutcome
)

// unlock is the only code that reaches a credential's key. It checks the
// activation data and spends it, and signs only when the request is
// exactly what was approved: by the client the SAD was handed to, for the
// same credential, the same hash algorithm, the same hashes in the same
// order (SCAL2), no more uses than approved, before the expiry. Every
// refusal is audited (signature.refuse, with the refusal's kind and the
// activation's ID once known) and leaves the SAD unspent, so its owner can
// still use it while it lasts. What it returns signs at most as many
// times as there are hashes, each signature audited as mode says.
func (s *Service) unlock(ctx context.Context, req *SignHashRequest, mode auditMode) (*unlocked, crypto.SignerOpts, error) {
	var activation string // the ID, once the SAD is known
	subject := req.CredentialID
	if !validID(subject) {
		subject = ""
	}
	refuseAs := func(e *Error, refusal string, extra map[string]any) error {
		d := map[string]any{"reason": e.Description, "refusal": refusal}
		if activation != "" {
			d["activation"] = activation
		}
		for k, v := range extra {
			d[k] = v
		}
		_ = s.audit(ctx, req.Actor, "signature.refuse", subject, "error", d)
		metrics.SignatureRefusals.WithLabelValues(refusal).Inc()
		return e
	}
	refuse := func(kind Kind, refusal, format string, args ...any) (*unlocked, crypto.SignerOpts, error) {
		return nil, nil, refuseAs(fail(kind, format, args...), refusal, nil)
	}
	h := req.HashAlgorithm
	if hashOID(h) == "" {
		return refuse(KindInvalid, refusedMalformed, "hash algorithm %v is not accepted (SHA-256, SHA-384, SHA-512)", h)
	}
	if len(req.Hashes) == 0 || len(req.Hashes) > MaxHashes {
		return refuse(KindInvalid, refusedMalformed, "between 1 and %d hashes, not %d", MaxHashes, len(req.Hashes))
	}
	for i, d := range req.Hashes {
		if len(d) != h.Size() {
			return refuse(KindInvalid, refusedMalformed, "hash %d has %d bytes; %v needs %d", i+1, len(d), h, h.Size())
		}
	}
	if req.SAD == "" || len(req.SAD) > 256 {
		return refuse(KindInvalid, refusedMalformed, "missing or malformed SAD")
	}
	if subject == "" {
		return refuse(KindInvalid, refusedMalformed, "a credentialID of 1 to 128 bytes of UTF-8 is required")
	}
	key := sadHash(req.SAD)
	a, err := s.st.GetActivation(ctx, key)
	if errors.Is(err, store.ErrNotFound) {
		return refuse(KindInvalid, refusedUnknown, "invalid SAD")
	}
	if err != nil {
		return nil, nil, err
	}
	activation = a.ID
	if a.ClientID != req.ClientID {
		// Another client's SAD (CSC: invalid for this client) gets the
		// answer an unknown one gets, so a client learns nothing of the
		// SADs of others; the audit says whose it is. Not spent: the
		// client it was handed to may still use it.
		return nil, nil, refuseAs(fail(KindInvalid, "invalid SAD"), refusedClient,
			map[string]any{"reason": "the SAD was handed to another client", "issued_to": a.ClientID})
	}
	switch {
	case a.CredentialID != req.CredentialID:
		return refuse(KindInvalid, refusedCredential, "the SAD was not issued for this credential")
	case a.HashAlgorithm != hashOID(h):
		return refuse(KindInvalid, refusedHashAlgo, "the SAD was issued for hash algorithm %s, not %s", a.HashAlgorithm, hashOID(h))
	case !s.now().Before(a.ExpiresAt):
		return refuse(KindExpired, refusedExpired, "the SAD expired at %s", a.ExpiresAt.UTC().Format("15:04:05Z"))
	case len(a.Hashes) > 0 && !sameHashes(a.Hashes, req.Hashes):
		return refuse(KindInvalid, refusedHashes, "the hashes are not the ones authorised (the same hashes, in the same order, are required)")
	}
	cred, err := s.st.GetCredential(ctx, req.CredentialID)
	if err != nil {
		return nil, nil, fmt.Errorf("signing: credential %s: %w", req.CredentialID, err)
	}
	if cred.Status != "active" {
		return refuse(KindInvalid, refusedCredStatus, "credential %s is %s", cred.ID, cred.Status)
	}
	// The pre-signing check (Circular 15/2025 Art. 5), before the key is
	// unlocked and before the SAD is spent: a refused certificate signs
	// nothing and leaves the owner's approval unused.
	cert, chain, check, err := s.checkSigner(ctx, cred, req.Actor, activation)
	if err != nil {
		return nil, nil, err
	}
	signer, err := s.credentialKey(ctx, cred)
	if err != nil {
		return nil, nil, fmt.Errorf("signing: the key of credential %s: %w", cred.ID, err)
	}
	algo := req.SignAlgo
	if algo == "" {
		algo = DefaultSignAlgo(signer.Public(), h)
	}
	opts, err := signerOpts(algo, h, signer.Public())
	var bad *Error
	if errors.As(err, &bad) {
		return nil, nil, refuseAs(bad, refusedSignAlgo, nil)
	}
	if err != nil {
		return nil, nil, err
	}
	// Spend the activation data before the key signs anything: two
	// requests racing with one SAD cannot both get past this.
	// The signatures are counted (usage.go) with the intents of a signHash,
	// whose signing follows the spending at once (a device failure after
	// it is audited, and the count stays: the owner's approval was spent),
	// with the ok events of a signDoc, and with a transaction's outcome.
	use, err := s.usage(ctx, req.ClientID, cred, s.now())
	if err != nil {
		return nil, nil, err
	}
	var events []*store.AuditEvent
	if mode != auditEach {
		intentUse := use
		if mode != auditIntent {
			intentUse = nil
		}
		events = make([]*store.AuditEvent, len(req.Hashes))
		for i, d := range req.Hashes {
			if events[i], err = s.signatureEvent(req.Actor, cred, a.TransactionID, a.ID, a.ReceiptID, d, h, "intent", intentUse); err != nil {
				return nil, nil, err
			}
		}
	}
	switch err := s.st.UseActivation(ctx, key, len(req.Hashes), s.now(), events...); {
	case errors.Is(err, store.ErrReplay):
		return refuse(KindInvalid, refusedReplay, "the SAD was already used (or allows fewer signatures than %d)", len(req.Hashes))
	case errors.Is(err, store.ErrNotFound):
		return refuse(KindExpired, refusedExpired, "the SAD expired")
	case err != nil:
		return nil, nil, err
	}
	return &unlocked{s: s, ctx: ctx, cred: cred, signer: signer, left: len(req.Hashes), actor: req.Actor, txID: a.TransactionID,
		activation: a.ID, receipt: a.ReceiptID, mode: mode, digests: req.Hashes, cert: cert, chain: chain, check: check, usage: use}, opts, nil
}

// checkSigner returns cred's certificate and chain after the pre-signing
// check of Config.SignerCheck, with its evidence (nil when the service
// skips the check). A refusal is audited (signature.refuse) and returned
// as an invalid_request whose description is the bilingual reason.
//
// activation names the activation data being spent, for the audit event;
// empty when there is none yet (an authorisation).
func (s *Service) checkSigner(ctx context.Context, cred *store.Credential, actor, activation string) (*x509.Certificate, []*x509.Certificate, *signercheck.Result, error) {
	cert, chain, err := s.Certificate(ctx, cred)
	if err != nil {
		return nil, nil, nil, err
	}
	if s.cfg.SignerCheck == nil {
		return cert, chain, nil, nil
	}
	cfg := *s.cfg.SignerCheck
	if cfg.Now == nil {
		cfg.Now = s.cfg.Now
	}
	res, err := s.checks.Check(ctx, cert, chain, &cfg)
	if err == nil {
		// A passed check may be reused for a while (signercheck.Cache);
		// kyso's own CA issued this certificate, so its own records say
		// at once whether it was revoked or suspended since.
		switch rev, rerr := s.st.GetRevocation(ctx, cred.CertIssuer, cred.CertSerial); {
		case rerr == nil && !rev.RevokedAt.After(cfg.Now()):
			err = signercheck.Revoked(rev.RevokedAt, rev.Reason == store.ReasonCertificateHold)
		case rerr != nil && !errors.Is(rerr, store.ErrNotFound):
			return nil, nil, nil, fmt.Errorf("signing: the status of credential %s's certificate: %w", cred.ID, rerr)
		}
	}
	var refused *signercheck.Error
	if errors.As(err, &refused) {
		d := map[string]any{"reason": refused.Error(), "refusal": refusedCertificate, "check": string(refused.Code)}
		if activation != "" {
			d["activation"] = activation
		}
		_ = s.audit(ctx, actor, "signature.refuse", cred.ID, "error", d)
		return nil, nil, nil, &Error{Kind: KindInvalid, Description: refused.Error(), Err: refused}
	}
	if err != nil {
		return nil, nil, nil, fmt.Errorf("signing: checking the certificate of credential %s: %w", cred.ID, err)
	}
	return cert, chain, res, nil
}

// credentialKey opens a credential's key: unwrapped inside the device for
// a wrapped key, by label otherwise. Only unlock calls it.
func (s *Service) credentialKey(ctx context.Context, cred *store.Credential) (crypto.Signer, error) {
	if len(cred.WrappedKey) > 0 {
		wks, ok := s.keys.(hsm.WrappedKeyStore)
		if !ok {
			return nil, errors.New("the key is wrapped, but the key store does not unwrap keys")
		}
		// No check signature: every signature is verified under the
		// blob's public key, the first one included.
		return wks.WrappedSigner(ctx, &hsm.WrappedSignerRequest{Blob: cred.WrappedKey, SkipCheck: true})
	}
	return s.keys.Signer(ctx, &hsm.SignerRequest{Label: cred.KeyURI})
}

// unlocked is a credential's key after unlock spent activation data for
// it: it signs at most left times, and audits each signature.
type unlocked struct {
	s      *Service
	ctx    context.Context
	cred   *store.Credential
	signer crypto.Signer
	actor  string
	txID   string
	// activation is the ID of the activation data unlock spent, for the
	// audit events of the signatures.
	activation string
	// receipt is the ID of the consent receipt of the approval that made
	// the activation data; empty for an explicit CSC authorisation.
	receipt string
	// mode: how the signatures are audited; with auditIntent the signer
	// signs only digests, in order.
	mode    auditMode
	digests [][]byte
	// cert and chain are the credential's; check is the evidence of the
	// pre-signing check (nil when the service skips it).
	cert  *x509.Certificate
	chain []*x509.Certificate
	check *signercheck.Result
	// usage counts each signature of auditEach's ok events.
	usage *store.Usage
	mu    sync.Mutex
	left  int
}

func (u *unlocked) Public() crypto.PublicKey { return u.signer.Public() }

func (u *unlocked) Sign(rnd io.Reader, digest []byte, opts crypto.SignerOpts) ([]byte, error) {
	u.mu.Lock()
	defer u.mu.Unlock()
	if u.left <= 0 {
		return nil, errors.New("signing: the activation data allows no more signatures")
	}
	if u.mode == auditIntent && !bytes.Equal(u.digests[len(u.digests)-u.left], digest) {
		return nil, errors.New("signing: this is not the digest the activation data was spent for")
	}
	u.left--
	_, done := u.measure(1)
	sig, err := u.signer.Sign(rnd, digest, opts)
	done(err)
	if err != nil {
		_ = u.s.audit(u.ctx, u.actor, "signature.create", u.cred.ID, "error", map[string]any{"error": err.Error()})
		return nil, u.keyStoreFault(err)
	}
	if u.mode != auditEach {
		return sig, nil
	}
	e, err := u.s.signatureEvent(u.actor, u.cred, u.txID, u.activation, u.receipt, digest, opts.HashFunc(), "ok", u.usage)
	if err != nil {
		return nil, err
	}
	if err := u.s.st.AppendAudit(u.ctx, e); err != nil {
		return nil, fmt.Errorf("signing: auditing signature.create: %w", err)
	}
	return sig, nil
}

// keyStoreFault is the error of a signature the key store failed to
// make. The digests and options were checked before the key was asked,
// so whatever the key store answers now (a PKCS#11 code no recovery
// knows, during a token's re-initialisation, say) is the key store's
// failure: a 503 the operators hear of (Outage), never a 500.
func (u *unlocked) keyStoreFault(err error) error {
	if !Outage(err) {
		err = fmt.Errorf("%w: %w", hsm.ErrUnavailable, err)
	}
	return fmt.Errorf("signing: signing with credential %s: %w", u.cred.ID, err)
}

// measure times one operation on the key store making n signatures and,
// when it ends (the function it returns), counts them, made or failed: the
// metrics kyso_key_operation_duration_seconds and kyso_signatures_total.
// Within a traced request it is the span keystore.sign, whose context it
// returns.
func (u *unlocked) measure(n int) (context.Context, func(err error)) {
	start := time.Now()
	backend := backendName(u.s.keys)
	ctx, span := tracing.Child(u.ctx, "keystore.sign", attribute.String("kyso.keystore.backend", backend),
		attribute.String("kyso.credential_id", u.cred.ID), attribute.String("kyso.key.algorithm", u.cred.Algorithm),
		attribute.Int("kyso.signatures", n), attribute.String("kyso.api", u.mode.api()))
	return ctx, func(err error) {
		tracing.End(span, err)
		metrics.Since(metrics.KeyOperations.WithLabelValues(backend, "sign"), start)
		outcome := "ok"
		if err != nil {
			outcome = "error"
			metrics.KeyErrors.WithLabelValues(backend, "sign").Inc()
		}
		metrics.Signatures.WithLabelValues(u.mode.api(), u.cred.Algorithm, outcome).Add(float64(n))
	}
}

// backendName names a key store in the metrics: the package of its type
// (pkcs11, vault, softkey).
func backendName(ks hsm.KeyStore) string {
	t := reflect.TypeOf(ks)
	for t != nil && t.Kind() == reflect.Pointer {
		t = t.Elem()
	}
	if t == nil || t.PkgPath() == "" {
		return "keystore"
	}
	return path.Base(t.PkgPath())
}

// api names the path that asked for a signature, as the metrics count it.
func (m auditMode) api() string {
	switch m {
	case auditIntent:
		return "signHash"
	case auditEach:
		return "signDoc"
	}
	return "transaction"
}

func sameHashes(a, b [][]byte) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if !bytes.Equal(a[i], b[i]) {
			return false
		}
	}
	return true
}

// newActivation records activation data for the hashes, handed to the
// relying party clientID, and returns the SAD and the activation's ID.
// An owner's approval names its receipt (receiptID) and may choose the ID
// (id; empty: a new one).
func (s *Service) newActivation(ctx context.Context, clientID, credID, txID, receiptID, id string, h crypto.Hash, hashes [][]byte) (sad, _ string, err error) {
	if sad, err = randomToken(s.cfg.Rand); err != nil {
		return "", "", err
	}
	if id == "" {
		if id, err = randomID(s.cfg.Rand, 10); err != nil {
			return "", "", err
		}
	}
	now := s.now()
	a := &store.Activation{SADHash: sadHash(sad), ID: id, ClientID: clientID, CredentialID: credID, TransactionID: txID, ReceiptID: receiptID,
		HashAlgorithm: hashOID(h), Hashes: hashes, Remaining: len(hashes), ExpiresAt: now.Add(s.cfg.SADLifetime), CreatedAt: now}
	if err := s.st.PutActivation(ctx, a); err != nil {
		return "", "", err
	}
	return sad, id, nil
}

// AuthorizeRequest is an explicit authorisation (CSC credentials/authorize):
// the calling application collected the owner's PIN and one-time code.
type AuthorizeRequest struct {
	// ClientID is the relying party that asks: the SAD is handed to it,
	// and only it may spend it. Empty only for a caller in the same
	// process that acts for no client.
	ClientID      string
	CredentialID  string
	NumSignatures int
	// Hashes are required (SCAL2): the SAD is bound to them.
	Hashes        [][]byte
	HashAlgorithm crypto.Hash
	PIN, OTP      string
	Actor         string
}

// Refusals of an authorisation, as the audit event credential.authorize
// (outcome error) names them in its details ("refusal"). A refused
// certificate is audited by the pre-signing check (signature.refuse).
const (
	authRefusedMalformed  = "malformed"          // hashes, their number or algorithm, the credential ID
	authRefusedCredential = "unknown_credential" // no such credential
	authRefusedStatus     = "credential_status"  // the credential is not active
	authRefusedFactors    = "factors"            // the owner's PIN or one-time code (or the lock)
)

// Authorize checks the owner's two factors and returns activation data
// bound to the client, the credential, the hashes, their algorithm and
// their number, and how long it lasts. The audit event
// (credential.authorize) names the activation, as the signatures made
// with it do; a refusal is audited with its kind.
func (s *Service) Authorize(ctx context.Context, req *AuthorizeRequest) (string, int, error) {
	subject := req.CredentialID
	if !validID(subject) {
		subject = ""
	}
	refuse := func(refusal string, err error, extra map[string]any) (string, int, error) {
		d := map[string]any{"refusal": refusal, "client": req.ClientID}
		var se *Error
		if errors.As(err, &se) {
			d["reason"] = se.Description
		} else {
			d["reason"] = err.Error()
		}
		for k, v := range extra {
			d[k] = v
		}
		_ = s.audit(ctx, req.Actor, "credential.authorize", subject, "error", d)
		return "", 0, err
	}
	malformed := func(format string, args ...any) (string, int, error) {
		return refuse(authRefusedMalformed, fail(KindInvalid, format, args...), nil)
	}
	if len(req.Hashes) == 0 {
		return malformed("hashes are required: kyso authorises at SCAL2 only")
	}
	if req.NumSignatures != len(req.Hashes) {
		return malformed("numSignatures is %d but %d hashes were given", req.NumSignatures, len(req.Hashes))
	}
	if len(req.Hashes) > MaxHashes {
		return malformed("at most %d hashes", MaxHashes)
	}
	if hashOID(req.HashAlgorithm) == "" {
		return malformed("hash algorithm %v is not accepted", req.HashAlgorithm)
	}
	for i, d := range req.Hashes {
		if len(d) != req.HashAlgorithm.Size() {
			return malformed("hash %d has %d bytes; %v needs %d", i+1, len(d), req.HashAlgorithm, req.HashAlgorithm.Size())
		}
	}
	if subject == "" {
		return refuse(authRefusedCredential, fail(KindInvalid, "unknown credentialID"), nil)
	}
	cred, err := s.st.GetCredential(ctx, req.CredentialID)
	if errors.Is(err, store.ErrNotFound) {
		return refuse(authRefusedCredential, fail(KindInvalid, "unknown credentialID"), nil)
	}
	if err != nil {
		return "", 0, err
	}
	if cred.Status != "active" {
		return refuse(authRefusedStatus, fail(KindInvalid, "credential %s is %s", cred.ID, cred.Status), nil)
	}
	owner, err := s.st.GetOwner(ctx, cred.OwnerID)
	if err != nil {
		return "", 0, err
	}
	if _, err := s.checkFactors(ctx, owner, PINAndCode(req.PIN, req.OTP), nil); err != nil {
		return refuse(authRefusedFactors, err, map[string]any{"owner": owner.ID})
	}
	// No activation data for a certificate that may not sign; signHash
	// checks again, since time passes between the two.
	if _, _, _, err := s.checkSigner(ctx, cred, req.Actor, ""); err != nil {
		return "", 0, err
	}
	sad, id, err := s.newActivation(ctx, req.ClientID, cred.ID, "", "", "", req.HashAlgorithm, req.Hashes)
	if err != nil {
		return "", 0, err
	}
	if err := s.audit(ctx, req.Actor, "credential.authorize", cred.ID, "ok", map[string]any{
		"owner": owner.ID, "client": req.ClientID, "activation": id, "hashes": len(req.Hashes),
	}); err != nil {
		return "", 0, err
	}
	return sad, int(s.cfg.SADLifetime.Seconds()), nil
}
