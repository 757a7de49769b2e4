package signing

import (
	"context"
	"errors"
	"fmt"

	"github.com/kyso-pki/kyso/pkg/store"
)

// The citizen's app as a requester. An owner signing a document of their
// own (SubmitOwn) goes through the same transactions as a portal's
// request — Submit, then Approve, the one approval path — with the app's
// built-in client as the requester: a client row (transactions name
// their client) that is disabled and has no secret, so no one can
// authenticate as it, take a token for it or receive its webhooks. Lists
// and the history name it AppClientName like any portal.
const (
	// AppClientID is the built-in client's ID: a hyphen, which the IDs
	// CreateClient makes (base32) never hold.
	AppClientID = "kyso-app"
	// AppClientName is its registered name.
	AppClientName = "Ứng dụng kyso"
)

// Stamp places the visible signature of a PDF kyso holds: Page, counted
// from 1, and Rect — x, y, width, height in points in the page's default
// user space — as pades.Visible takes them. It is kept with the document
// in the transaction, so the place is part of what the owner approves.
type Stamp struct {
	Page int        `json:"page"`
	Rect [4]float64 `json:"rect"`
}

// OwnRequest is a document an owner asks to sign themself, in the app.
type OwnRequest struct {
	OwnerID string
	// Name is the document's name as the owner sees it (its file name);
	// Description says what the request is, as a portal's does.
	Name, Description string
	PDF               []byte
	// Stamp is where the visible signature goes; nil signs invisibly.
	Stamp *Stamp
	// Ref tells submissions apart: the same Ref again returns the first
	// transaction. Empty means a new one each time.
	Ref string
}

// SubmitOwn records a transaction, pending the owner's own approval, to
// sign req.PDF at Config.DefaultLevel (B-LT when the service has a TSA
// and validation data) with the owner's newest active credential,
// requested by the built-in app client (AppClientID) and audited as the
// owner's. Approve signs it, as any other.
func (s *Service) SubmitOwn(ctx context.Context, req *OwnRequest) (*Transaction, error) {
	if !validID(req.OwnerID) {
		return nil, fail(KindNotFound, "no such owner")
	}
	o, err := s.st.GetOwner(ctx, req.OwnerID)
	if errors.Is(err, store.ErrNotFound) {
		return nil, fail(KindNotFound, "no such owner")
	}
	if err != nil {
		return nil, err
	}
	if err := s.appClient(ctx); err != nil {
		return nil, err
	}
	ref := req.Ref
	if ref == "" {
		if ref, err = randomID(s.cfg.Rand, 10); err != nil {
			return nil, err
		}
	}
	x, _, err := s.submit(ctx, &SubmitRequest{ClientID: AppClientID, ClientRef: "own:" + req.OwnerID + ":" + ref, NationalID: o.NationalID,
		Description: req.Description, Documents: []Document{{DocID: req.Name, PDF: req.PDF, Stamp: req.Stamp}}}, "owner:"+req.OwnerID)
	return x, err
}

// appClient records the built-in app client, once.
func (s *Service) appClient(ctx context.Context) error {
	if _, err := s.st.GetClient(ctx, AppClientID); !errors.Is(err, store.ErrNotFound) {
		return err
	}
	err := s.st.PutClient(ctx, &store.Client{ID: AppClientID, Name: AppClientName, Disabled: true, CreatedAt: s.now(),
		// A citizen signing their own document (a form for a public
		// office, mostly) is public-service use: free in their free period.
		Category: store.CategoryPublicService})
	switch {
	case errors.Is(err, store.ErrExists):
		return nil // another replica made it
	case err != nil:
		return fmt.Errorf("signing: recording the app's client: %w", err)
	}
	return s.audit(ctx, "kysod", "client.create", AppClientID, "ok", map[string]any{"name": AppClientName, "builtin": true, "category": store.CategoryPublicService})
}

// OwnDocument returns an owner's own document's transaction (SubmitOwn),
// in any state: what the app offers to download once signed. Another
// owner's, and a portal's request, are not found.
func (s *Service) OwnDocument(ctx context.Context, ownerID, txID string) (*Transaction, error) {
	if !validID(txID) {
		return nil, fail(KindNotFound, "no such document")
	}
	t, err := s.st.GetTransaction(ctx, txID)
	if errors.Is(err, store.ErrNotFound) || (err == nil && (t.OwnerID != ownerID || t.ClientID != AppClientID)) {
		return nil, fail(KindNotFound, "no such document")
	}
	if err != nil {
		return nil, err
	}
	return s.expireIfDue(ctx, t)
}
