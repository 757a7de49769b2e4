package check

import "github.com/kyso-pki/kyso/pkg/store"

// MaxConsent bounds the consent text a registration records.
const MaxConsent = 4096

// Registration checks a new online self-registration.
func Registration(r *store.Registration) error {
	if r == nil {
		return Invalid("registration is nil")
	}
	for _, f := range []struct {
		field, v string
		max      int
		required bool
	}{
		{"registration ID", r.ID, MaxID, true},
		{"registration national ID", r.NationalID, MaxNationalID, true},
		{"registration name", r.Name, MaxText, true},
		{"registration province", r.Province, MaxText, true},
		{"registration ward", r.Ward, MaxText, false},
		{"registration phone", r.Phone, MaxText, false},
		{"registration email", r.Email, MaxText, false},
		{"registration PIN hash", r.PINHash, MaxText, r.Status == "" || r.Status == store.RegistrationPending},
		{"registration consent", r.ConsentText, MaxConsent, true},
	} {
		if err := String(f.field, f.v, f.max, f.required); err != nil {
			return err
		}
	}
	switch r.Status {
	case "", store.RegistrationPending:
	case store.RegistrationApproved:
		if r.OwnerID == "" || r.CredentialID == "" || r.PINHash != "" {
			return Invalid("an approved registration names its owner and credential, and keeps no PIN hash")
		}
	default:
		return Invalid("a registration is stored pending or approved, not %q", r.Status)
	}
	switch {
	case len(r.ClaimHash) != 32:
		return Invalid("a registration's claim hash is a SHA-256")
	case r.ConsentAt.IsZero() || r.ExpiresAt.IsZero():
		return Invalid("a registration needs its consent time and its end")
	}
	return nil
}
