//go:build cgo

package pkcs11bench

import (
	"crypto"
	"errors"
	"fmt"
	"sync"

	"github.com/miekg/pkcs11"

	"github.com/kyso-pki/kyso/hsm"
)

// Bare is a token opened for the bare loop: C_SignInit then C_Sign on a
// session of its own per goroutine, with no pool, checks or recovery.
type Bare struct {
	p        *pkcs11.Ctx
	slot     uint
	mu       sync.Mutex
	sessions map[int]pkcs11.SessionHandle
	handles  map[string]pkcs11.ObjectHandle
	pin      string
}

// OpenBare loads module, finds the token labelled token and logs in with pin.
// It loads the module a second time beside kyso's backend, as another
// application would; PKCS#11 login state is shared by the process, so
// CKR_USER_ALREADY_LOGGED_IN is expected.
func OpenBare(module, token string, pin []byte) (*Bare, error) {
	p := pkcs11.New(module)
	if p == nil {
		return nil, fmt.Errorf("pkcs11bench: cannot load PKCS#11 module %s", module)
	}
	if err := p.Initialize(); err != nil && !isCode(err, pkcs11.CKR_CRYPTOKI_ALREADY_INITIALIZED) {
		return nil, fmt.Errorf("pkcs11bench: C_Initialize: %w", err)
	}
	slots, err := p.GetSlotList(true)
	if err != nil {
		return nil, fmt.Errorf("pkcs11bench: C_GetSlotList: %w", err)
	}
	b := &Bare{p: p, sessions: map[int]pkcs11.SessionHandle{}, handles: map[string]pkcs11.ObjectHandle{}, pin: string(pin)}
	found := false
	for _, s := range slots {
		ti, err := p.GetTokenInfo(s)
		if err == nil && ti.Label == token {
			b.slot, found = s, true
			break
		}
	}
	if !found {
		return nil, fmt.Errorf("pkcs11bench: token %q not found", token)
	}
	sh, err := b.session(-1)
	if err != nil {
		return nil, err
	}
	if err := p.Login(sh, pkcs11.CKU_USER, b.pin); err != nil && !isCode(err, pkcs11.CKR_USER_ALREADY_LOGGED_IN) {
		return nil, fmt.Errorf("pkcs11bench: C_Login: %w", err)
	}
	return b, nil
}

func isCode(err error, code uint) bool {
	var e pkcs11.Error
	return errors.As(err, &e) && uint(e) == code
}

func (b *Bare) session(worker int) (pkcs11.SessionHandle, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	if sh, ok := b.sessions[worker]; ok {
		return sh, nil
	}
	sh, err := b.p.OpenSession(b.slot, pkcs11.CKF_SERIAL_SESSION|pkcs11.CKF_RW_SESSION)
	if err != nil {
		return 0, fmt.Errorf("pkcs11bench: C_OpenSession: %w", err)
	}
	b.sessions[worker] = sh
	return sh, nil
}

// SignFunc returns a bare signing loop body for the private key labelled
// label: PKCS#1 v1.5 (CKM_RSA_PKCS over a DigestInfo) for RSA, CKM_ECDSA for
// EC keys.
func (b *Bare) SignFunc(label string, alg hsm.Algorithm) (func(worker int, digest []byte) error, error) {
	sh, err := b.session(-1)
	if err != nil {
		return nil, err
	}
	tmpl := []*pkcs11.Attribute{
		pkcs11.NewAttribute(pkcs11.CKA_CLASS, pkcs11.CKO_PRIVATE_KEY),
		pkcs11.NewAttribute(pkcs11.CKA_LABEL, label),
	}
	if err := b.p.FindObjectsInit(sh, tmpl); err != nil {
		return nil, fmt.Errorf("pkcs11bench: C_FindObjectsInit: %w", err)
	}
	objs, _, err := b.p.FindObjects(sh, 2)
	b.p.FindObjectsFinal(sh)
	if err != nil || len(objs) != 1 {
		return nil, fmt.Errorf("pkcs11bench: private key %q: found %d objects (%v)", label, len(objs), err)
	}
	h := objs[0]
	var mech []*pkcs11.Mechanism
	if alg.IsRSA() {
		mech = []*pkcs11.Mechanism{pkcs11.NewMechanism(pkcs11.CKM_RSA_PKCS, nil)}
	} else {
		mech = []*pkcs11.Mechanism{pkcs11.NewMechanism(pkcs11.CKM_ECDSA, nil)}
	}
	rsa := alg.IsRSA()
	return func(worker int, digest []byte) error {
		sh, err := b.session(worker)
		if err != nil {
			return err
		}
		data := digest
		if rsa {
			if data, err = hsm.DigestInfo(crypto.SHA256, digest); err != nil {
				return err
			}
		}
		if err := b.p.SignInit(sh, mech, h); err != nil {
			return fmt.Errorf("pkcs11bench: C_SignInit: %w", err)
		}
		_, err = b.p.Sign(sh, data)
		return err
	}, nil
}

// Close closes the bare loop's sessions. It does not finalize the module,
// which kyso's backend in the same process still uses.
func (b *Bare) Close() {
	b.mu.Lock()
	defer b.mu.Unlock()
	for _, sh := range b.sessions {
		b.p.CloseSession(sh)
	}
	b.sessions = map[int]pkcs11.SessionHandle{}
}
