package main

import (
	"context"
	"flag"
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
		if !r.ClaimUntil.IsZero() && r.Status == store.RegistrationApproved {
			fmt.Fprintf(e.stdout, ", claim link until %s", r.ClaimUntil.Format(time.RFC3339))
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

// registrationCommand runs a command on one registration: it parses
// args with the flags flags adds (which returns the check of their
// values), opens the data directory's service and prints what do
// returns.
func registrationCommand(ctx context.Context, e *env, args []string, name, usage string, flags func(*flag.FlagSet) func() error,
	do func(svc *signing.Service, id string) (*store.Registration, error)) error {
	fs := newFlags(e, "registration "+name, "registration "+name+" ID "+usage+"[--data DIR] [--output json]")
	d := addDataFlags(fs)
	out := outputFlag(fs)
	check := flags(fs)
	pos, err := parseArgs(fs, args, 1, "ID")
	if err != nil {
		return err
	}
	if err := checkOutput(*out); err != nil {
		return err
	}
	if err := check(); err != nil {
		return err
	}
	svc, o, err := d.signing(ctx)
	if err != nil {
		return err
	}
	defer o.Close()
	r, err := do(svc, pos[0])
	if err != nil {
		return err
	}
	return printRegistration(e, *out, r)
}

// registrationShow shows one registration.
func registrationShow(ctx context.Context, e *env, args []string) error {
	return registrationCommand(ctx, e, args, "show", "", func(*flag.FlagSet) func() error { return func() error { return nil } },
		func(svc *signing.Service, id string) (*store.Registration, error) { return svc.Registration(ctx, id) })
}

// registrationApprove approves a registration once the officer has
// verified the citizen's identity: the key is made and the certificate
// issued (channel online); the citizen claims the second factor in the
// app.
func registrationApprove(ctx context.Context, e *env, args []string) error {
	var kind, ref *string
	return registrationCommand(ctx, e, args, "approve", "--evidence-kind cccd-chip|vneid-level2|cccd-card|passport [--evidence-ref REF] ",
		func(fs *flag.FlagSet) func() error {
			kind = fs.String("evidence-kind", "", "how the identity was checked: cccd-chip, vneid-level2, cccd-card or passport (required)")
			ref = fs.String("evidence-ref", "", "its reference (the chip read, the video call), never the document's image")
			return func() error {
				if *kind == "" {
					return usagef("registration approve needs --evidence-kind")
				}
				return nil
			}
		},
		func(svc *signing.Service, id string) (*store.Registration, error) {
			return svc.ApproveRegistration(ctx, &signing.ApproveRegistrationRequest{ID: id, Actor: actor(), EvidenceKind: *kind, EvidenceRef: *ref})
		})
}

// registrationRefuse refuses a registration with the reason the citizen
// is shown.
func registrationRefuse(ctx context.Context, e *env, args []string) error {
	var reason *string
	return registrationCommand(ctx, e, args, "refuse", "--reason TEXT ",
		func(fs *flag.FlagSet) func() error {
			reason = fs.String("reason", "", "why, as the citizen is shown it (required)")
			return func() error {
				if *reason == "" {
					return usagef("registration refuse needs --reason")
				}
				return nil
			}
		},
		func(svc *signing.Service, id string) (*store.Registration, error) {
			return svc.RefuseRegistration(ctx, id, actor(), *reason)
		})
}

// registrationReissue replaces a registration's claim link (lost, or
// expired): a new secret, shown this once; the old one claims nothing.
func registrationReissue(ctx context.Context, e *env, args []string) error {
	fs := newFlags(e, "registration reissue", "registration reissue ID [--app-url URL] [--data DIR] [--output json]")
	d := addDataFlags(fs)
	out := outputFlag(fs)
	appURL := fs.String("app-url", "", "the citizen app's public URL (kysod's app.public_url): prints the claim link too")
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
	reg, err := svc.ReissueClaim(ctx, &signing.ReissueClaimRequest{ID: pos[0], Actor: actor()})
	if err != nil {
		return err
	}
	r, err := admin.NewReissued(reg, *appURL)
	if err != nil {
		return err
	}
	if *out == "json" {
		return writeJSON(e.stdout, r)
	}
	fmt.Fprintf(e.stdout, "registration %s: new claim secret %s, claims until %s; the old link claims nothing\n", r.ID, r.ClaimSecret,
		r.ExpiresAt.Format(time.RFC3339))
	if r.ClaimURL != "" {
		fmt.Fprintf(e.stdout, "claim link: %s\n", r.ClaimURL)
	}
	return nil
}
