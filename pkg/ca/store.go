package ca

import (
	"context"
	"time"

	"github.com/kyso-pki/kyso/pkg/store"
)

// Store is what an Authority keeps in the database: its CA records, the
// serials it reserves and the certificates it issues, their revocations
// and holds, its CRLs, and the audit log. It is the part of store.Store
// the Authority calls, and every store.Store is one (store.Store says what
// each method promises).
type Store interface {
	PutCA(ctx context.Context, ca *store.CA) error
	GetCA(ctx context.Context, name string) (*store.CA, error)
	ListCAs(ctx context.Context) ([]*store.CA, error)

	ReserveSerial(ctx context.Context, r *store.SerialReservation, audit ...*store.AuditEvent) error
	OpenReservations(ctx context.Context, before time.Time, limit int) ([]*store.SerialReservation, error)
	SettleReservation(ctx context.Context, r *store.SerialReservation, at time.Time, audit ...*store.AuditEvent) (bool, error)
	PutCertificate(ctx context.Context, c *store.Certificate, audit ...*store.AuditEvent) error
	GetCertificate(ctx context.Context, issuer string, serial []byte) (*store.Certificate, error)
	ListCertificates(ctx context.Context, f *store.CertificateFilter) ([]*store.Certificate, error)
	PublicKeyCertified(ctx context.Context, spkiSHA256 []byte) (bool, error)

	Revoke(ctx context.Context, r *store.Revocation) error
	ReleaseHold(ctx context.Context, issuer string, serial []byte) error
	ListRevoked(ctx context.Context, issuer string, shard int, expiredBefore time.Time) ([]*store.Revocation, error)
	GetRevocation(ctx context.Context, issuer string, serial []byte) (*store.Revocation, error)

	NextCRLNumber(ctx context.Context, issuer string) (int64, error)
	PutCRL(ctx context.Context, crl *store.CRL) error
	LatestCRL(ctx context.Context, issuer string, shard int) (*store.CRL, error)
	CRLShards(ctx context.Context, issuer string) ([]int, error)

	AppendAudit(ctx context.Context, es ...*store.AuditEvent) error
	ListAudit(ctx context.Context, after int64, limit int) ([]*store.AuditEvent, error)

	ClaimUpkeep(ctx context.Context, name, holder string, now, until time.Time) (bool, error)
}

var _ Store = store.Store(nil)
