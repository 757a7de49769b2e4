package signing

import (
	"context"
	"crypto/sha256"
	"crypto/subtle"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/kyso-pki/kyso/internal/crashpoint"
	"github.com/kyso-pki/kyso/pkg/ca"
	"github.com/kyso-pki/kyso/pkg/store"
)

// Online self-registration (issue 18, DESIGN.md "Online
// self-registration"): a citizen registers in the app (Register), an
// officer verifies their identity at a desk or by video call and approves
// (ApproveRegistration: only then is the key made and the certificate
// issued, through Enrol, channel online) or refuses it; the citizen then
// claims their second factor on their own phone with the claim secret
// shown once at registration (ClaimRegistration). Every move of the state
// (store.Registration*) is audited in its write.

// DefaultRegistrationLifetime is how long a registration waits for an
// officer when Config.RegistrationLifetime is zero.
const DefaultRegistrationLifetime = 30 * 24 * time.Hour

// DefaultClaimLifetime and DefaultVisitClaimLifetime are how long a claim
// link lasts (an approved self-registration's, a household visit's) when
// Config.ClaimLifetime and Config.VisitClaimLifetime are zero.
const (
	DefaultClaimLifetime      = 30 * 24 * time.Hour
	DefaultVisitClaimLifetime = 7 * 24 * time.Hour
)

// registrationLease is how long an approval may take to enrol before
// another officer may take the registration over (its approver died).
const registrationLease = 2 * time.Minute

// RegisterRequest is a citizen's online self-registration.
type RegisterRequest struct {
	// CCCD, Name, Province, Ward, Phone and Email are the citizen's
	// details (at least one of Phone and Email, for the officer to reach
	// them); PIN is the PIN they chose.
	CCCD, Name, Province, Ward, Phone, Email, PIN string
	// Consent is the consent text the citizen agreed to, as shown.
	Consent string
	// Actor is who registers, for the audit trail (the app: "app:" and
	// the source address).
	Actor string
}

// Registered is what a registration hands back: the reference and the
// claim secret, which the citizen is shown once and kyso keeps only as a
// hash.
type Registered struct {
	ID, ClaimSecret string
	ExpiresAt       time.Time
}

// ApproveRegistrationRequest is an officer's approval: how the identity
// was checked (EvidenceKind, one of the Evidence kinds, and EvidenceRef).
type ApproveRegistrationRequest struct {
	ID, Actor                 string
	EvidenceKind, EvidenceRef string
}

// Claimed is a claimed registration's second factor: the otpauth URI to
// show once (as a QR code and a link) and never log.
type Claimed struct {
	OwnerID, CredentialID, NationalID string
	TOTPURI                           string
}

// Register records a pending registration. It refuses bad details at
// once, and a second open registration of one CCCD (KindConflict); it does
// not say whether the CCCD is enrolled — that is the approval's to refuse
// — so the public form is no oracle of who holds a signature.
func (s *Service) Register(ctx context.Context, req *RegisterRequest) (*Registered, error) {
	cccd, err := ca.ValidateCCCD(req.CCCD)
	if err != nil {
		return nil, &Error{Kind: KindInvalid, Description: err.Error(), Err: err}
	}
	if err := checkPIN(req.PIN, cccd); err != nil {
		return nil, err
	}
	province, err := ca.ValidateProvince(req.Province)
	if err != nil {
		return nil, &Error{Kind: KindInvalid, Description: strings.TrimPrefix(err.Error(), "ca: "), Err: err}
	}
	name, err := ca.NormalizeName("name", req.Name, ca.MaxNameLength)
	if err != nil {
		return nil, &Error{Kind: KindInvalid, Description: strings.TrimPrefix(err.Error(), "ca: "), Err: err}
	}
	phone, email, ward := strings.TrimSpace(req.Phone), strings.TrimSpace(req.Email), strings.TrimSpace(req.Ward)
	if err := checkPhone(phone); err != nil {
		return nil, err
	}
	if phone == "" && email == "" {
		return nil, fail(KindInvalid, "a phone number or an email address is needed, for the officer to reach you")
	}
	if email != "" && (len(email) > 254 || strings.Count(email, "@") != 1 || strings.ContainsAny(email, " <>\"")) {
		return nil, fail(KindInvalid, "the email address is not one")
	}
	consent := strings.TrimSpace(req.Consent)
	if consent == "" || len(consent) > 4096 {
		return nil, fail(KindInvalid, "the citizen's consent is needed (at most 4096 bytes)")
	}
	if len(ward) > 128 {
		return nil, fail(KindInvalid, "the ward is longer than 128 bytes")
	}
	for _, f := range []struct{ name, v string }{{"ward", ward}, {"email", email}, {"consent", consent}} {
		if err := shown(f.name, f.v); err != nil {
			return nil, err
		}
	}
	id, err := randomID(s.cfg.Rand, 10)
	if err != nil {
		return nil, err
	}
	secret, err := randomID(s.cfg.Rand, 16)
	if err != nil {
		return nil, err
	}
	pinHash, err := s.hashPassword(ctx, req.PIN)
	if err != nil {
		return nil, err
	}
	now := s.now()
	nationalID := "CCCD:" + cccd
	h := claimHash(secret)
	r := &store.Registration{ID: id, NationalID: nationalID, Name: name, Province: province, Ward: ward, Phone: phone, Email: email,
		PINHash: pinHash, ClaimHash: h[:], ConsentText: consent, ConsentAt: now, CreatedAt: now, ExpiresAt: now.Add(s.cfg.RegistrationLifetime)}
	e, err := s.auditEvent(req.Actor, "registration.create", nationalID, "ok", map[string]any{"registration": id, "province": province, "ward": ward})
	if err != nil {
		return nil, err
	}
	if err := s.st.PutRegistration(ctx, r, e); errors.Is(err, store.ErrConflict) {
		return nil, fail(KindConflict, "a registration of this CCCD is waiting for an officer already")
	} else if err != nil {
		return nil, fmt.Errorf("signing: recording a registration: %w", err)
	}
	return &Registered{ID: id, ClaimSecret: secret, ExpiresAt: r.ExpiresAt}, nil
}

// claimHash is what a registration keeps of its claim secret: the
// SHA-256 of the secret as typed, lower case, without spaces or dashes (a
// 128-bit random secret needs no slow hash).
func claimHash(secret string) [32]byte {
	s := strings.ToLower(strings.NewReplacer(" ", "", "-", "").Replace(strings.TrimSpace(secret)))
	return sha256.Sum256([]byte(s))
}

// Registrations lists up to limit registrations in status (empty:
// pending), oldest first; pending ones past their end are expired
// (audited) and left out.
func (s *Service) Registrations(ctx context.Context, status string, limit int) ([]*store.Registration, error) {
	if status == "" {
		status = store.RegistrationPending
	}
	switch status {
	case store.RegistrationPending, store.RegistrationApproving, store.RegistrationApproved, store.RegistrationRefused,
		store.RegistrationExpired, store.RegistrationClaimed:
	default:
		return nil, fail(KindInvalid, "status %q is not pending, approving, approved, refused, expired or claimed", status)
	}
	list, err := s.st.ListRegistrations(ctx, status, limit)
	if err != nil {
		return nil, err
	}
	out := list[:0]
	for _, r := range list {
		if expired, err := s.expireRegistration(ctx, r); err != nil {
			return nil, err
		} else if !expired {
			out = append(out, hideSecrets(r))
		}
	}
	return out, nil
}

// Registration returns one registration for an officer; KindNotFound
// when there is none.
func (s *Service) Registration(ctx context.Context, id string) (*store.Registration, error) {
	r, err := s.registration(ctx, id)
	if err != nil {
		return nil, err
	}
	return hideSecrets(r), nil
}

// hideSecrets drops the hashes an officer has no need of.
func hideSecrets(r *store.Registration) *store.Registration {
	c := *r
	c.PINHash, c.ClaimHash, c.ReplacedClaimHash = "", nil, nil
	return &c
}

// registration reads a registration, expiring it when it is pending past
// its end.
func (s *Service) registration(ctx context.Context, id string) (*store.Registration, error) {
	if !validID(id) {
		return nil, fail(KindNotFound, "no such registration")
	}
	r, err := s.st.GetRegistration(ctx, id)
	if errors.Is(err, store.ErrNotFound) {
		return nil, fail(KindNotFound, "no such registration")
	}
	if err != nil {
		return nil, err
	}
	if _, err := s.expireRegistration(ctx, r); err != nil {
		return nil, err
	}
	return r, nil
}

// expireRegistration moves r to expired when it is pending past its end,
// audited (registration.expire), and reports whether it did.
func (s *Service) expireRegistration(ctx context.Context, r *store.Registration) (bool, error) {
	now := s.now()
	if r.Status != store.RegistrationPending || now.Before(r.ExpiresAt) {
		return false, nil
	}
	e, err := s.auditEvent("kyso", "registration.expire", r.NationalID, "ok", map[string]any{"registration": r.ID})
	if err != nil {
		return false, err
	}
	err = s.st.MoveRegistration(ctx, &store.RegistrationMove{ID: r.ID, From: store.RegistrationPending, To: store.RegistrationExpired, At: now}, e)
	if err != nil && !errors.Is(err, store.ErrConflict) {
		return false, err
	}
	r.Status, r.PINHash = store.RegistrationExpired, ""
	return true, nil
}

// notOpen is the refusal of a decision on a registration in status.
func notOpen(r *store.Registration) error {
	if r.Status == store.RegistrationExpired {
		return fail(KindExpired, "registration %s expired unanswered; the citizen registers again", r.ID)
	}
	return fail(KindConflict, "registration %s is %s, not pending", r.ID, r.Status)
}

// ApproveRegistration enrols the citizen of a pending registration, once
// an officer has verified their identity: the key, the certificate, the
// PIN they chose and a TOTP secret, through Enrol with channel online and
// no staff member. Of two approvals at once one enrols; the other, and
// an approval of a refused, expired or approved registration, is a
// conflict (expired: KindExpired). What Enrol refuses (a CCCD enrolled
// already, or holding a campaign signature at another provider) is
// refused here with Enrol's words, and the registration waits again for
// the officer to refuse it. The TOTP secret is not handed to the officer:
// the citizen claims it (ClaimRegistration).
//
// An approval is recoverable: the enrolment names the registration in
// its one write, so an approval that stopped (its process died) leaves a
// registration approving whose lease, once ended, any officer's approval
// takes over — completing it with the enrolment found (audited
// "resumed", with that enrolment's evidence) when the first approval had
// enrolled, enrolling when it had not. A registration is enrolled at most
// once.
func (s *Service) ApproveRegistration(ctx context.Context, req *ApproveRegistrationRequest) (*store.Registration, error) {
	if req.EvidenceKind == "" {
		return nil, fail(KindInvalid, "an approval says how the identity was checked: evidence kind %s, %s, %s or %s, and its reference",
			EvidenceCCCDChip, EvidenceVNeID, EvidenceCCCDCard, EvidencePassport)
	}
	r, err := s.registration(ctx, req.ID)
	if err != nil {
		return nil, err
	}
	now := s.now()
	if r.Status != store.RegistrationPending && (r.Status != store.RegistrationApproving || now.Before(r.LeaseUntil)) {
		return nil, notOpen(r)
	}
	begin, err := s.auditEvent(req.Actor, "registration.approve", r.NationalID, "intent", map[string]any{"registration": r.ID,
		"evidence": req.EvidenceKind, "resumed": r.Status == store.RegistrationApproving})
	if err != nil {
		return nil, err
	}
	err = s.st.MoveRegistration(ctx, &store.RegistrationMove{ID: r.ID, From: store.RegistrationPending, To: store.RegistrationApproving,
		At: now, LeaseUntil: now.Add(registrationLease)}, begin)
	if errors.Is(err, store.ErrConflict) {
		return nil, fail(KindConflict, "registration %s is being decided by another officer", r.ID)
	}
	if err != nil {
		return nil, err
	}
	crashpoint.Reach(crashpoint.RegistrationLeased)
	m := &store.RegistrationMove{ID: r.ID, From: store.RegistrationApproving, To: store.RegistrationApproved, By: req.Actor,
		EvidenceKind: req.EvidenceKind, EvidenceRef: strings.TrimSpace(req.EvidenceRef)}
	resumed, err := s.enrolRegistration(ctx, r, req, m)
	if err != nil {
		return nil, err
	}
	crashpoint.Reach(crashpoint.RegistrationEnrolled)
	done, err := s.auditEvent(req.Actor, "registration.approve", r.NationalID, "ok", map[string]any{"registration": r.ID,
		"owner": m.OwnerID, "credential": m.CredentialID, "evidence": m.EvidenceKind, "resumed": resumed})
	if err != nil {
		return nil, err
	}
	m.At = s.now()
	m.ClaimUntil = m.At.Add(s.cfg.ClaimLifetime)
	if err := s.st.MoveRegistration(ctx, m, done); err != nil {
		// A slow approver outliving its lease and the one that took it
		// over both complete the one enrolment; one of them records it.
		if got, gerr := s.st.GetRegistration(ctx, r.ID); gerr == nil && got.Status == store.RegistrationApproved && got.CredentialID == m.CredentialID {
			return hideSecrets(got), nil
		}
		return nil, fmt.Errorf("signing: recording the approval of registration %s (credential %s enrolled): %w", r.ID, m.CredentialID, err)
	}
	return s.Registration(ctx, r.ID)
}

// enrolRegistration enrols the citizen of registration r, held
// approving, or finds the enrolment an approval that stopped made of it
// (resumed), and fills m with the owner, credential and evidence
// recorded. What Enrol refuses returns the registration to pending.
func (s *Service) enrolRegistration(ctx context.Context, r *store.Registration, req *ApproveRegistrationRequest, m *store.RegistrationMove) (resumed bool, err error) {
	if s.enrolled(ctx, r.ID, m) {
		return true, nil
	}
	en, err := s.Enrol(ctx, &EnrolRequest{CCCD: strings.TrimPrefix(r.NationalID, "CCCD:"), Name: r.Name, Province: r.Province,
		Phone: r.Phone, Email: r.Email, pinHash: r.PINHash, Actor: req.Actor, Channel: store.ChannelOnline, Ward: r.Ward,
		EvidenceKind: req.EvidenceKind, EvidenceRef: req.EvidenceRef, ConsentAt: r.ConsentAt, registrationID: r.ID})
	if err == nil {
		m.OwnerID, m.CredentialID = en.OwnerID, en.CredentialID
		return false, nil
	}
	if s.enrolled(ctx, r.ID, m) { // a slow approver's enrolment, made meanwhile
		return true, nil
	}
	e, aerr := s.auditEvent(req.Actor, "registration.approve", r.NationalID, "error", map[string]any{"registration": r.ID, "error": err.Error()})
	if aerr != nil {
		return false, errors.Join(err, aerr)
	}
	if merr := s.st.MoveRegistration(ctx, &store.RegistrationMove{ID: r.ID, From: store.RegistrationApproving, To: store.RegistrationPending, At: s.now()}, e); merr != nil {
		s.log.WarnContext(ctx, "signing: releasing a registration after a refused enrolment", "registration", r.ID, "err", merr)
	}
	return false, err
}

// enrolled reports whether registration id has an enrolment, filling m
// with its owner, credential and evidence when it has.
func (s *Service) enrolled(ctx context.Context, id string, m *store.RegistrationMove) bool {
	rec, err := s.st.RegistrationEnrolment(ctx, id)
	if err != nil {
		if !errors.Is(err, store.ErrNotFound) {
			s.log.WarnContext(ctx, "signing: looking for a registration's enrolment", "registration", id, "err", err)
		}
		return false
	}
	cred, err := s.st.GetCredential(ctx, rec.CredentialID)
	if err != nil {
		s.log.WarnContext(ctx, "signing: reading a registration's credential", "registration", id, "err", err)
		return false
	}
	m.OwnerID, m.CredentialID, m.EvidenceKind, m.EvidenceRef = cred.OwnerID, cred.ID, rec.EvidenceKind, rec.EvidenceRef
	return true
}

// RefuseRegistration refuses a pending registration, with the reason the
// citizen is shown.
func (s *Service) RefuseRegistration(ctx context.Context, id, actor, reason string) (*store.Registration, error) {
	reason = strings.TrimSpace(reason)
	if reason == "" || len(reason) > 256 {
		return nil, fail(KindInvalid, "a refusal gives its reason (at most 256 bytes), which the citizen is shown")
	}
	if err := shown("reason", reason); err != nil {
		return nil, err
	}
	r, err := s.registration(ctx, id)
	if err != nil {
		return nil, err
	}
	if r.Status != store.RegistrationPending {
		return nil, notOpen(r)
	}
	e, err := s.auditEvent(actor, "registration.refuse", r.NationalID, "ok", map[string]any{"registration": r.ID, "reason": reason})
	if err != nil {
		return nil, err
	}
	err = s.st.MoveRegistration(ctx, &store.RegistrationMove{ID: r.ID, From: store.RegistrationPending, To: store.RegistrationRefused,
		At: s.now(), By: actor, Reason: reason}, e)
	if errors.Is(err, store.ErrConflict) {
		return nil, fail(KindConflict, "registration %s is being decided by another officer", r.ID)
	}
	if err != nil {
		return nil, err
	}
	return s.Registration(ctx, r.ID)
}

// ErrClaimReplaced and ErrClaimExpired say why a claim link no longer
// claims anything (KindExpired): an officer reissued it, or its time
// ended (Config.ClaimLifetime, VisitClaimLifetime). Either way the
// citizen asks an officer to reissue it.
var (
	ErrClaimReplaced = errors.New("signing: this claim link was replaced by a new one")
	ErrClaimExpired  = errors.New("signing: this claim link has expired")
)

// RegistrationStatus returns the registration whose reference and claim
// secret these are, for its citizen; KindNotFound when either is wrong,
// the same answer for both. The secret an officer's reissue replaced last
// is KindExpired (ErrClaimReplaced), so its holder learns to ask for the
// new link; it opens nothing.
func (s *Service) RegistrationStatus(ctx context.Context, id, secret string) (*store.Registration, error) {
	r, err := s.registration(ctx, id)
	if err != nil {
		return nil, err
	}
	h := claimHash(secret)
	if subtle.ConstantTimeCompare(h[:], r.ClaimHash) != 1 {
		if len(r.ReplacedClaimHash) == len(h) && subtle.ConstantTimeCompare(h[:], r.ReplacedClaimHash) == 1 {
			return nil, &Error{Kind: KindExpired, Description: "this claim link was replaced by a new one; use the newest link, or ask an officer", Err: ErrClaimReplaced}
		}
		return nil, fail(KindNotFound, "no such registration")
	}
	c := hideSecrets(r)
	c.ClaimUntil = s.claimUntil(r)
	return c, nil
}

// claimUntil is when r's claim link ends: its own end, or for one
// approved before links ended, its approval's time and
// Config.ClaimLifetime.
func (s *Service) claimUntil(r *store.Registration) time.Time {
	if !r.ClaimUntil.IsZero() || r.Status != store.RegistrationApproved {
		return r.ClaimUntil
	}
	return r.DecidedAt.Add(s.cfg.ClaimLifetime)
}

// ClaimRegistration hands the citizen of an approved registration their
// second factor, once: the move to claimed is conditional on the claim
// hash and the approved state, so of two claims one gets it, and a claim
// secret opens only its own registration. A wrong reference or secret is
// not found (audited, refused); a registration not approved yet, or
// claimed already, is a conflict.
func (s *Service) ClaimRegistration(ctx context.Context, id, secret, actor string) (*Claimed, error) {
	r, err := s.RegistrationStatus(ctx, id, secret)
	if err != nil {
		if k := KindOf(err); (k == KindNotFound || k == KindExpired) && validID(id) {
			what := "wrong reference or claim secret"
			if k == KindExpired {
				what = "a replaced claim link"
			}
			if aerr := s.audit(ctx, actor, "registration.claim", "", "error", map[string]any{"registration": id, "error": what}); aerr != nil {
				return nil, aerr
			}
		}
		return nil, err
	}
	if r.Status != store.RegistrationApproved {
		return nil, fail(KindConflict, "registration %s is %s, not approved and unclaimed", r.ID, r.Status)
	}
	if !s.now().Before(r.ClaimUntil) {
		if aerr := s.audit(ctx, actor, "registration.claim", r.NationalID, "error", map[string]any{"registration": id, "error": "claim link expired"}); aerr != nil {
			return nil, aerr
		}
		return nil, &Error{Kind: KindExpired, Description: "this claim link has expired; ask an officer for a new one", Err: ErrClaimExpired}
	}
	o, err := s.st.GetOwner(ctx, r.OwnerID)
	if err != nil {
		return nil, fmt.Errorf("signing: the owner of registration %s: %w", r.ID, err)
	}
	totp, err := s.sealer.open(o.TOTPSecret, o.ID)
	if err != nil {
		return nil, fmt.Errorf("signing: opening the TOTP secret of owner %s: %w", o.ID, err)
	}
	e, err := s.auditEvent(actor, "registration.claim", r.NationalID, "ok", map[string]any{"registration": r.ID, "owner": r.OwnerID})
	if err != nil {
		return nil, err
	}
	h := claimHash(secret)
	err = s.st.MoveRegistration(ctx, &store.RegistrationMove{ID: r.ID, From: store.RegistrationApproved, To: store.RegistrationClaimed,
		At: s.now(), ClaimHash: h[:]}, e)
	if errors.Is(err, store.ErrConflict) {
		return nil, fail(KindConflict, "registration %s was claimed already, or its link replaced or expired", r.ID)
	}
	if err != nil {
		return nil, err
	}
	return &Claimed{OwnerID: o.ID, CredentialID: r.CredentialID, NationalID: o.NationalID,
		TOTPURI: otpauthURI(s.cfg.TOTPIssuer, o.NationalID, totp)}, nil
}

// QueueClaim queues the second factor of en, enrolled at a household
// visit, for the citizen's own phone: an approved registration with a
// claim secret of its own (shown once, as a link the citizen scans), which
// ClaimRegistration hands over once. The enrolment's answer then need
// not show the TOTP secret on the staff member's phone.
func (s *Service) QueueClaim(ctx context.Context, en *Enrolment, req *EnrolRequest) (*Registered, error) {
	id, err := randomID(s.cfg.Rand, 10)
	if err != nil {
		return nil, err
	}
	secret, err := randomID(s.cfg.Rand, 16)
	if err != nil {
		return nil, err
	}
	now := s.now()
	h := claimHash(secret)
	consentAt := req.ConsentAt.UTC()
	if consentAt.IsZero() {
		consentAt = now
	}
	r := &store.Registration{ID: id, NationalID: en.NationalID, Name: en.Certificate.Subject.CommonName, Province: req.Province,
		Ward: strings.TrimSpace(req.Ward), Phone: req.Phone, Email: req.Email, ClaimHash: h[:],
		ConsentText: "consent given to " + req.Actor + " at a household visit (" + req.EvidenceKind + ")", ConsentAt: consentAt,
		Status: store.RegistrationApproved, CreatedAt: now, ExpiresAt: now.Add(s.cfg.RegistrationLifetime), DecidedBy: req.Actor,
		DecidedAt: now, EvidenceKind: req.EvidenceKind, EvidenceRef: strings.TrimSpace(req.EvidenceRef), OwnerID: en.OwnerID,
		CredentialID: en.CredentialID, ClaimUntil: now.Add(s.cfg.VisitClaimLifetime)}
	e, err := s.auditEvent(req.Actor, "registration.queue", en.NationalID, "ok", map[string]any{"registration": id,
		"credential": en.CredentialID, "staff": req.StaffID})
	if err != nil {
		return nil, err
	}
	if err := s.st.PutRegistration(ctx, r, e); err != nil {
		return nil, fmt.Errorf("signing: queueing the second factor of credential %s: %w", en.CredentialID, err)
	}
	return &Registered{ID: id, ClaimSecret: secret, ExpiresAt: r.ClaimUntil}, nil
}

// ReissueClaimRequest is an officer's reissue of a registration's claim
// link: the citizen lost it, or it expired. StaffID, when set, is the
// staff member the officer's client is bound to, who may reissue only
// the links of their own household visits.
type ReissueClaimRequest struct {
	ID, Actor, StaffID string
}

// ReissueClaim makes a new claim secret for a pending or approved,
// unclaimed registration and kills the old one in the same write (the old
// link then answers ErrClaimReplaced and claims nothing); an approved
// registration's link lasts again Config.ClaimLifetime, or
// VisitClaimLifetime for a household visit's. Audited
// (registration.reissue). A registration a bound staff member did not
// enrol is not found to them; one claimed, refused, expired or being
// approved is a conflict.
func (s *Service) ReissueClaim(ctx context.Context, req *ReissueClaimRequest) (*Registered, error) {
	r, err := s.registration(ctx, req.ID)
	if err != nil {
		return nil, err
	}
	var rec *store.EnrolmentRecord
	if r.CredentialID != "" {
		if rec, err = s.st.GetEnrolmentRecord(ctx, r.CredentialID); err != nil && !errors.Is(err, store.ErrNotFound) {
			return nil, err
		}
	}
	if req.StaffID != "" && (rec == nil || rec.StaffID != req.StaffID) {
		return nil, fail(KindNotFound, "no such registration")
	}
	if r.Status != store.RegistrationPending && r.Status != store.RegistrationApproved {
		if r.Status == store.RegistrationExpired {
			return nil, notOpen(r)
		}
		return nil, fail(KindConflict, "registration %s is %s: its claim link cannot be reissued", r.ID, r.Status)
	}
	secret, err := randomID(s.cfg.Rand, 16)
	if err != nil {
		return nil, err
	}
	now := s.now()
	h := claimHash(secret)
	m := &store.RegistrationMove{ID: r.ID, From: r.Status, To: r.Status, At: now, NewClaimHash: h[:]}
	until := r.ExpiresAt
	if r.Status == store.RegistrationApproved {
		life := s.cfg.ClaimLifetime
		if rec != nil && rec.Channel == store.ChannelHousehold {
			life = s.cfg.VisitClaimLifetime
		}
		m.ClaimUntil, until = now.Add(life), now.Add(life)
	}
	e, err := s.auditEvent(req.Actor, "registration.reissue", r.NationalID, "ok", map[string]any{"registration": r.ID,
		"status": r.Status, "staff": req.StaffID, "until": until.UTC().Format(time.RFC3339)})
	if err != nil {
		return nil, err
	}
	if err := s.st.MoveRegistration(ctx, m, e); errors.Is(err, store.ErrConflict) {
		return nil, fail(KindConflict, "registration %s changed meanwhile; try again", r.ID)
	} else if err != nil {
		return nil, err
	}
	return &Registered{ID: r.ID, ClaimSecret: secret, ExpiresAt: until}, nil
}
