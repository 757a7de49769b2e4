package store

import (
	"crypto/sha256"
	"encoding/binary"
	"time"
)

// AuditChainVersion is the version of the audit chain's encoding (see
// AuditHash); it begins every hashed message, so a later encoding cannot
// be mistaken for this one.
const AuditChainVersion = 1

// auditDomain begins every event's hashed message.
const auditDomain = "kyso-audit-event-v1"

// AuditHash is the chain hash of an audit event, version 1: SHA-256 of
//
//	"kyso-audit-event-v1"
//	u64(id) i64(time, Unix microseconds, UTC)
//	str(actor) str(action) str(subject) str(outcome) str(details)
//	str(prev)
//
// where u64 and i64 are 8 bytes big-endian, str(x) is u64(len(x)) then
// x's bytes, details is the JSON object's bytes as stored, and prev is the
// previous event's hash (empty before the first event). Every stored field
// of the event is covered, each framed by its length, so no two events
// encode alike. e.Time must be as stored (whole microseconds).
func AuditHash(e *AuditEvent, prev []byte) []byte {
	h := sha256.New()
	var n [8]byte
	u64 := func(v uint64) {
		binary.BigEndian.PutUint64(n[:], v)
		h.Write(n[:])
	}
	str := func(b []byte) {
		u64(uint64(len(b)))
		h.Write(b)
	}
	h.Write([]byte(auditDomain))
	u64(uint64(e.ID))
	u64(uint64(e.Time.UnixMicro()))
	str([]byte(e.Actor))
	str([]byte(e.Action))
	str([]byte(e.Subject))
	str([]byte(e.Outcome))
	str(e.Details)
	str(prev)
	return h.Sum(nil)
}

// checkpointDomain begins every checkpoint's signed message.
const checkpointDomain = "kyso-audit-checkpoint-v1"

// AuditCheckpoint is a signed statement that the audit chain reached Hash
// at event Seq: every event up to Seq is sealed by it.
type AuditCheckpoint struct {
	// ID is assigned by AppendAuditCheckpoint, increasing.
	ID int64
	// Seq is the ID of the last event it covers (0: an empty log).
	Seq int64
	// Hash is the chain hash of event Seq (empty for an empty log).
	Hash []byte
	// Time is when it was signed, to the microsecond.
	Time time.Time
	// KeyLabel names the audit key in the key store.
	KeyLabel string
	// PublicKey is the key's public half (PKIX DER), as recorded when it
	// signed; a verifier trusts the key store's, or the auditor's copy,
	// not this one.
	PublicKey []byte
	// Signature is the key's signature over SignedMessage.
	Signature []byte
}

// SignedMessage is what a checkpoint's key signs, version 1:
// "kyso-audit-checkpoint-v1" u64(seq) str(hash) i64(time, Unix
// microseconds) str(key label), as in AuditHash. The signature is over its
// SHA-256 digest.
func (c *AuditCheckpoint) SignedMessage() []byte {
	b := []byte(checkpointDomain)
	b = binary.BigEndian.AppendUint64(b, uint64(c.Seq))
	b = binary.BigEndian.AppendUint64(b, uint64(len(c.Hash)))
	b = append(b, c.Hash...)
	b = binary.BigEndian.AppendUint64(b, uint64(c.Time.UnixMicro()))
	b = binary.BigEndian.AppendUint64(b, uint64(len(c.KeyLabel)))
	return append(b, c.KeyLabel...)
}
