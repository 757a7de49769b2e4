package signing

import (
	"context"
	"errors"
	"strings"

	"github.com/kyso-pki/kyso/pkg/store"
)

// Credentials lists an owner's credentials by national ID ("CCCD:…", or
// the 12 digits of a CCCD), oldest first.
func (s *Service) Credentials(ctx context.Context, nationalID string) ([]*store.Credential, error) {
	if !strings.Contains(nationalID, ":") {
		nationalID = "CCCD:" + nationalID
	}
	if !validID(nationalID) {
		return nil, fail(KindNotFound, "no owner with that national ID")
	}
	o, err := s.st.GetOwnerByNationalID(ctx, nationalID)
	if errors.Is(err, store.ErrNotFound) {
		return nil, fail(KindNotFound, "no owner with that national ID")
	}
	if err != nil {
		return nil, err
	}
	return s.st.ListCredentials(ctx, o.ID)
}

// Credential returns a credential by ID.
func (s *Service) Credential(ctx context.Context, id string) (*store.Credential, error) {
	if !validID(id) {
		return nil, fail(KindInvalid, "a credentialID of 1 to 128 bytes of UTF-8 is required")
	}
	c, err := s.st.GetCredential(ctx, id)
	if errors.Is(err, store.ErrNotFound) {
		return nil, fail(KindNotFound, "unknown credentialID")
	}
	return c, err
}
