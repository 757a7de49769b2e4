//go:build cgo

package pkcs11

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/miekg/pkcs11"

	"github.com/kyso-pki/kyso/hsm"
)

var (
	_ hsm.KeyStore        = (*Store)(nil)
	_ hsm.KeyDeleter      = (*Store)(nil)
	_ hsm.WrappedKeyStore = (*Store)(nil)
)

// maxPoolSize bounds the pool-size URI attribute.
const maxPoolSize = 1024

// Store is a key store on one PKCS#11 token. It is safe for use by many
// goroutines at once; so are its signers.
type Store struct {
	p      *pkcs11.Ctx
	module string
	token  string
	slotID *uint // from the slot-id attribute; nil means any slot
	pin    string
	// uri names the token for KeyInfo.URI: the Open URI without pin-value
	// and without an object.
	uri      *hsm.URI
	log      *slog.Logger
	master   string
	poolSize int

	// sem holds one token per session in use, bounding them to poolSize.
	sem chan struct{}

	mu     sync.Mutex
	slot   uint
	gen    uint64 // bumped by each recovery; sessions and handles of older generations are stale
	dead   uint64 // sessions of generations below dead were closed by the module, not by us
	idle   []pkcs11.SessionHandle
	closed bool

	// labelMu serialises creating and deleting keys, so that two CreateKey
	// calls in this process cannot both take a label.
	labelMu sync.Mutex
	// objMu keeps C_FindObjects* apart from creating and destroying token
	// objects: SoftHSM 2.6.1's file object store fails C_GenerateKeyPair
	// with CKR_GENERAL_ERROR when another thread searches the token at the
	// same time.
	objMu sync.RWMutex
	// keyEpoch is bumped whenever this store deletes a key; signers look
	// their key up again when it changes.
	keyEpoch atomic.Uint64

	masterMu    sync.Mutex
	masterCache map[string]masterRef // by CKA_ID

	// keys caches unwrapped keys (nil: off); stopSweep ends its sweeper.
	keys      *keyCache
	stopSweep chan struct{}
	// unwraps counts keys unwrapped, for tests.
	unwraps atomic.Int64
}

// session is a pooled session and the generation it was opened in.
type session struct {
	h   pkcs11.SessionHandle
	gen uint64
}

// Open loads the PKCS#11 module named by u, finds the token, logs in as the
// user and returns a store of keys on that token.
//
// u is an RFC 7512 URI (section 2.3): path attribute token (the token label,
// required) and optionally slot-id; object is ignored. Query attributes:
// module-path (DefaultModule when absent), pin-source (see hsm.ReadSecret)
// or pin-value, pool-size (sessions kept open; default 2×GOMAXPROCS, at
// least 4), master-key (the label of the key wrapping keys, default
// DefaultMasterKey), key-cache (unwrapped keys kept, default
// DefaultKeyCache, 0 for none) and key-cache-idle (how long one is kept
// unused, default DefaultKeyCacheIdle).
//
// A module that cannot be loaded or a token that is not there gives an error
// wrapping hsm.ErrUnavailable; a refused PIN one wrapping
// hsm.ErrAuthentication.
//
// PKCS#11 login state belongs to the process, not to a Store: if another
// part of the process is already logged in to the token, the token does not
// check the PIN again.
func Open(ctx context.Context, u *hsm.URI, opts *Options) (*Store, error) {
	if opts == nil {
		opts = &Options{}
	}
	if u == nil || u.Scheme != "pkcs11" {
		return nil, errors.New("pkcs11: opening key store: not a pkcs11: URI")
	}
	s := &Store{
		module:      u.Get("module-path"),
		token:       u.Path["token"],
		log:         opts.Logger,
		master:      u.Get("master-key"),
		masterCache: map[string]masterRef{},
	}
	if s.log == nil {
		s.log = slog.New(slog.DiscardHandler)
	}
	if s.module == "" {
		s.module = DefaultModule
	}
	if s.master == "" {
		s.master = DefaultMasterKey
	}
	if s.token == "" {
		return nil, fmt.Errorf("pkcs11: opening key store %s: the URI names no token (want pkcs11:token=LABEL)", u.Redacted())
	}
	if v := u.Path["slot-id"]; v != "" {
		id, err := strconv.ParseUint(v, 10, 0)
		if err != nil {
			return nil, fmt.Errorf("pkcs11: opening key store: slot-id %q is not a number", v)
		}
		slot := uint(id)
		s.slotID = &slot
	}
	s.poolSize = max(4, 2*runtime.GOMAXPROCS(0))
	if v := u.Get("pool-size"); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil || n < 1 || n > maxPoolSize {
			return nil, fmt.Errorf("pkcs11: opening key store: pool-size %q is not a number from 1 to %d", v, maxPoolSize)
		}
		s.poolSize = n
	}
	s.sem = make(chan struct{}, s.poolSize)
	cacheSize, cacheIdle := DefaultKeyCache, DefaultKeyCacheIdle
	if v := u.Get("key-cache"); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil || n < 0 || n > maxKeyCache {
			return nil, fmt.Errorf("pkcs11: opening key store: key-cache %q is not a number from 0 (off) to %d", v, maxKeyCache)
		}
		cacheSize = n
	}
	if v := u.Get("key-cache-idle"); v != "" {
		d, err := time.ParseDuration(v)
		if err != nil || d < time.Second || d > 24*time.Hour {
			return nil, fmt.Errorf("pkcs11: opening key store: key-cache-idle %q is not a duration from 1s to 24h (such as 2m)", v)
		}
		cacheIdle = d
	}
	switch {
	case u.Get("pin-source") != "" && u.Get("pin-value") != "":
		return nil, errors.New("pkcs11: opening key store: the URI has both pin-source and pin-value; give one")
	case u.Get("pin-source") != "":
		pin, err := hsm.ReadSecret(u.Get("pin-source"))
		if err != nil {
			return nil, fmt.Errorf("pkcs11: reading the PIN of token %q: %w", s.token, err)
		}
		s.pin = string(pin)
	case u.Get("pin-value") != "":
		s.pin = u.Get("pin-value")
	default:
		return nil, fmt.Errorf("pkcs11: opening token %q: the URI has no pin-source or pin-value", s.token)
	}
	s.uri = &hsm.URI{Scheme: "pkcs11", Path: map[string]string{}, Query: map[string]string{}}
	for k, v := range u.Path {
		if k != "object" && k != "id" && k != "type" {
			s.uri.Path[k] = v
		}
	}
	for k, v := range u.Query {
		if k != "pin-value" {
			s.uri.Query[k] = v
		}
	}
	if _, ok := s.uri.Query["module-path"]; !ok {
		s.uri.Query["module-path"] = s.module
	}

	if _, err := os.Stat(s.module); err != nil {
		return nil, fmt.Errorf("pkcs11: %w: loading module %s: %v", hsm.ErrUnavailable, s.module, err)
	}
	s.p = pkcs11.New(s.module)
	if s.p == nil {
		return nil, fmt.Errorf("pkcs11: %w: loading module %s: not a PKCS#11 module, or it could not be loaded", hsm.ErrUnavailable, s.module)
	}
	// Several stores, or another library, may use the module in one process;
	// PKCS#11 initialises it once per process.
	if err := s.p.Initialize(); err != nil && !isCode(err, pkcs11.CKR_CRYPTOKI_ALREADY_INITIALIZED) {
		return nil, fmt.Errorf("pkcs11: %w: initialising module %s: %v", hsm.ErrUnavailable, s.module, err)
	}
	slot, err := s.findSlot()
	if err != nil {
		return nil, err
	}
	s.slot = slot
	// Open one session and log in now, so that a wrong PIN shows at Open.
	sh, err := s.openSession(slot, false)
	if err != nil {
		return nil, err
	}
	s.idle = append(s.idle, sh)
	if cacheSize > 0 {
		s.keys = newKeyCache(cacheSize, cacheIdle)
		s.stopSweep = make(chan struct{})
		go s.sweeper(s.stopSweep)
	}
	s.log.Debug("pkcs11: opened token", "token", s.token, "module", s.module, "slot", slot, "pool_size", s.poolSize, "key_cache", cacheSize, "key_cache_idle", cacheIdle.String())
	return s, nil
}

// findSlot finds the slot holding the token labelled s.token (and, if the
// URI gave one, with the slot-id asked for).
func (s *Store) findSlot() (uint, error) {
	slots, err := s.p.GetSlotList(true)
	if err != nil {
		return 0, fmt.Errorf("pkcs11: %w: listing slots of module %s: %v", hsm.ErrUnavailable, s.module, err)
	}
	var present []string
	for _, slot := range slots {
		ti, err := s.p.GetTokenInfo(slot)
		if err != nil {
			continue
		}
		label := strings.TrimRight(ti.Label, " \x00")
		present = append(present, strconv.Quote(label))
		if label != s.token || (s.slotID != nil && *s.slotID != slot) {
			continue
		}
		if ti.Flags&pkcs11.CKF_TOKEN_INITIALIZED == 0 {
			return 0, fmt.Errorf("pkcs11: %w: token %q in module %s is not initialised", hsm.ErrUnavailable, s.token, s.module)
		}
		return slot, nil
	}
	tokens := "none"
	if len(present) > 0 {
		tokens = strings.Join(present, ", ")
	}
	where := ""
	if s.slotID != nil {
		where = fmt.Sprintf(" in slot %d", *s.slotID)
	}
	return 0, fmt.Errorf("pkcs11: %w: token %q not found%s in module %s (tokens present: %s)", hsm.ErrUnavailable, s.token, where, s.module, tokens)
}

// openSession opens a read-write session on slot and, unless the process is
// already logged in to the token, logs in as the user. With relogin it logs
// out first if the process is logged in, and logs in again.
func (s *Store) openSession(slot uint, relogin bool) (pkcs11.SessionHandle, error) {
	sh, err := s.p.OpenSession(slot, pkcs11.CKF_SERIAL_SESSION|pkcs11.CKF_RW_SESSION)
	if err != nil {
		if isCode(err, pkcs11.CKR_TOKEN_NOT_PRESENT, pkcs11.CKR_SLOT_ID_INVALID, pkcs11.CKR_DEVICE_REMOVED, pkcs11.CKR_TOKEN_NOT_RECOGNIZED) {
			return 0, fmt.Errorf("pkcs11: %w: opening a session on token %q: %v", hsm.ErrUnavailable, s.token, err)
		}
		return 0, fmt.Errorf("pkcs11: opening a session on token %q: %w", s.token, err)
	}
	info, err := s.p.GetSessionInfo(sh)
	if err != nil {
		s.p.CloseSession(sh)
		return 0, fmt.Errorf("pkcs11: reading session state on token %q: %w", s.token, err)
	}
	if info.State == pkcs11.CKS_RW_USER_FUNCTIONS || info.State == pkcs11.CKS_RO_USER_FUNCTIONS {
		if !relogin {
			return sh, nil
		}
		if err := s.p.Logout(sh); err != nil && !isCode(err, pkcs11.CKR_USER_NOT_LOGGED_IN) {
			s.p.CloseSession(sh)
			return 0, fmt.Errorf("pkcs11: logging out of token %q to log in again: %w", s.token, err)
		}
	}
	err = s.p.Login(sh, pkcs11.CKU_USER, s.pin)
	switch {
	case err == nil, isCode(err, pkcs11.CKR_USER_ALREADY_LOGGED_IN):
		return sh, nil
	case isCode(err, pkcs11.CKR_PIN_INCORRECT, pkcs11.CKR_PIN_INVALID, pkcs11.CKR_PIN_LEN_RANGE, pkcs11.CKR_PIN_EXPIRED, pkcs11.CKR_PIN_LOCKED):
		s.p.CloseSession(sh)
		return 0, fmt.Errorf("pkcs11: %w: logging in to token %q: PIN refused (%v)", hsm.ErrAuthentication, s.token, err)
	default:
		s.p.CloseSession(sh)
		return 0, fmt.Errorf("pkcs11: logging in to token %q: %w", s.token, err)
	}
}

// errClosed is returned by a closed store and its signers.
var errClosed = errors.New("pkcs11: key store is closed")

// acquire takes a session from the pool, opening one if none is idle and
// fewer than poolSize are in use; otherwise it waits.
func (s *Store) acquire(ctx context.Context) (session, error) {
	select {
	case s.sem <- struct{}{}:
	case <-ctx.Done():
		return session{}, fmt.Errorf("pkcs11: waiting for a session on token %q: %w", s.token, ctx.Err())
	}
	s.mu.Lock()
	if s.closed {
		s.mu.Unlock()
		<-s.sem
		return session{}, errClosed
	}
	if n := len(s.idle); n > 0 {
		sh := s.idle[n-1]
		s.idle = s.idle[:n-1]
		gen := s.gen
		s.mu.Unlock()
		return session{sh, gen}, nil
	}
	slot, gen := s.slot, s.gen
	s.mu.Unlock()
	sh, err := s.openSession(slot, false)
	if err != nil {
		<-s.sem
		return session{gen: gen}, err
	}
	return session{sh, gen}, nil
}

// release returns a session to the pool, or closes it if it is stale, the
// pool is full or closed, or opErr says the session is broken.
func (s *Store) release(ss session, opErr error) {
	defer func() { <-s.sem }()
	broken := needsRecovery(opErr)
	s.mu.Lock()
	if !s.closed && !broken && ss.gen == s.gen && len(s.idle) < s.poolSize {
		s.idle = append(s.idle, ss.h)
		s.mu.Unlock()
		return
	}
	// A session the module already closed is not closed again: a module
	// may have given its handle to a new session.
	closedByModule := ss.gen < s.dead || isCode(opErr, pkcs11.CKR_SESSION_HANDLE_INVALID, pkcs11.CKR_SESSION_CLOSED)
	s.mu.Unlock()
	if !closedByModule {
		s.p.CloseSession(ss.h)
	}
}

// recover is called after an operation on a session of generation gen
// failed with cause, a code that says sessions, login or objects may be
// gone. Unless another goroutine has recovered already, it drops the pool,
// finds the token's slot again by label, opens a session and logs in. Key
// handles cached by signers belong to the old generation and are looked up
// again.
func (s *Store) recover(gen uint64, cause error) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed {
		return errClosed
	}
	if s.gen != gen {
		return nil // someone recovered since that session was handed out
	}
	s.log.Warn("pkcs11: recovering token sessions", "token", s.token, "cause", errText(cause), "generation", gen+1)
	old := s.idle
	s.idle = nil
	s.gen++
	sessionsGone := isCode(cause, pkcs11.CKR_SESSION_HANDLE_INVALID, pkcs11.CKR_SESSION_CLOSED, pkcs11.CKR_DEVICE_REMOVED, pkcs11.CKR_TOKEN_NOT_PRESENT)
	if sessionsGone {
		s.dead = s.gen
	} else {
		for _, sh := range old {
			s.p.CloseSession(sh)
		}
	}
	slot, err := s.findSlot()
	if err != nil {
		return fmt.Errorf("pkcs11: recovering after %v: %w", errText(cause), err)
	}
	s.slot = slot
	// Objects vanishing is how a token re-initialised underneath (by
	// softhsm2-util --init-token, say) shows, and the process stays logged
	// in to the old token as long as any of its sessions is open; so log in
	// afresh, with the PIN as it is now. Operations inside the module
	// meanwhile fail with CKR_USER_NOT_LOGGED_IN and retry once this
	// recovery is done.
	relogin := isCode(cause, pkcs11.CKR_OBJECT_HANDLE_INVALID, pkcs11.CKR_KEY_HANDLE_INVALID, pkcs11.CKR_USER_NOT_LOGGED_IN, pkcs11.CKR_DEVICE_ERROR, pkcs11.CKR_TOKEN_NOT_RECOGNIZED)
	sh, err := s.openSession(slot, relogin)
	if err != nil {
		return fmt.Errorf("pkcs11: recovering after %v: %w", errText(cause), err)
	}
	s.idle = append(s.idle, sh)
	return nil
}

// do runs fn on a pooled session. If fn fails with an error that calls for
// recovery, the store recovers and fn runs once more, on a session of the
// new generation. When recovery fails, or the operation fails so again,
// the error wraps hsm.ErrUnavailable: the token is not usable now.
func (s *Store) do(ctx context.Context, fn func(session) error) error {
	for attempt := 0; ; attempt++ {
		ss, err := s.acquire(ctx)
		if err == nil {
			err = fn(ss)
			s.release(ss, err)
		}
		if err == nil || !needsRecovery(err) {
			return err
		}
		if attempt > 0 {
			return fmt.Errorf("pkcs11: %w: token %q still fails after its sessions were recovered: %w", hsm.ErrUnavailable, s.token, err)
		}
		if rerr := s.recover(ss.gen, err); rerr != nil {
			return fmt.Errorf("pkcs11: %w: %w (and recovery failed: %w)", hsm.ErrUnavailable, err, rerr)
		}
	}
}

// generation returns the current recovery generation.
func (s *Store) generation() uint64 {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.gen
}

// Close closes the store's sessions; its signers stop working. It neither
// logs out nor finalises the module: PKCS#11 login and initialisation belong
// to the process, and other stores in it may still use the token.
func (s *Store) Close() error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed {
		return nil
	}
	s.closed = true
	if s.stopSweep != nil {
		close(s.stopSweep)
	}
	for _, sh := range s.idle {
		s.p.CloseSession(sh)
	}
	s.idle = nil
	return nil
}

// needsRecovery reports whether err carries a PKCS#11 code after which the
// pool, the login or the object handles cannot be trusted.
func needsRecovery(err error) bool {
	return isCode(err,
		pkcs11.CKR_SESSION_HANDLE_INVALID, pkcs11.CKR_SESSION_CLOSED,
		pkcs11.CKR_OBJECT_HANDLE_INVALID, pkcs11.CKR_KEY_HANDLE_INVALID,
		pkcs11.CKR_USER_NOT_LOGGED_IN, pkcs11.CKR_DEVICE_REMOVED,
		pkcs11.CKR_TOKEN_NOT_PRESENT, pkcs11.CKR_DEVICE_ERROR,
		pkcs11.CKR_TOKEN_NOT_RECOGNIZED)
}

// isCode reports whether err wraps a pkcs11.Error with one of codes.
func isCode(err error, codes ...uint) bool {
	var e pkcs11.Error
	if err == nil || !errors.As(err, &e) {
		return false
	}
	for _, c := range codes {
		if uint(e) == c {
			return true
		}
	}
	return false
}

// errText is err's message, or "" for nil.
func errText(err error) string {
	if err == nil {
		return ""
	}
	return err.Error()
}
