package main

import (
	"context"
	"fmt"
	"time"

	"github.com/kyso-pki/kyso/pkg/admin"
	"github.com/kyso-pki/kyso/pkg/display"
	"github.com/kyso-pki/kyso/pkg/signing"
	"github.com/kyso-pki/kyso/pkg/store"
)

// printRegistration prints a registration as text (every field the
// citizen typed through display.Escape) or JSON.
func printRegistration(e *env, output string, r *store.Registration) error {
	if output == "json" {
		return writeJSON(e.stdout, admin.NewRegistration(r))
	}
	x := display.Escape
	fmt.Fprintf(e.stdout, "%s  %s  %s  %s, %s, ward %s\n    phone %s, email %s; registered %s, expires %s\n",
		r.ID, r.Status, x(r.NationalID), x(r.Name), x(r.Province), x(r.Ward), x(r.Phone), x(r.Email),
		r.CreatedAt.Format(time.RFC3339), r.ExpiresAt.Format(time.RFC3339))
	if !r.DecidedAt.IsZero() {
		fmt.Fprintf(e.stdout, "    decided by %s at %s", x(r.DecidedBy), r.DecidedAt.Format(time.RFC3339))
		if r.EvidenceKind != "" {
			fmt.Fprintf(e.stdout, ", evidence %s %s, credential %s", r.EvidenceKind, x(r.EvidenceRef), r.CredentialID)
		}
		if r.Reason != "" {
			fmt.Fprintf(e.stdout, ", reason %s", x(r.Reason))
		}
		fmt.Fprintln(e.stdout)
	}
	return nil
}

// registrationList lists citizens' online self-registrations.
func registrationList(ctx context.Context, e *env, args []string) error {
	fs := newFlags(e, "registration list", "registration list [--status pending|approved|refused|expired|claimed] [--limit N] [--data DIR] [--output json]")
	d := addDataFlags(fs)
	out := outputFlag(fs)
	status := fs.String("status", store.RegistrationPending, "the registrations in this state")
	limit := fs.Int("limit", 100, "at most this many, oldest first")
	if _, err := parseArgs(fs, args, 0, ""); err != nil {
		return err
	}
	if err := checkOutput(*out); err != nil {
		return err
	}
	svc, o, err := d.signing(ctx)
	if err != nil {
		return err
	}
	defer o.Close()
	list, err := svc.Registrations(ctx, *status, *limit)
	if err != nil {
		return err
	}
	if *out == "json" {
		rs := make([]*admin.Registration, len(list))
		for i, r := range list {
			rs[i] = admin.NewRegistration(r)
		}
		return writeJSON(e.stdout, map[string]any{"registrations": rs})
	}
	if len(list) == 0 {
		fmt.Fprintf(e.stdout, "no %s registrations\n", *status)
	}
	for _, r := range list {
		if err := printRegistration(e, *out, r); err != nil {
			return err
		}
	}
	return nil
}

// registrationShow shows one registration.
func registrationShow(ctx context.Context, e *env, args []string) error {
	fs := newFlags(e, "registration show", "registration show ID [--data DIR] [--output json]")
	d := addDataFlags(fs)
	out := outputFlag(fs)
	pos, err := parseArgs(fs, args, 1, "ID")
	if err != nil {
		return err
	}
	if err := checkOutput(*out); err != nil {
		return err
	}
	svc, o, err := d.signing(ctx)
	if err != nil {
		return err
	}
	defer o.Close()
	r, err := svc.Registration(ctx, pos[0])
	if err != nil {
		return err
	}
	return printRegistration(e, *out, r)
}

// registrationApprove approves a registration once the officer has
// verified the citizen's identity: the key is made and the certificate
// issued (channel online); the citizen claims the second factor in the
// app.
func registrationApprove(ctx context.Context, e *env, args []string) error {
	fs := newFlags(e, "registration approve", "registration approve ID --evidence-kind cccd-chip|vneid-level2|cccd-card|passport [--evidence-ref REF] [--data DIR] [--output json]")
	d := addDataFlags(fs)
	out := outputFlag(fs)
	kind := fs.String("evidence-kind", "", "how the identity was checked: cccd-chip, vneid-level2, cccd-card or passport (required)")
	ref := fs.String("evidence-ref", "", "its reference (the chip read, the video call), never the document's image")
	pos, err := parseArgs(fs, args, 1, "ID")
	if err != nil {
		return err
	}
	if err := checkOutput(*out); err != nil {
		return err
	}
	if *kind == "" {
		return usagef("registration approve needs --evidence-kind")
	}
	svc, o, err := d.signing(ctx)
	if err != nil {
		return err
	}
	defer o.Close()
	r, err := svc.ApproveRegistration(ctx, &signing.ApproveRegistrationRequest{ID: pos[0], Actor: actor(), EvidenceKind: *kind, EvidenceRef: *ref})
	if err != nil {
		return err
	}
	return printRegistration(e, *out, r)
}

// registrationRefuse refuses a registration with the reason the citizen
// is shown.
func registrationRefuse(ctx context.Context, e *env, args []string) error {
	fs := newFlags(e, "registration refuse", "registration refuse ID --reason TEXT [--data DIR] [--output json]")
	d := addDataFlags(fs)
	out := outputFlag(fs)
	reason := fs.String("reason", "", "why, as the citizen is shown it (required)")
	pos, err := parseArgs(fs, args, 1, "ID")
	if err != nil {
		return err
	}
	if err := checkOutput(*out); err != nil {
		return err
	}
	if *reason == "" {
		return usagef("registration refuse needs --reason")
	}
	svc, o, err := d.signing(ctx)
	if err != nil {
		return err
	}
	defer o.Close()
	r, err := svc.RefuseRegistration(ctx, pos[0], actor(), *reason)
	if err != nil {
		return err
	}
	return printRegistration(e, *out, r)
}
