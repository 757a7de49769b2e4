package ca

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/kyso-pki/kyso/pkg/store"
)

// DefaultSettleAfter is how old an open serial reservation must be before
// SettleReservations settles it when its caller gives no bound
// (server.PKIOptions.SettleAfter): far longer than any issuance takes
// between its reservation and its record (milliseconds; seconds with a
// slow HSM), so only a reservation whose process died is settled.
const DefaultSettleAfter = 10 * time.Minute

// SettleBatch is how many reservations one SettleReservations call
// settles at most: one write each, so a tick stays short however many a
// crash left.
const SettleBatch = 100

// ActionIssue is the audit action of issuance: its intent (with the
// serial's reservation), its outcome (ok with the certificate, error), or,
// when neither came, the settlement's abandoned.
const ActionIssue = "cert.issue"

// OutcomeAbandoned is the outcome SettleReservations writes for an
// issuance whose reservation no certificate and no outcome followed.
const OutcomeAbandoned = "abandoned"

// SettleReservations settles at most SettleBatch serial reservations made
// before before that no certificate followed and that were not settled
// (a process killed between the reservation and the record leaves one):
// each is marked abandoned with a cert.issue event of outcome abandoned
// naming the issuer, the serial and when it was reserved, in one
// transaction. It returns how many it settled; one settled meanwhile by
// another replica, or certified by an issuance finishing late, is passed
// over. A certificate recorded afterwards under a settled serial is
// refused (store.ErrSerialSettled), so what the log says stays true: no
// certificate was recorded under that serial, and if the issuer's key
// signed one before the crash it was never delivered.
func (a *Authority) SettleReservations(ctx context.Context, before time.Time) (int, error) {
	rs, err := a.st.OpenReservations(ctx, before, SettleBatch)
	if err != nil {
		return 0, fmt.Errorf("ca: listing open serial reservations: %w", err)
	}
	settled := 0
	var errs []error
	for _, r := range rs {
		e, err := a.auditEvent("", ActionIssue, r.Issuer+"/"+FormatSerial(r.Serial), OutcomeAbandoned, map[string]any{
			"issuer": r.Issuer, "serial": FormatSerial(r.Serial), "reserved_at": r.Reserved,
			"certificate": "none recorded: a certificate the key may have signed before the process stopped was never delivered",
		})
		if err != nil {
			return settled, err
		}
		ok, err := a.st.SettleReservation(ctx, r, a.now().UTC(), e)
		if err != nil {
			errs = append(errs, fmt.Errorf("ca: settling serial %s of %q: %w", FormatSerial(r.Serial), r.Issuer, err))
			continue
		}
		if ok {
			settled++
			a.log.WarnContext(ctx, "ca: settled an abandoned issuance", "issuer", r.Issuer, "serial", FormatSerial(r.Serial), "reserved_at", r.Reserved)
		}
	}
	return settled, errors.Join(errs...)
}

// settleFailed closes r, the reservation of an issuance that failed after
// it, with the issuance's error event e, in one transaction, so that the
// settlement never writes a second outcome for it; when r was closed
// already (settled while a slow issuance ran), e is appended alone.
func (a *Authority) settleFailed(ctx context.Context, r *store.SerialReservation, e *store.AuditEvent) error {
	ok, err := a.st.SettleReservation(ctx, r, a.now().UTC(), e)
	if err != nil || ok {
		return err
	}
	return a.st.AppendAudit(ctx, e)
}
