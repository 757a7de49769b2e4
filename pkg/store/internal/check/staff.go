package check

import (
	"strings"

	"github.com/kyso-pki/kyso/pkg/store"
)

// Bounds on a staff record.
const (
	MaxStaffWards = 64 // wards one person may work in
	MaxWard       = 32 // a ward's code
)

// Staff checks a staff record.
func Staff(s *store.Staff) error {
	if s == nil {
		return Invalid("staff is nil")
	}
	if err := ID("staff ID", s.ID); err != nil {
		return err
	}
	for _, f := range []struct{ name, v string }{{"staff full name", s.FullName}, {"staff position", s.Position}, {"staff provider", s.Provider}} {
		if err := String(f.name, f.v, MaxText, true); err != nil {
			return err
		}
	}
	if s.BirthYear < 1900 || s.BirthYear > 2100 {
		return Invalid("staff birth year %d is not between 1900 and 2100", s.BirthYear)
	}
	if len(s.Wards) > MaxStaffWards {
		return Invalid("staff has %d wards, more than %d", len(s.Wards), MaxStaffWards)
	}
	for _, w := range s.Wards {
		if w == "" || len(w) > MaxWard || strings.ContainsAny(w, ", \t\r\n") {
			return Invalid("staff ward %q is not a short code", w)
		}
	}
	if err := Bytes("staff photo", s.Photo, store.MaxStaffPhoto); err != nil {
		return err
	}
	if s.PhotoType != "image/jpeg" && s.PhotoType != "image/png" {
		return Invalid("staff photo type %q is not image/jpeg or image/png", s.PhotoType)
	}
	if s.AuthorisedFrom.IsZero() || !s.AuthorisedUntil.After(s.AuthorisedFrom) {
		return Invalid("staff authorisation %v to %v is empty", s.AuthorisedFrom, s.AuthorisedUntil)
	}
	return nil
}
