package signing_test

import (
	"bytes"
	"context"
	"testing"

	"github.com/kyso-pki/kyso/hsm"
	"github.com/kyso-pki/kyso/pkg/signing"
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
	st, err := e.svc.CertificateStatus(ctx, cred, mine.Certificate, e.clock.Now())
	if err != nil || st != signing.CertSuspended {
		t.Errorf("status %s, %v", st, err)
	}
	theirCred, _ := e.svc.Credential(ctx, theirs.CredentialID)
	if st, _ := e.svc.CertificateStatus(ctx, theirCred, theirs.Certificate, e.clock.Now()); st != signing.CertValid {
		t.Errorf("the other owner's certificate is %s", st)
	}
}
