package store

import (
	"context"
	"time"
)

// StaffRegistry keeps the provider's registration officers and field
// staff (issue 18): who may enrol citizens, where and until when. The
// badge check page reads it on every check, so a revocation takes effect
// at once.
type StaffRegistry interface {
	// PutStaff records a staff member and audit in one transaction;
	// ErrExists when the ID is taken.
	PutStaff(ctx context.Context, s *Staff, audit ...*AuditEvent) error
	// GetStaff returns the staff member with this ID, or ErrNotFound.
	GetStaff(ctx context.Context, id string) (*Staff, error)
	// ListStaff returns every staff member, oldest first, without photos.
	ListStaff(ctx context.Context) ([]*Staff, error)
	// RevokeStaff sets the staff member's revocation time to at and
	// records audit, in one transaction; ErrNotFound for an unknown ID,
	// ErrConflict when already revoked (the first revocation stands).
	RevokeStaff(ctx context.Context, id string, at time.Time, audit ...*AuditEvent) error
}

// Staff is a registration officer or field staff member.
type Staff struct {
	// ID names the staff member ("staff-…"); it is what a badge carries.
	ID string
	// FullName, BirthYear and Position are shown on the badge check page.
	FullName  string
	BirthYear int
	Position  string
	// Provider is the provider's name the person works for.
	Provider string
	// Wards are the codes of the wards the person may work in; none
	// means any.
	Wards []string
	// Photo is a JPEG or PNG of at most MaxStaffPhoto bytes; PhotoType
	// its media type ("image/jpeg" or "image/png"). ListStaff leaves
	// Photo nil.
	Photo     []byte
	PhotoType string
	// AuthorisedFrom and AuthorisedUntil bound the authorisation.
	AuthorisedFrom, AuthorisedUntil time.Time
	// RevokedAt is when the authorisation was revoked; zero when it was
	// not.
	RevokedAt time.Time
	CreatedAt time.Time
}

// MaxStaffPhoto bounds a staff member's photo (200 KB).
const MaxStaffPhoto = 200 * 1024
