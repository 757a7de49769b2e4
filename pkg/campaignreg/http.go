package campaignreg

import (
	"crypto"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/sha256"
	"crypto/x509"
	"encoding/hex"
	"encoding/json"
	"encoding/pem"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"strings"
	"time"

	"github.com/go-jose/go-jose/v4"

	"github.com/kyso-pki/kyso/pkg/clientaddr"
	"github.com/kyso-pki/kyso/pkg/display"
	"github.com/kyso-pki/kyso/pkg/store"
)

// Path is where the registry's routes live: POST Path + op, op one of
// the Op… constants.
const Path = "/registry/v1/"

// The operations of the protocol.
const (
	OpLookup   = "lookup"
	OpRegister = "register"
	OpSwitch   = "switch"
	OpRelease  = "release"
	OpReleased = "released"
	OpAck      = "ack"
)

// MaxBody bounds a request's body (its compact JWS); MaxAnswer an
// answer's.
const (
	MaxBody   = 8 << 10
	MaxAnswer = 256 << 10
)

// JWSType is the typ header of a signed registry request.
const JWSType = "kyso-registry+jws"

// payload is what a provider signs: the operation, who asks, when, a
// nonce, and the operation's fields.
type payload struct {
	Op         string   `json:"op"`
	Provider   string   `json:"provider"`
	IssuedAt   int64    `json:"iat"`
	Nonce      string   `json:"nonce"`
	NationalID string   `json:"national_id,omitempty"`
	Serial     string   `json:"serial,omitempty"`
	Reason     string   `json:"reason,omitempty"`
	Consent    *Consent `json:"consent,omitempty"`
	IDs        []int64  `json:"ids,omitempty"`
}

// answer is the registry's JSON answer.
type answer struct {
	Holding  *Holding   `json:"holding,omitempty"`
	Released []*Holding `json:"released,omitempty"`
	Error    string     `json:"error,omitempty"`
	Message  string     `json:"message,omitempty"`
}

// Member is a provider the served registry accepts: its ID and name, the
// SHA-256 of its TLS client certificate's public key (SubjectPublicKeyInfo,
// as `openssl x509 -pubkey | openssl pkey -pubin -outform DER | sha256sum`
// prints it) and its registry signing key (ECDSA P-256).
type Member struct {
	Provider
	TLSKeySHA256 [32]byte
	SigningKey   *ecdsa.PublicKey
}

// ParseSigningKey reads a PEM or DER SubjectPublicKeyInfo of an ECDSA
// P-256 key: a provider's registry signing key.
func ParseSigningKey(b []byte) (*ecdsa.PublicKey, error) {
	if blk, _ := pem.Decode(b); blk != nil {
		b = blk.Bytes
	}
	k, err := x509.ParsePKIXPublicKey(b)
	if err != nil {
		return nil, fmt.Errorf("campaignreg: a signing key: %w", err)
	}
	ec, ok := k.(*ecdsa.PublicKey)
	if !ok || ec.Curve != elliptic.P256() {
		return nil, fmt.Errorf("campaignreg: a signing key is ECDSA P-256 (ES256), not %T", k)
	}
	return ec, nil
}

// KeySHA256 returns the SHA-256 of pub's SubjectPublicKeyInfo, in hex:
// how the registry's configuration pins a provider's TLS client key.
func KeySHA256(pub crypto.PublicKey) (string, error) {
	der, err := x509.MarshalPKIXPublicKey(pub)
	if err != nil {
		return "", err
	}
	sum := sha256.Sum256(der)
	return hex.EncodeToString(sum[:]), nil
}

// HandlerOptions configures the served registry.
type HandlerOptions struct {
	// Book makes the decisions. Required.
	Book *Book
	// Members are the providers it accepts; MembersFile, instead, a
	// members file (ParseMembers) read again whenever it changes.
	Members     []Member
	MembersFile string
	// Logger; nil means slog.Default.
	Logger *slog.Logger
}

// Handler serves the shared registry at Path over kysod's HTTPS listener,
// which asks for client certificates (tls.RequestClientCert): a request
// is acted on only when its TLS client certificate's key is a member's,
// its body a compact JWS that member's signing key made, for this
// operation, dated within MaxSkew, with a nonce never seen from that
// member. Each refusal is audited with its reason.
type Handler struct {
	book    *Book
	members func() (*memberSet, error)
	log     *slog.Logger
}

// NewHandler returns the served registry.
func NewHandler(o *HandlerOptions) (*Handler, error) {
	if o == nil || o.Book == nil || (len(o.Members) == 0) == (o.MembersFile == "") {
		return nil, errors.New("campaignreg: the served registry needs its book, and its members or a members file")
	}
	h := &Handler{book: o.Book, log: o.Logger}
	if h.log == nil {
		h.log = slog.Default()
	}
	if o.MembersFile != "" {
		f := &membersFromFile{path: o.MembersFile}
		if _, err := f.get(); err != nil {
			return nil, err
		}
		h.members = f.get
		return h, nil
	}
	set, err := newMemberSet(o.Members)
	if err != nil {
		return nil, err
	}
	h.members = func() (*memberSet, error) { return set, nil }
	return h, nil
}

// refusal is an error answer: its status, code and message.
type refusal struct {
	status    int
	code, msg string
}

func (h *Handler) refuse(w http.ResponseWriter, r *http.Request, m *Member, f *refusal) {
	actor := "registry:unknown"
	if m != nil {
		actor = "registry:" + m.ID
	}
	d, _ := json.Marshal(map[string]any{"op": strings.TrimPrefix(r.URL.Path, Path), "why": f.code, "peer": clientaddr.Of(r)})
	h.book.audit(r.Context(), &store.AuditEvent{Time: h.book.now(), Actor: actor, Action: "registry.deny", Subject: "", Outcome: "error", Details: d})
	h.log.Warn("campaign registry: request refused", "actor", actor, "why", f.code, "peer", clientaddr.Of(r))
	writeAnswer(w, f.status, &answer{Error: f.code, Message: f.msg})
}

func writeAnswer(w http.ResponseWriter, status int, a *answer) {
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Cache-Control", "no-store")
	w.WriteHeader(status)
	json.NewEncoder(w).Encode(a)
}

// ServeHTTP implements http.Handler.
func (h *Handler) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	op := strings.TrimPrefix(r.URL.Path, Path)
	if r.Method != http.MethodPost {
		w.Header().Set("Allow", http.MethodPost)
		writeAnswer(w, http.StatusMethodNotAllowed, &answer{Error: "method", Message: "POST a signed request"})
		return
	}
	switch op {
	case OpLookup, OpRegister, OpSwitch, OpRelease, OpReleased, OpAck:
	default:
		writeAnswer(w, http.StatusNotFound, &answer{Error: "not_found", Message: "no such registry operation"})
		return
	}
	if r.TLS == nil || len(r.TLS.PeerCertificates) == 0 {
		h.refuse(w, r, nil, &refusal{http.StatusUnauthorized, "client_certificate", "present the provider's registered TLS client certificate"})
		return
	}
	set, err := h.members()
	if err != nil {
		h.log.Error("campaign registry: the members file; the members read before stay", "err", err)
	}
	if set == nil {
		writeAnswer(w, http.StatusServiceUnavailable, &answer{Error: "unavailable", Message: "the registry has no members"})
		return
	}
	leaf := r.TLS.PeerCertificates[0]
	m := set.byTLS[sha256.Sum256(leaf.RawSubjectPublicKeyInfo)]
	if m == nil {
		h.refuse(w, r, nil, &refusal{http.StatusForbidden, "unknown_provider", "this TLS client certificate's key is no registered provider's"})
		return
	}
	now := h.book.now()
	if now.Before(leaf.NotBefore) || now.After(leaf.NotAfter) {
		h.refuse(w, r, m, &refusal{http.StatusForbidden, "client_certificate", "the TLS client certificate is outside its validity"})
		return
	}
	body, err := io.ReadAll(http.MaxBytesReader(w, r.Body, MaxBody))
	var tooBig *http.MaxBytesError
	if errors.As(err, &tooBig) {
		h.refuse(w, r, m, &refusal{http.StatusRequestEntityTooLarge, "too_large", fmt.Sprintf("a request is at most %d bytes", MaxBody)})
		return
	}
	if err != nil {
		writeAnswer(w, http.StatusBadRequest, &answer{Error: "invalid", Message: "reading the request"})
		return
	}
	p, f := h.verify(r, m, string(body), op, now)
	if f != nil {
		h.refuse(w, r, m, f)
		return
	}
	req := &Request{Provider: m.Provider, NationalID: p.NationalID, Serial: p.Serial, Reason: p.Reason, Consent: p.Consent, IDs: p.IDs, Signed: string(body)}
	ctx := r.Context()
	a := &answer{}
	switch op {
	case OpLookup:
		a.Holding, err = h.book.Lookup(ctx, req)
	case OpRegister:
		a.Holding, err = h.book.Register(ctx, req)
	case OpSwitch:
		a.Holding, err = h.book.Switch(ctx, req)
	case OpRelease:
		err = h.book.Release(ctx, req)
	case OpReleased:
		a.Released, err = h.book.Released(ctx, req)
	case OpAck:
		err = h.book.Ack(ctx, req)
	}
	var held *HeldError
	switch {
	case errors.As(err, &held):
		writeAnswer(w, http.StatusConflict, &answer{Error: "held", Message: held.Error(), Holding: held.Holding})
	case errors.Is(err, ErrNotHeld):
		writeAnswer(w, http.StatusNotFound, &answer{Error: "not_held", Message: "no campaign signature held"})
	case errors.Is(err, ErrInvalid):
		writeAnswer(w, http.StatusBadRequest, &answer{Error: "invalid", Message: err.Error()})
	case errors.Is(err, ErrConflict):
		writeAnswer(w, http.StatusConflict, &answer{Error: "conflict", Message: err.Error()})
	case err != nil:
		h.log.Error("campaign registry", "op", op, "provider", m.ID, "err", err)
		writeAnswer(w, http.StatusInternalServerError, &answer{Error: "internal", Message: "the registry failed; try again"})
	default:
		writeAnswer(w, http.StatusOK, a)
	}
}

// verify checks a request's JWS against m's signing key, its operation,
// provider, time and nonce.
func (h *Handler) verify(r *http.Request, m *Member, body, op string, now time.Time) (*payload, *refusal) {
	bad := func(code, msg string) (*payload, *refusal) {
		return nil, &refusal{http.StatusForbidden, code, msg}
	}
	jws, err := jose.ParseSigned(strings.TrimSpace(body), []jose.SignatureAlgorithm{jose.ES256})
	if err != nil || len(jws.Signatures) != 1 {
		return nil, &refusal{http.StatusBadRequest, "invalid", "the body is not a compact JWS signed ES256"}
	}
	if typ, _ := jws.Signatures[0].Protected.ExtraHeaders[jose.HeaderType].(string); typ != JWSType {
		return bad("signature", "the JWS's typ is not "+JWSType)
	}
	raw, err := jws.Verify(m.SigningKey)
	if err != nil {
		return bad("signature", "the body is not signed by provider "+m.ID+"'s registered signing key")
	}
	var p payload
	dec := json.NewDecoder(strings.NewReader(string(raw)))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&p); err != nil {
		return nil, &refusal{http.StatusBadRequest, "invalid", "the signed payload is not a registry request"}
	}
	if p.Op != op || p.Provider != m.ID {
		return bad("mismatch", "the signed request is for another operation or provider")
	}
	at := time.Unix(p.IssuedAt, 0)
	if at.Before(now.Add(-MaxSkew)) || at.After(now.Add(MaxSkew)) {
		return bad("stale", fmt.Sprintf("the request's time is more than %v from the registry's", MaxSkew))
	}
	if len(p.Nonce) < 16 || len(p.Nonce) > 64 {
		return nil, &refusal{http.StatusBadRequest, "invalid", "a nonce is 16 to 64 characters"}
	}
	if err := h.book.st.UseNonce(r.Context(), m.ID, p.Nonce, at.Add(MaxSkew), now); errors.Is(err, store.ErrReplay) {
		return nil, &refusal{http.StatusConflict, "replay", "this signed request was used already"}
	} else if err != nil {
		h.log.Error("campaign registry: recording a nonce", "err", err)
		return nil, &refusal{http.StatusInternalServerError, "internal", "the registry failed; try again"}
	}
	return &p, nil
}

// safeName bounds and escapes a provider name another party wrote.
func safeName(s string) string {
	return display.Escape(truncate(s, MaxProviderName))
}
