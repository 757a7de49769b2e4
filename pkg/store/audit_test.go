package store_test

import (
	"bytes"
	"encoding/hex"
	"testing"
	"time"

	"github.com/kyso-pki/kyso/pkg/store"
)

// event is the event the known answers below were computed for, from the
// encoding in AuditHash's comment, by Python's hashlib (not this code).
func event() *store.AuditEvent {
	return &store.AuditEvent{ID: 7, Time: time.UnixMicro(1765000000123456), Actor: "kysod", Action: "signature.create",
		Subject: "cred-1 Đức", Outcome: "ok", Details: []byte(`{"n":1}`)}
}

// TestAuditHashVersion1 pins encoding version 1: a change to it must come
// with a new version, or every stored chain stops verifying.
func TestAuditHashVersion1(t *testing.T) {
	got := hex.EncodeToString(store.AuditHash(event(), bytes.Repeat([]byte{1}, 32)))
	if want := "6dc7894a91fdafd24b9fdd8e076ed462a5bd03fe23112c2d23ccf41adf6f41c6"; got != want {
		t.Fatalf("AuditHash = %s, want %s", got, want)
	}
	cp := &store.AuditCheckpoint{Seq: 42, Hash: bytes.Repeat([]byte{2}, 32), Time: time.UnixMicro(1765000000123456), KeyLabel: "audit-checkpoint-1"}
	want := "6b79736f2d61756469742d636865636b706f696e742d7631000000000000002a0000000000000020" +
		"0202020202020202020202020202020202020202020202020202020202020202" +
		"0006454216093240000000000000001261756469742d636865636b706f696e742d31"
	if got := hex.EncodeToString(cp.SignedMessage()); got != want {
		t.Fatalf("SignedMessage = %s, want %s", got, want)
	}
}

// TestAuditHashCoversEachField: each field and the previous hash change
// the hash, and moving bytes from one field to the next does too (the
// fields are framed by their lengths).
func TestAuditHashCoversEachField(t *testing.T) {
	prev := bytes.Repeat([]byte{1}, 32)
	base := store.AuditHash(event(), prev)
	for name, change := range map[string]func(e *store.AuditEvent){
		"id":       func(e *store.AuditEvent) { e.ID++ },
		"time":     func(e *store.AuditEvent) { e.Time = e.Time.Add(time.Microsecond) },
		"actor":    func(e *store.AuditEvent) { e.Actor = "kysoe" },
		"action":   func(e *store.AuditEvent) { e.Action += "x" },
		"subject":  func(e *store.AuditEvent) { e.Subject = "" },
		"outcome":  func(e *store.AuditEvent) { e.Outcome = "error" },
		"details":  func(e *store.AuditEvent) { e.Details = []byte(`{"n":2}`) },
		"framing":  func(e *store.AuditEvent) { e.Actor, e.Action = "kysods", "ignature.create" },
		"chain ok": func(e *store.AuditEvent) { e.PrevHash, e.Hash = []byte("stored fields"), []byte("not hashed") },
	} {
		e := event()
		change(e)
		if got := store.AuditHash(e, prev); bytes.Equal(got, base) != (name == "chain ok") {
			t.Errorf("%s: hash changed %v", name, !bytes.Equal(got, base))
		}
	}
	if bytes.Equal(store.AuditHash(event(), nil), base) {
		t.Error("the previous hash is not covered")
	}
}

func BenchmarkAuditHash(b *testing.B) {
	e, prev := event(), bytes.Repeat([]byte{1}, 32)
	for b.Loop() {
		store.AuditHash(e, prev)
	}
}
