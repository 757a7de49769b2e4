package audit

import (
	"context"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"time"

	"github.com/kyso-pki/kyso/pkg/store"
)

// Line is one line of an export: an event ("type":"event") or a
// checkpoint ("type":"checkpoint"), as JSON. Hashes are hex; the public
// key (PKIX DER) and signature are base64 (encoding/json's []byte).
// Details is the event's JSON object as the exact text stored and hashed,
// in a string, so that an auditor can recompute store.AuditHash.
type Line struct {
	Type string `json:"type"`
	// Chain is store.AuditChainVersion, the encoding the hashes follow.
	Chain int `json:"chain"`
	// ID is the event's ID (its place in the chain) or the checkpoint's.
	ID   int64     `json:"id"`
	Time time.Time `json:"time"`

	Actor    string `json:"actor,omitempty"`
	Action   string `json:"action,omitempty"`
	Subject  string `json:"subject,omitempty"`
	Outcome  string `json:"outcome,omitempty"`
	Details  string `json:"details,omitempty"`
	PrevHash string `json:"prev_hash,omitempty"`
	Hash     string `json:"hash,omitempty"`

	Seq       *int64 `json:"seq,omitempty"`
	KeyLabel  string `json:"key_label,omitempty"`
	PublicKey []byte `json:"public_key,omitempty"`
	Signature []byte `json:"signature,omitempty"`
}

// Export writes, as JSON lines, the events whose time is in [from, to)
// (zero: unbounded), in ID order, then the checkpoints signed in the same
// span; it returns how many events it wrote.
func Export(ctx context.Context, st Store, w io.Writer, from, to time.Time) (int, error) {
	enc := json.NewEncoder(w)
	in := func(t time.Time) bool { return (from.IsZero() || !t.Before(from)) && (to.IsZero() || t.Before(to)) }
	n := 0
	for after := int64(0); ; {
		page, err := st.ListAudit(ctx, after, 10000)
		if err != nil {
			return n, fmt.Errorf("audit: export: %w", err)
		}
		if len(page) == 0 {
			break
		}
		for _, e := range page {
			if !in(e.Time) {
				continue
			}
			if err := enc.Encode(eventLine(e)); err != nil {
				return n, fmt.Errorf("audit: export: %w", err)
			}
			n++
		}
		after = page[len(page)-1].ID
	}
	for after := int64(0); ; {
		page, err := st.ListAuditCheckpoints(ctx, after, 10000)
		if err != nil {
			return n, fmt.Errorf("audit: export: %w", err)
		}
		if len(page) == 0 {
			break
		}
		for _, c := range page {
			if !in(c.Time) {
				continue
			}
			seq := c.Seq
			l := Line{Type: "checkpoint", Chain: store.AuditChainVersion, ID: c.ID, Time: c.Time, Seq: &seq, Hash: hex.EncodeToString(c.Hash),
				KeyLabel: c.KeyLabel, PublicKey: c.PublicKey, Signature: c.Signature}
			if err := enc.Encode(l); err != nil {
				return n, fmt.Errorf("audit: export: %w", err)
			}
		}
		after = page[len(page)-1].ID
	}
	return n, nil
}

// eventLine is e as an export line.
func eventLine(e *store.AuditEvent) Line {
	return Line{Type: "event", Chain: store.AuditChainVersion, ID: e.ID, Time: e.Time, Actor: e.Actor, Action: e.Action,
		Subject: e.Subject, Outcome: e.Outcome, Details: string(e.Details), PrevHash: hex.EncodeToString(e.PrevHash), Hash: hex.EncodeToString(e.Hash)}
}
