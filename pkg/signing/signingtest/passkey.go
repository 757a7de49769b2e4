package signingtest

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/binary"
	"encoding/json"
	"fmt"
	"slices"

	"github.com/go-webauthn/webauthn/protocol/webauthncbor"
)

// Authenticator is a WebAuthn authenticator in software, for the tests of
// passkeys that need no browser: it answers the creation and request
// options the service issues as a browser with a platform authenticator
// would (attestation "none", ES256, discoverable credentials), on Origin.
// Its fields say how it behaves, so a test can make it misbehave. The
// browser's own (Chromium's virtual authenticator) is testenv's.
type Authenticator struct {
	// Origin is the page's origin the browser reports.
	Origin string
	// UV: the authenticator verified its user (the UV flag).
	UV bool
	// Counter is the signature counter the next answer carries, before
	// it is incremented; NoCounter keeps it at zero.
	Counter   uint32
	NoCounter bool
	// AnyCredential answers with its credential whatever the options
	// allow, as an attacker's authenticator would.
	AnyCredential bool
	creds         []*softCred
}

type softCred struct {
	id, user []byte
	rpID     string
	key      *ecdsa.PrivateKey
}

// NewAuthenticator returns an authenticator on origin that verifies its
// user.
func NewAuthenticator(origin string) *Authenticator { return &Authenticator{Origin: origin, UV: true} }

var b64 = base64.RawURLEncoding

func (a *Authenticator) flags(extra byte) byte {
	f := byte(0x01) | extra // UP
	if a.UV {
		f |= 0x04
	}
	return f
}

func (a *Authenticator) count() uint32 {
	if a.NoCounter {
		return 0
	}
	a.Counter++
	return a.Counter
}

func clientData(typ, challenge, origin string) []byte {
	b, _ := json.Marshal(map[string]any{"type": typ, "challenge": challenge, "origin": origin, "crossOrigin": false})
	return b
}

// Create answers creation options (JSON, as BeginPasskeyRegistration
// gives them) with a new credential, as PublicKeyCredential.toJSON writes
// it.
func (a *Authenticator) Create(options []byte) ([]byte, error) {
	var o struct {
		Challenge string `json:"challenge"`
		RP        struct {
			ID string `json:"id"`
		} `json:"rp"`
		User struct {
			ID string `json:"id"`
		} `json:"user"`
	}
	if err := json.Unmarshal(options, &o); err != nil {
		return nil, err
	}
	user, err := b64.DecodeString(o.User.ID)
	if err != nil {
		return nil, fmt.Errorf("user.id: %w", err)
	}
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return nil, err
	}
	c := &softCred{id: make([]byte, 16), user: user, rpID: o.RP.ID, key: key}
	rand.Read(c.id)
	a.creds = append(a.creds, c)
	x, y := key.PublicKey.X.FillBytes(make([]byte, 32)), key.PublicKey.Y.FillBytes(make([]byte, 32))
	cose, err := webauthncbor.Marshal(map[int]any{1: 2, 3: -7, -1: 1, -2: x, -3: y})
	if err != nil {
		return nil, err
	}
	rp := sha256.Sum256([]byte(c.rpID))
	auth := append(rp[:], a.flags(0x40)) // AT
	auth = binary.BigEndian.AppendUint32(auth, a.count())
	auth = append(auth, make([]byte, 16)...) // AAGUID: none
	auth = binary.BigEndian.AppendUint16(auth, uint16(len(c.id)))
	auth = append(auth, c.id...)
	auth = append(auth, cose...)
	att, err := webauthncbor.Marshal(map[string]any{"fmt": "none", "attStmt": map[string]any{}, "authData": auth})
	if err != nil {
		return nil, err
	}
	return json.Marshal(map[string]any{"id": b64.EncodeToString(c.id), "rawId": b64.EncodeToString(c.id), "type": "public-key",
		"response": map[string]any{"clientDataJSON": b64.EncodeToString(clientData("webauthn.create", o.Challenge, a.Origin)),
			"attestationObject": b64.EncodeToString(att), "transports": []string{"internal"}},
		"clientExtensionResults": map[string]any{}})
}

// Get answers request options (JSON) with an assertion by the first of
// its credentials the options allow (any, when they list none).
func (a *Authenticator) Get(options []byte) ([]byte, error) {
	var o struct {
		Challenge string `json:"challenge"`
		RPID      string `json:"rpId"`
		Allow     []struct {
			ID string `json:"id"`
		} `json:"allowCredentials"`
	}
	if err := json.Unmarshal(options, &o); err != nil {
		return nil, err
	}
	var c *softCred
	for _, k := range a.creds {
		if k.rpID != o.RPID {
			continue
		}
		if len(o.Allow) == 0 || a.AnyCredential || slices.ContainsFunc(o.Allow, func(d struct {
			ID string `json:"id"`
		}) bool {
			return d.ID == b64.EncodeToString(k.id)
		}) {
			c = k
			break
		}
	}
	if c == nil {
		return nil, fmt.Errorf("no credential for %q among %d", o.RPID, len(a.creds))
	}
	return a.assert(c, o.Challenge)
}

func (a *Authenticator) assert(c *softCred, challenge string) ([]byte, error) {
	rp := sha256.Sum256([]byte(c.rpID))
	auth := append(rp[:], a.flags(0))
	auth = binary.BigEndian.AppendUint32(auth, a.count())
	cd := clientData("webauthn.get", challenge, a.Origin)
	h := sha256.Sum256(cd)
	digest := sha256.Sum256(append(slices.Clone(auth), h[:]...))
	sig, err := ecdsa.SignASN1(rand.Reader, c.key, digest[:])
	if err != nil {
		return nil, err
	}
	return json.Marshal(map[string]any{"id": b64.EncodeToString(c.id), "rawId": b64.EncodeToString(c.id), "type": "public-key",
		"response": map[string]any{"clientDataJSON": b64.EncodeToString(cd), "authenticatorData": b64.EncodeToString(auth),
			"signature": b64.EncodeToString(sig), "userHandle": b64.EncodeToString(c.user)},
		"clientExtensionResults": map[string]any{}})
}
