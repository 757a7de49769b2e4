package signing_test

import (
	"bytes"
	"context"
	"testing"

	"github.com/kyso-pki/kyso/hsm"
	"github.com/kyso-pki/kyso/internal/testpdf"
	"github.com/kyso-pki/kyso/pkg/pdf"
	"github.com/kyso-pki/kyso/pkg/signing"
)

// TestSubmitOwn: an owner's own PDF becomes a transaction of the built-in
// app client, with its stamp; Approve signs it visibly there; the history
// names the app; the app client cannot authenticate; another owner
// neither sees nor approves it; a stamp off the page is refused.
func TestSubmitOwn(t *testing.T) {
	e := newEnv(t)
	ctx := context.Background()
	mine, theirs := e.enrol(t, hsm.ECDSAP256), e.enrol(t, hsm.ECDSAP256)
	doc := testpdf.Minimal("Don xin nghi phep")
	stamp := &signing.Stamp{Page: 1, Rect: [4]float64{100, 200, 180, 60}}
	tx, err := e.svc.SubmitOwn(ctx, &signing.OwnRequest{OwnerID: mine.OwnerID, Name: "don.pdf", PDF: doc, Stamp: stamp})
	if err != nil {
		t.Fatal(err)
	}
	if tx.ClientID != signing.AppClientID || tx.Documents[0].Stamp == nil || *tx.Documents[0].Stamp != *stamp {
		t.Fatalf("the transaction %+v", tx)
	}
	if c, err := e.svc.Client(ctx, signing.AppClientID); err != nil || c.Name != signing.AppClientName || !c.Disabled {
		t.Errorf("the app's client: %+v, %v", c, err)
	}
	if _, err := e.svc.CheckClient(ctx, signing.AppClientID, ""); !isCode(err, signing.KindClientInvalid) {
		t.Errorf("the app's client authenticated: %v", err)
	}
	if _, err := e.svc.OwnDocument(ctx, theirs.OwnerID, tx.ID); !isCode(err, signing.KindNotFound) {
		t.Errorf("another owner's document: %v", err)
	}
	if _, err := e.svc.Approve(ctx, theirs.OwnerID, tx.ID, "271828", e.next(t, theirs)); !isCode(err, signing.KindNotFound) {
		t.Errorf("another owner approved it: %v", err)
	}
	if _, err := e.svc.Approve(ctx, mine.OwnerID, tx.ID, "271828", e.next(t, mine)); err != nil {
		t.Fatal(err)
	}
	x, err := e.svc.OwnDocument(ctx, mine.OwnerID, tx.ID)
	if err != nil || len(x.Signatures) != 1 {
		t.Fatalf("the signed document: %v", err)
	}
	signed := x.Signatures[0].SignedPDF
	rd, err := pdf.Open(bytes.NewReader(signed), int64(len(signed)), nil)
	if err != nil {
		t.Fatal(err)
	}
	pages, _ := rd.Pages()
	annots, _ := rd.Get(pages[0].Dict.Get("Annots"))
	a, _ := annots.(pdf.Array)
	if len(a) != 1 {
		t.Fatalf("page 1 has annotations %v", annots)
	}
	w, _ := rd.Get(a[0])
	r, err := rd.Rect(w.(*pdf.Dict).Get("Rect"))
	if err != nil || r != [4]float64{100, 200, 280, 260} {
		t.Errorf("the stamp's /Rect %v (%v), want [100 200 280 260]", r, err)
	}
	uses, err := e.svc.KeyHistory(ctx, mine.OwnerID)
	if err != nil || len(uses) != 1 || uses[0].ClientID != signing.AppClientID || uses[0].DocID != "don.pdf" {
		t.Errorf("history %+v, %v", uses, err)
	}
	for _, bad := range []*signing.Stamp{{Page: 2, Rect: stamp.Rect}, {Page: 1, Rect: [4]float64{500, 700, 260, 80}}} {
		if _, err := e.svc.SubmitOwn(ctx, &signing.OwnRequest{OwnerID: mine.OwnerID, Name: "don.pdf", PDF: doc, Stamp: bad}); !isCode(err, signing.KindInvalid) {
			t.Errorf("stamp %+v: %v", bad, err)
		}
	}
}
