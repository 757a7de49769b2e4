package signing_test

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"testing"
	"time"

	"github.com/kyso-pki/kyso/hsm"
	"github.com/kyso-pki/kyso/pkg/ca"
	"github.com/kyso-pki/kyso/pkg/signing"
	"github.com/kyso-pki/kyso/pkg/signing/signingtest"
	"github.com/kyso-pki/kyso/pkg/store"
)

// TestKeyHistory: every signature an owner's key made, newest first, with
// its portal, transaction and document name, and only that owner's.
func TestKeyHistory(t *testing.T) {
	e := newEnv(t)
	ctx := context.Background()
	portal, err := e.svc.CreateClient(ctx, "Cổng thuế", "", "test")
	if err != nil {
		t.Fatal(err)
	}
	mine, theirs := e.enrol(t, hsm.ECDSAP256), e.enrol(t, hsm.ECDSAP256)
	for i, doc := range []string{"to-khai-1.xml", "to-khai-2.xml"} {
		tx, _, err := e.svc.Submit(ctx, &signing.SubmitRequest{ClientID: portal.ID, ClientRef: doc, NationalID: mine.NationalID,
			Description: "Tờ khai", Documents: []signing.Document{{DocID: doc, Hash: digest(doc)}}})
		if err != nil {
			t.Fatal(err)
		}
		if _, err := e.svc.Approve(ctx, mine.OwnerID, tx.ID, "271828", e.next(t, mine)); err != nil {
			t.Fatalf("approval %d: %v", i+1, err)
		}
	}
	uses, err := e.svc.KeyHistory(ctx, mine.OwnerID)
	if err != nil {
		t.Fatal(err)
	}
	if len(uses) != 2 || uses[0].DocID != "to-khai-2.xml" || uses[1].DocID != "to-khai-1.xml" {
		t.Fatalf("history %+v", uses)
	}
	for _, u := range uses {
		if u.ClientID != portal.ID || u.CredentialID != mine.CredentialID || u.TransactionID == "" || !bytes.Equal(u.Digest, digest(u.DocID)) || u.HashAlgorithm != "SHA-256" {
			t.Errorf("use %+v", u)
		}
	}
	if none, err := e.svc.KeyHistory(ctx, theirs.OwnerID); err != nil || len(none) != 0 {
		t.Errorf("another owner's history: %d uses, %v", len(none), err)
	}
}

// TestSuspendOwn: the owner's "I did not do this" suspends their own
// certificate (again: no error), never another owner's.
func TestSuspendOwn(t *testing.T) {
	e := newEnv(t)
	ctx := context.Background()
	mine, theirs := e.enrol(t, hsm.ECDSAP256), e.enrol(t, hsm.ECDSAP256)
	if err := e.svc.SuspendOwn(ctx, theirs.OwnerID, mine.CredentialID, 0); !isCode(err, signing.KindNotFound) {
		t.Fatalf("another owner's credential: %v", err)
	}
	for i := range 2 {
		if err := e.svc.SuspendOwn(ctx, mine.OwnerID, mine.CredentialID, 7); err != nil {
			t.Fatalf("suspension %d: %v", i+1, err)
		}
	}
	cred, err := e.svc.Credential(ctx, mine.CredentialID)
	if err != nil {
		t.Fatal(err)
	}
	// The CA's clock is the wall clock; its revocation times are whole
	// seconds, so the test clock may read before them: ask at wall time.
	st, err := e.svc.CertificateStatus(ctx, cred, mine.Certificate, time.Now())
	if err != nil || st != signing.CertSuspended {
		t.Errorf("status %s, %v", st, err)
	}
	theirCred, _ := e.svc.Credential(ctx, theirs.CredentialID)
	if st, _ := e.svc.CertificateStatus(ctx, theirCred, theirs.Certificate, e.clock.Now()); st != signing.CertValid {
		t.Errorf("the other owner's certificate is %s", st)
	}
}

// TestSuspendOwnTellsOperators: a dispute queues one webhook for the
// operators' client (Config.OperatorClient) with the owner, credential,
// serial and disputed event, keyed by the owner.disown intent; no
// operators' client, or one without a webhook URL, queues nothing and the
// suspension still stands.
func TestSuspendOwnTellsOperators(t *testing.T) {
	e := newEnv(t)
	ctx := context.Background()
	desk, err := e.svc.CreateClient(ctx, "Trực ban vận hành", "https://ops.example/disputes", "test")
	if err != nil {
		t.Fatal(err)
	}
	silent, err := e.svc.CreateClient(ctx, "Không có webhook", "", "test")
	if err != nil {
		t.Fatal(err)
	}
	due := func() []*store.Webhook {
		t.Helper()
		list, err := e.p.Store.ClaimWebhooks(ctx, e.clock.Now().Add(time.Minute), time.Minute, 10)
		if err != nil {
			t.Fatal(err)
		}
		return list
	}
	for _, tc := range []struct {
		name, client string
		told         bool
	}{
		{"operators' desk", desk.ID, true},
		{"no operators' client", "", false},
		{"a client without a webhook", silent.ID, false},
		{"an unknown client", "nobody", false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			cfg := signingtest.Config(e.clock)
			cfg.OperatorClient = tc.client
			svc := signingtest.NewService(t, e.p, cfg)
			en := e.enrol(t, hsm.ECDSAP256)
			if err := svc.SuspendOwn(ctx, en.OwnerID, en.CredentialID, 42); err != nil {
				t.Fatal(err)
			}
			cred, _ := svc.Credential(ctx, en.CredentialID)
			if st, err := svc.CertificateStatus(ctx, cred, en.Certificate, time.Now()); err != nil || st != signing.CertSuspended {
				t.Errorf("status %s, %v", st, err)
			}
			list := due()
			if !tc.told {
				if len(list) != 0 {
					t.Fatalf("queued %d webhooks", len(list))
				}
				return
			}
			if len(list) != 1 || list[0].ClientID != desk.ID || list[0].URL != "https://ops.example/disputes" {
				t.Fatalf("queued %+v", list)
			}
			var d signing.Dispute
			if err := json.Unmarshal(list[0].Body, &d); err != nil {
				t.Fatal(err)
			}
			if d.Event != "owner.disown" || d.OwnerID != en.OwnerID || d.NationalID != en.NationalID || d.CredentialID != en.CredentialID ||
				d.DisputedEvent != 42 || d.AuditEvent == 0 || d.Serial != ca.FormatSerial(en.Certificate.SerialNumber.Bytes()) {
				t.Errorf("dispute %+v", d)
			}
			if want := fmt.Sprintf("owner.disown:%d", d.AuditEvent); list[0].IdempotencyKey != want {
				t.Errorf("idempotency key %q, want %q", list[0].IdempotencyKey, want)
			}
		})
	}
}
