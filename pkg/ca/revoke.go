package ca

import (
	"bytes"
	"context"
	"crypto/x509"
	"crypto/x509/pkix"
	"errors"
	"fmt"
	"math/big"
	"time"

	"github.com/kyso-pki/kyso/internal/crashpoint"
	"github.com/kyso-pki/kyso/pkg/store"
)

// ErrNotFound: no certificate with that serial number.
var ErrNotFound = errors.New("certificate not found")

// ErrAlreadyRevoked: the certificate is revoked already.
var ErrAlreadyRevoked = errors.New("certificate already revoked")

// ReasonNames are the CRLReason names of RFC 5280 section 5.3.1, as the CLI
// accepts them, mapped to their codes.
var ReasonNames = map[string]int{
	"unspecified":          store.ReasonUnspecified,
	"keyCompromise":        store.ReasonKeyCompromise,
	"cACompromise":         store.ReasonCACompromise,
	"affiliationChanged":   store.ReasonAffiliationChanged,
	"superseded":           store.ReasonSuperseded,
	"cessationOfOperation": store.ReasonCessationOfOperation,
	"certificateHold":      store.ReasonCertificateHold,
	"privilegeWithdrawn":   store.ReasonPrivilegeWithdrawn,
	"aACompromise":         store.ReasonAACompromise,
}

// Certificate returns the record of the certificate the issuing CA issued
// with this serial number, or an error wrapping ErrNotFound.
func (a *Authority) Certificate(ctx context.Context, serial []byte) (*store.Certificate, error) {
	c, err := a.st.GetCertificate(ctx, IssuingName, serial)
	if errors.Is(err, store.ErrNotFound) {
		return nil, fmt.Errorf("ca: %w: %s", ErrNotFound, FormatSerial(serial))
	}
	if err != nil {
		return nil, fmt.Errorf("ca: looking up certificate %s: %w", FormatSerial(serial), err)
	}
	return c, nil
}

// List returns the certificates matching f, newest first; a nil filter or
// an empty Issuer means the issuing CA's.
func (a *Authority) List(ctx context.Context, f *store.CertificateFilter) ([]*store.Certificate, error) {
	var g store.CertificateFilter
	if f != nil {
		g = *f
	}
	if g.Issuer == "" {
		g.Issuer = IssuingName
	}
	certs, err := a.st.ListCertificates(ctx, &g)
	if err != nil {
		return nil, fmt.Errorf("ca: listing certificates: %w", err)
	}
	return certs, nil
}

// ErrNotSuspended: Resume was asked for a certificate that is not
// suspended (it is good).
var ErrNotSuspended = errors.New("certificate is not suspended")

// Audit actions of revocation and suspension. The PKI front end tails the
// audit trail for them to drop cached OCSP responses.
const (
	ActionRevoke  = "cert.revoke"
	ActionSuspend = "cert.suspend"
	ActionResume  = "cert.resume"
	// ActionCRL is the event of a CRL signed and stored.
	ActionCRL = "crl.generate"
)

// CRLBatch is Options.CRLBatch: how long revocations may wait for the next
// CRL; zero when every change makes one.
func (a *Authority) CRLBatch() time.Duration { return a.opts.CRLBatch }

// Revoke revokes the issuing CA's certificate with this serial number for
// reason (an RFC 5280 section 5.3.1 code; certificateHold suspends it, as
// Suspend does) effective at (zero: now), then regenerates the issuing CA's
// CRL — or, with Options.CRLBatch and a reason other than a key or CA
// compromise, leaves it to the next scheduled CRL. The revocation is
// audited whether or not it succeeds.
func (a *Authority) Revoke(ctx context.Context, serial []byte, reason int, at time.Time) error {
	if reason < 0 || reason > store.ReasonAACompromise || reason == 7 || reason == store.ReasonRemoveFromCRL {
		return invalid("revocation reason %d is not a CRLReason a certificate can be revoked for (RFC 5280 section 5.3.1)", reason)
	}
	return a.revoke(ctx, serial, reason, at)
}

// Suspend puts the issuing CA's certificate with this serial number on hold
// (RFC 5280 section 5.3.1 certificateHold) from at (zero: now), then
// regenerates the issuing CA's CRL. Decree 23/2025/ND-CP counts a suspended
// certificate as not valid: while the hold lasts, OCSP answers revoked with
// reason certificateHold and the CRL lists it with that reason. Resume lifts
// it; Revoke with another reason makes it final. Suspending a suspended or
// revoked certificate gives an error wrapping ErrAlreadyRevoked. Audited as
// ActionSuspend.
func (a *Authority) Suspend(ctx context.Context, serial []byte, at time.Time) error {
	return a.revoke(ctx, serial, store.ReasonCertificateHold, at)
}

func (a *Authority) revoke(ctx context.Context, serial []byte, reason int, at time.Time) error {
	if at.IsZero() {
		at = a.now()
	}
	at = at.UTC().Truncate(time.Second)
	if at.After(a.now()) {
		return invalid("revocation time %s is in the future", at.Format(time.RFC3339))
	}
	action, doing, done := ActionRevoke, "revoking", "revoked"
	if reason == store.ReasonCertificateHold {
		action, doing, done = ActionSuspend, "suspending", "suspended"
	}
	subject := IssuingName + "/" + FormatSerial(serial)
	details := map[string]any{"serial": FormatSerial(serial), "reason": reason, "revoked_at": at}
	err := a.st.Revoke(ctx, &store.Revocation{Issuer: IssuingName, Serial: serial, Reason: reason, RevokedAt: at})
	switch {
	case errors.Is(err, store.ErrNotFound):
		err = fmt.Errorf("ca: %s: %w: %s", doing, ErrNotFound, FormatSerial(serial))
	case errors.Is(err, store.ErrAlreadyRevoked):
		err = fmt.Errorf("ca: %s: %w: %s", doing, ErrAlreadyRevoked, a.statusNote(ctx, serial))
	case err != nil:
		err = fmt.Errorf("ca: %s %s: %w", doing, FormatSerial(serial), err)
	}
	if err != nil {
		details["error"] = err.Error()
		return errors.Join(err, a.audit(ctx, "", action, subject, "error", details))
	}
	shard, shardErr := a.certCRLShard(ctx, serial)
	if shard > 0 {
		details["crl_shard"] = shard
	}
	if err := a.audit(ctx, "", action, subject, "ok", details); err != nil {
		return err
	}
	if shardErr == nil && a.opts.CRLBatch > 0 && reason != store.ReasonKeyCompromise && reason != store.ReasonCACompromise {
		return nil // the next scheduled CRL lists it (Options.CRLBatch)
	}
	if err := a.crlsAfterChange(ctx, shard, shardErr); err != nil {
		return fmt.Errorf("ca: %s is %s, but the new CRL failed: %w", FormatSerial(serial), done, err)
	}
	return nil
}

// Resume lifts the suspension of the issuing CA's certificate with this
// serial number: it is good again, OCSP answers good, and the CRL, which is
// regenerated at once, no longer lists it. kyso's CRLs are full CRLs, so
// the entry is simply left out; RFC 5280 section 5.3.1's removeFromCRL
// reason only marks such a release in a delta CRL, which kyso does not
// issue. A certificate revoked for good cannot be resumed (ErrAlreadyRevoked)
// and a good one gives ErrNotSuspended. Audited as ActionResume whether or
// not it succeeds.
//
// Signatures made while the certificate was suspended stay invalid where the
// validator holds the status evidence from that time (a PAdES B-LT DSS with
// the certificateHold OCSP response or CRL): lifting the hold does not
// rewrite that evidence.
func (a *Authority) Resume(ctx context.Context, serial []byte) error {
	subject := IssuingName + "/" + FormatSerial(serial)
	details := map[string]any{"serial": FormatSerial(serial), "resumed_at": a.now().UTC().Truncate(time.Second)}
	err := a.st.ReleaseHold(ctx, IssuingName, serial)
	switch {
	case errors.Is(err, store.ErrNotFound):
		err = fmt.Errorf("ca: resuming: %w: %s", ErrNotFound, FormatSerial(serial))
	case errors.Is(err, store.ErrAlreadyRevoked):
		err = fmt.Errorf("ca: resuming: %w: %s was revoked for good, which cannot be undone", ErrAlreadyRevoked, FormatSerial(serial))
	case errors.Is(err, store.ErrNotOnHold):
		err = fmt.Errorf("ca: resuming: %w: %s is good", ErrNotSuspended, FormatSerial(serial))
	case err != nil:
		err = fmt.Errorf("ca: resuming %s: %w", FormatSerial(serial), err)
	}
	if err != nil {
		details["error"] = err.Error()
		return errors.Join(err, a.audit(ctx, "", ActionResume, subject, "error", details))
	}
	shard, shardErr := a.certCRLShard(ctx, serial)
	if shard > 0 {
		details["crl_shard"] = shard
	}
	if err := a.audit(ctx, "", ActionResume, subject, "ok", details); err != nil {
		return err
	}
	if shardErr == nil && a.opts.CRLBatch > 0 {
		return nil // the next scheduled CRL leaves it out (Options.CRLBatch)
	}
	if err := a.crlsAfterChange(ctx, shard, shardErr); err != nil {
		return fmt.Errorf("ca: %s is resumed, but the new CRL failed: %w", FormatSerial(serial), err)
	}
	return nil
}

// statusNote says what a certificate's status is, for errors refusing to
// change it: "… is suspended" or "… is revoked".
func (a *Authority) statusNote(ctx context.Context, serial []byte) string {
	c, err := a.st.GetCertificate(ctx, IssuingName, serial)
	if err != nil {
		return FormatSerial(serial)
	}
	if c.Status == store.StatusHold {
		return FormatSerial(serial) + " is suspended (certificateHold); resume it, or revoke it for good"
	}
	return FormatSerial(serial) + " is revoked"
}

// certCRLShard returns the CRL shard of the issuing CA's certificate with
// serial, whose CRL a change of its status changes.
func (a *Authority) certCRLShard(ctx context.Context, serial []byte) (int, error) {
	c, err := a.st.GetCertificate(ctx, IssuingName, serial)
	if err != nil {
		return 0, fmt.Errorf("reading its CRL shard failed: %w", err)
	}
	return c.CRLShard, nil
}

// crlsAfterChange makes the issuing CA's CRL of shard, after a change of
// status there; when the shard could not be read (shardErr: the status
// changed, the lookup after it failed), every CRL of the issuing CA, at
// once, so that the change is not left to a shard nobody marked.
func (a *Authority) crlsAfterChange(ctx context.Context, shard int, shardErr error) error {
	if shardErr == nil {
		_, err := a.generateCRL(ctx, IssuingName, shard)
		return err
	}
	a.log.WarnContext(ctx, "ca: the changed certificate's CRL shard is unknown; making every CRL of the issuing CA", "err", shardErr)
	_, err := a.generateScopes(ctx, IssuingName)
	return err
}

// generateScopes makes every CRL of the CA named name (CRLScopes).
func (a *Authority) generateScopes(ctx context.Context, name string) ([]*store.CRL, error) {
	scopes, err := a.CRLScopes(ctx, name)
	if err != nil {
		return nil, err
	}
	var out []*store.CRL
	for _, shard := range scopes {
		crl, err := a.generateCRL(ctx, name, shard)
		if err != nil {
			return out, err
		}
		out = append(out, crl)
	}
	return out, nil
}

// GenerateCRL signs a fresh CRL for every CA the Authority holds (the root,
// when it is ours, and the issuing CA) and every CRL shard of each
// (CRLScopes), records them and returns them. Each is a version 2 CRL (RFC
// 5280 section 5) with a CRL number (5.2.3) from the store, the authority
// key identifier (5.2.1), nextUpdate at most 7 days after thisUpdate, the
// reason code of each entry (5.3.1) and, when the CA's CRL is partitioned,
// its issuing distribution point (5.2.5). Each is linted with zlint in a
// throwaway-signed copy first.
func (a *Authority) GenerateCRL(ctx context.Context) ([]*store.CRL, error) {
	cas, err := a.st.ListCAs(ctx)
	if err != nil {
		return nil, fmt.Errorf("ca: listing CAs: %w", err)
	}
	var out []*store.CRL
	for _, c := range cas {
		crls, err := a.generateScopes(ctx, c.Name)
		out = append(out, crls...)
		if err != nil {
			return out, err
		}
	}
	return out, nil
}

// GenerateShardCRL signs, records and returns a fresh CRL of the CA named
// name for one CRL shard (0: its original CRL), as GenerateCRL makes each.
func (a *Authority) GenerateShardCRL(ctx context.Context, name string, shard int) (*store.CRL, error) {
	if shard < 0 || shard > store.MaxCRLShards {
		return nil, invalid("CRL shard %d is outside [0, %d]", shard, store.MaxCRLShards)
	}
	return a.generateCRL(ctx, name, shard)
}

func (a *Authority) generateCRL(ctx context.Context, name string, shard int) (*store.CRL, error) {
	is, err := a.loadIssuer(ctx, name)
	if err != nil {
		return nil, err
	}
	scope, err := a.crlScopeExtension(ctx, name, shard)
	if err != nil {
		return nil, err
	}

	// RFC 5280 section 3.3: an entry may leave the CRL once it was on one
	// issued after its certificate expired. The latest CRL was: every
	// certificate that expired before it was made was still listed there
	// (it left out only those expired before the one before it).
	var expiredBefore time.Time
	if prev, err := a.st.LatestCRL(ctx, name, shard); err == nil {
		expiredBefore = prev.ThisUpdate
	} else if !errors.Is(err, store.ErrNotFound) {
		return nil, fmt.Errorf("ca: reading %s's latest CRL: %w", name, err)
	}
	revs, err := a.st.ListRevoked(ctx, name, shard, expiredBefore)
	if err != nil {
		return nil, fmt.Errorf("ca: listing %s's revocations: %w", name, err)
	}
	number, err := a.st.NextCRLNumber(ctx, name)
	if err != nil {
		return nil, fmt.Errorf("ca: drawing %s's CRL number: %w", name, err)
	}
	crashpoint.Reach(crashpoint.CRLNumbered)
	// thisUpdate is not backdated: no revocation may come after it (RFC 5280
	// section 5.1.2.6 orders them, and zlint checks it).
	this := a.now().UTC().Truncate(time.Second)
	tmpl := &x509.RevocationList{
		Number:     big.NewInt(number),
		ThisUpdate: this,
		NextUpdate: this.Add(a.opts.CRLValidity),
		// RSASSA-PSS for an RSA CA (Circular 15/2025 Annex I).
		SignatureAlgorithm: a.signatureAlgorithm(is.signer.Public()),
	}
	if scope != nil {
		tmpl.ExtraExtensions = []pkix.Extension{*scope}
	}
	if tmpl.NextUpdate.After(is.cert.NotAfter) {
		tmpl.NextUpdate = is.cert.NotAfter
	}
	for _, r := range revs {
		e := x509.RevocationListEntry{SerialNumber: newInt(r.Serial), RevocationTime: r.RevokedAt.UTC()}
		// RFC 5280 section 5.3.1: reasonCode unspecified SHOULD be absent.
		if r.Reason != store.ReasonUnspecified {
			e.ReasonCode = r.Reason
		}
		tmpl.RevokedCertificateEntries = append(tmpl.RevokedCertificateEntries, e)
	}
	lintDER, err := x509.CreateRevocationList(a.rand, tmpl, is.lint.issuer, is.lint.key)
	if err != nil {
		return nil, fmt.Errorf("ca: signing the lint copy of %s's CRL: %w", name, err)
	}
	if err := lintCRLDER(a.reg, lintDER); err != nil {
		return nil, fmt.Errorf("ca: refusing to sign %s's CRL %d: %w", name, number, err)
	}
	der, err := x509.CreateRevocationList(a.rand, tmpl, is.cert, is.signer)
	if err != nil {
		return nil, fmt.Errorf("ca: signing %s's CRL %d: %w", name, number, err)
	}
	parsed, err := x509.ParseRevocationList(der)
	if err != nil {
		return nil, fmt.Errorf("ca: %s's CRL %d does not parse: %w", name, number, err)
	}
	lintParsed, err := x509.ParseRevocationList(lintDER)
	if err != nil || !bytes.Equal(parsed.RawTBSRevocationList, lintParsed.RawTBSRevocationList) {
		return nil, fmt.Errorf("ca: %s's CRL %d differs from its linted copy", name, number)
	}
	if err := parsed.CheckSignatureFrom(is.cert); err != nil {
		return nil, fmt.Errorf("ca: %s's CRL %d does not verify: %w", name, number, err)
	}
	rec := &store.CRL{Issuer: name, Shard: shard, Number: number, DER: der, ThisUpdate: tmpl.ThisUpdate, NextUpdate: tmpl.NextUpdate}
	if err := a.st.PutCRL(ctx, rec); err != nil {
		return nil, fmt.Errorf("ca: recording %s's CRL %d: %w", name, number, err)
	}
	details := map[string]any{"number": number, "entries": len(revs), "next_update": tmpl.NextUpdate}
	if shard > 0 {
		details["shard"] = shard
	}
	if err := a.audit(ctx, "", ActionCRL, name, "ok", details); err != nil {
		return nil, err
	}
	return rec, nil
}

// CertStatus is what an OCSP responder (RFC 6960 section 2.2) needs to know
// of one certificate.
type CertStatus struct {
	// Known is false for a serial the CA never issued: the responder must
	// not answer "good" for it.
	Known bool
	// Revoked is true for a revoked certificate, and for one on hold
	// (OnHold, reason certificateHold).
	Revoked, OnHold bool
	// RevokedAt and Reason describe the revocation.
	RevokedAt time.Time
	Reason    int
	// NotAfter is the certificate's expiry.
	NotAfter time.Time
}

// OCSPStatus returns the status of the certificate with serial from the CA
// named issuer (empty: the issuing CA). It costs two lookups by primary
// key, the certificate and, when it is not good, its revocation, however
// many certificates and revocations the CA has.
func (a *Authority) OCSPStatus(ctx context.Context, issuer string, serial *big.Int) (*CertStatus, error) {
	if issuer == "" {
		issuer = IssuingName
	}
	if serial == nil || serial.Sign() <= 0 {
		return &CertStatus{}, nil
	}
	c, err := a.st.GetCertificate(ctx, issuer, serial.Bytes())
	if errors.Is(err, store.ErrNotFound) {
		return &CertStatus{}, nil
	}
	if err != nil {
		return nil, fmt.Errorf("ca: looking up %s's certificate %s: %w", issuer, FormatSerialInt(serial), err)
	}
	st := &CertStatus{Known: true, NotAfter: c.NotAfter}
	if c.Status == store.StatusGood {
		return st, nil
	}
	r, err := a.st.GetRevocation(ctx, issuer, c.Serial)
	if errors.Is(err, store.ErrNotFound) {
		return nil, fmt.Errorf("ca: certificate %s has status %q but no revocation record", FormatSerialInt(serial), c.Status)
	}
	if err != nil {
		return nil, fmt.Errorf("ca: looking up %s's revocation of %s: %w", issuer, FormatSerialInt(serial), err)
	}
	st.Revoked, st.RevokedAt, st.Reason = true, r.RevokedAt, r.Reason
	st.OnHold = r.Reason == store.ReasonCertificateHold
	return st, nil
}
