// Package audit keeps the audit log tamper-evident: the audit key that
// signs the chain's checkpoints (Checkpointer), the check of a log
// (Verify: every event's hash and link, every checkpoint's signature and
// that the chain reaches it) and the export for auditors (Export, JSON
// lines). The chain itself is written by the store (store.AuditHash, one
// sequence in ID order); docs/DESIGN.md "The audit chain" says why.
package audit

import (
	"context"
	"crypto"
	"crypto/ecdsa"
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha256"
	"crypto/x509"
	"encoding/hex"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"time"

	"github.com/kyso-pki/kyso/hsm"
	"github.com/kyso-pki/kyso/pkg/store"
)

// KeyLabel is the audit key's label in the key store.
const KeyLabel = "audit-checkpoint-1"

// DefaultInterval is how often a Checkpointer signs the chain's head.
const DefaultInterval = time.Minute

// Store is what the audit package reads and writes.
type Store interface {
	ListAudit(ctx context.Context, after int64, limit int) ([]*store.AuditEvent, error)
	AuditHead(ctx context.Context) (int64, []byte, error)
	AppendAuditCheckpoint(ctx context.Context, c *store.AuditCheckpoint) error
	ListAuditCheckpoints(ctx context.Context, after int64, limit int) ([]*store.AuditCheckpoint, error)
}

// OpenKey returns the audit key's signer, making the key (ECDSA P-256) in
// ks on first use, as the CA makes its OCSP and TSA keys.
func OpenKey(ctx context.Context, ks hsm.KeyStore) (crypto.Signer, error) {
	s, err := hsm.OpenOrCreate(ctx, ks, KeyLabel, hsm.ECDSAP256)
	if err != nil {
		return nil, fmt.Errorf("audit: the audit key: %w", err)
	}
	return s, nil
}

// Checkpointer signs the chain's head with the audit key.
type Checkpointer struct {
	st   Store
	key  crypto.Signer
	spki []byte
	now  func() time.Time
	log  *slog.Logger

	mu   sync.Mutex
	last int64 // the seq this Checkpointer last signed, -1 before its first
}

// NewCheckpointer returns a Checkpointer signing with key (from OpenKey);
// now nil means time.Now, log nil means slog.Default().
func NewCheckpointer(st Store, key crypto.Signer, now func() time.Time, log *slog.Logger) (*Checkpointer, error) {
	spki, err := x509.MarshalPKIXPublicKey(key.Public())
	if err != nil {
		return nil, fmt.Errorf("audit: the audit key's public key: %w", err)
	}
	if now == nil {
		now = time.Now
	}
	if log == nil {
		log = slog.Default()
	}
	return &Checkpointer{st: st, key: key, spki: spki, now: now, log: log, last: -1}, nil
}

// Checkpoint signs and records the chain's head unless this Checkpointer
// signed the same head last time. Its first, at kysod's start, seals every
// event before it, those written before the chain existed included.
func (c *Checkpointer) Checkpoint(ctx context.Context) (*store.AuditCheckpoint, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	seq, hash, err := c.st.AuditHead(ctx)
	if err != nil {
		return nil, fmt.Errorf("audit: checkpoint: %w", err)
	}
	if seq == c.last {
		return nil, nil
	}
	cp := &store.AuditCheckpoint{Seq: seq, Hash: hash, Time: c.now().UTC().Truncate(time.Microsecond), KeyLabel: KeyLabel, PublicKey: c.spki}
	digest := sha256.Sum256(cp.SignedMessage())
	var opts crypto.SignerOpts = crypto.SHA256
	if _, ok := c.key.Public().(*rsa.PublicKey); ok {
		opts = &rsa.PSSOptions{SaltLength: rsa.PSSSaltLengthEqualsHash, Hash: crypto.SHA256}
	}
	if cp.Signature, err = c.key.Sign(rand.Reader, digest[:], opts); err != nil {
		return nil, fmt.Errorf("audit: signing the checkpoint at %d: %w", seq, err)
	}
	if err := c.st.AppendAuditCheckpoint(ctx, cp); err != nil {
		return nil, fmt.Errorf("audit: checkpoint: %w", err)
	}
	c.last = seq
	// The log line leaves the database: kept by the operator's log
	// collector, it shows a database rewritten whole, checkpoints and all.
	c.log.Info("audit checkpoint", "seq", seq, "hash", hex.EncodeToString(hash), "time", cp.Time)
	return cp, nil
}

// Run signs a checkpoint now, every interval (≤ 0: DefaultInterval) and
// once more when ctx ends (with a fresh 10-second context), logging
// failures; it returns when the last is written.
func (c *Checkpointer) Run(ctx context.Context, interval time.Duration) {
	if interval <= 0 {
		interval = DefaultInterval
	}
	tick := time.NewTicker(interval)
	defer tick.Stop()
	for {
		if _, err := c.Checkpoint(ctx); err != nil && ctx.Err() == nil {
			c.log.Error("audit checkpoint failed", "err", err)
		}
		select {
		case <-tick.C:
		case <-ctx.Done():
			end, cancel := context.WithTimeout(context.WithoutCancel(ctx), 10*time.Second)
			defer cancel()
			if _, err := c.Checkpoint(end); err != nil {
				c.log.Error("audit checkpoint at shutdown failed", "err", err)
			}
			return
		}
	}
}

// checkSignature verifies cp's signature with pub.
func checkSignature(cp *store.AuditCheckpoint, pub crypto.PublicKey) error {
	digest := sha256.Sum256(cp.SignedMessage())
	switch k := pub.(type) {
	case *ecdsa.PublicKey:
		if !ecdsa.VerifyASN1(k, digest[:], cp.Signature) {
			return errors.New("the signature does not verify")
		}
		return nil
	case *rsa.PublicKey:
		return rsa.VerifyPSS(k, crypto.SHA256, digest[:], cp.Signature, &rsa.PSSOptions{SaltLength: rsa.PSSSaltLengthEqualsHash})
	}
	return fmt.Errorf("an audit key of type %T is not supported", pub)
}

// KeyStoreKeys is the KeyFunc that trusts the public keys ks holds.
func KeyStoreKeys(ks hsm.KeyStore) KeyFunc {
	return func(ctx context.Context, label string) (crypto.PublicKey, error) {
		return ks.PublicKey(ctx, &hsm.PublicKeyRequest{Label: label})
	}
}
