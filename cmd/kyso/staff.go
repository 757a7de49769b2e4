package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"os"
	"strings"
	"time"

	"github.com/kyso-pki/kyso/cmd/internal/datadir"
	"github.com/kyso-pki/kyso/pkg/admin"
	"github.com/kyso-pki/kyso/pkg/staff"
	"github.com/kyso-pki/kyso/pkg/store"
)

// openStaff opens the data directory and the staff service over it, the
// badge key made in its key store on first use (as kysod does).
func openStaff(ctx context.Context, d *dataFlags, appURL string) (*staff.Service, *datadir.Opened, error) {
	_, o, err := d.open(ctx)
	if err != nil {
		return nil, nil, err
	}
	key, err := staff.OpenKey(ctx, o.Keys)
	if err != nil {
		o.Close()
		return nil, nil, err
	}
	svc, err := staff.New(staff.Config{Store: o.Store, Key: key, AppURL: appURL})
	if err != nil {
		o.Close()
		return nil, nil, err
	}
	return svc, o, nil
}

// printStaff prints a staff member as text or JSON.
func printStaff(e *env, output string, m *store.Staff) error {
	if output == "json" {
		return writeJSON(e.stdout, admin.NewStaff(m))
	}
	state := "authorised"
	if !m.RevokedAt.IsZero() {
		state = "REVOKED " + m.RevokedAt.UTC().Format(time.RFC3339)
	}
	wards := strings.Join(m.Wards, ",")
	if wards == "" {
		wards = "any"
	}
	_, err := fmt.Fprintf(e.stdout, "%s  %s (%d), %s, %s\n    wards %s; %s to %s; %s\n", m.ID, m.FullName, m.BirthYear, m.Position, m.Provider,
		wards, m.AuthorisedFrom.UTC().Format(time.DateOnly), m.AuthorisedUntil.UTC().Format(time.DateOnly), state)
	return err
}

// staffAdd registers a staff member.
func staffAdd(ctx context.Context, e *env, args []string) error {
	fs := newFlags(e, "staff add", "staff add --name NAME --birth-year YYYY --position POS --provider NAME --photo FILE --until DATE [--from DATE] [--ward CODE,...] [--data DIR] [--output json]")
	d := addDataFlags(fs)
	out := outputFlag(fs)
	name := fs.String("name", "", "full name, as on the identity card")
	year := fs.Int("birth-year", 0, "year of birth")
	position := fs.String("position", "", "position, e.g. \"Cán bộ đăng ký\"")
	provider := fs.String("provider", "", "the provider the person works for")
	photo := fs.String("photo", "", "a JPEG or PNG portrait, at most 200 KB")
	wards := fs.String("ward", "", "comma-separated codes of the wards the person may work in; empty: any")
	fromS := fs.String("from", "", "authorised from: RFC 3339 or a UTC date; default now")
	untilS := fs.String("until", "", "authorised until: RFC 3339 or a UTC date (required)")
	if err := parse(fs, args); err != nil {
		return err
	}
	if err := checkOutput(*out); err != nil {
		return err
	}
	from, err := parseWhen("--from", *fromS)
	if err != nil {
		return err
	}
	until, err := parseWhen("--until", *untilS)
	if err != nil {
		return err
	}
	if until.IsZero() || *photo == "" {
		return usagef("--until and --photo are required")
	}
	fi, err := os.Stat(*photo)
	if err != nil {
		return usagef("--photo: %v", err)
	}
	if fi.Size() > store.MaxStaffPhoto {
		return usagef("--photo %s is %d bytes, more than %d", *photo, fi.Size(), store.MaxStaffPhoto)
	}
	img, err := os.ReadFile(*photo)
	if err != nil {
		return err
	}
	var ws []string
	if *wards != "" {
		ws = strings.Split(*wards, ",")
	}
	svc, o, err := openStaff(ctx, d, "")
	if err != nil {
		return err
	}
	defer o.Close()
	m, err := svc.Add(ctx, actor(), &staff.AddRequest{FullName: *name, BirthYear: *year, Position: *position, Provider: *provider,
		Wards: ws, Photo: img, From: from, Until: until})
	if errors.Is(err, staff.ErrInvalid) {
		return usagef("%v", err)
	}
	if err != nil {
		return err
	}
	m.Photo = nil
	return printStaff(e, *out, m)
}

// staffList lists the staff, oldest first.
func staffList(ctx context.Context, e *env, args []string) error {
	fs := newFlags(e, "staff list", "staff list [--data DIR] [--output json]")
	d := addDataFlags(fs)
	out := outputFlag(fs)
	if err := parse(fs, args); err != nil {
		return err
	}
	if err := checkOutput(*out); err != nil {
		return err
	}
	svc, o, err := openStaff(ctx, d, "")
	if err != nil {
		return err
	}
	defer o.Close()
	list, err := svc.List(ctx)
	if err != nil {
		return err
	}
	if *out == "json" {
		js := make([]*admin.Staff, len(list))
		for i, m := range list {
			js[i] = admin.NewStaff(m)
		}
		return writeJSON(e.stdout, js)
	}
	for _, m := range list {
		if err := printStaff(e, "text", m); err != nil {
			return err
		}
	}
	return nil
}

// staffOne parses a command on one staff ID and opens the service.
func staffOne(ctx context.Context, e *env, args []string, name, usage string, more func(fs *flag.FlagSet)) (string, *staff.Service, *datadir.Opened, *string, error) {
	fs := newFlags(e, name, usage)
	d := addDataFlags(fs)
	out := outputFlag(fs)
	appURL := fs.String("app-url", "", "the citizen app's public URL (kysod's app.public_url), which badges link to")
	if more != nil {
		more(fs)
	}
	pos, err := parseArgs(fs, args, 1, "a staff ID")
	if err != nil {
		return "", nil, nil, nil, err
	}
	if err := checkOutput(*out); err != nil {
		return "", nil, nil, nil, err
	}
	svc, o, err := openStaff(ctx, d, *appURL)
	if err != nil {
		return "", nil, nil, nil, err
	}
	return pos[0], svc, o, out, nil
}

// staffShow shows a staff member, and writes their photo with --photo-out.
func staffShow(ctx context.Context, e *env, args []string) error {
	var photoOut *string
	id, svc, o, out, err := staffOne(ctx, e, args, "staff show", "staff show ID [--photo-out FILE] [--data DIR] [--output json]",
		func(fs *flag.FlagSet) { photoOut = fs.String("photo-out", "", "write the photo to FILE") })
	if err != nil {
		return err
	}
	defer o.Close()
	m, err := svc.Show(ctx, id)
	if err != nil {
		return err
	}
	if *photoOut != "" {
		if err := os.WriteFile(*photoOut, m.Photo, 0o600); err != nil {
			return err
		}
	}
	if *out != "json" {
		m.Photo = nil
	}
	return printStaff(e, *out, m)
}

// staffRevoke revokes a staff member's authorisation, at once.
func staffRevoke(ctx context.Context, e *env, args []string) error {
	var reason *string
	id, svc, o, _, err := staffOne(ctx, e, args, "staff revoke", "staff revoke ID [--reason TEXT] [--data DIR]",
		func(fs *flag.FlagSet) { reason = fs.String("reason", "", "why, for the audit trail") })
	if err != nil {
		return err
	}
	defer o.Close()
	if err := svc.Revoke(ctx, actor(), id, *reason); err != nil {
		return err
	}
	fmt.Fprintf(e.stderr, "revoked %s: every badge of theirs is refused from now on\n", id)
	return nil
}

// staffBadge makes a badge: the check page's URL, and its QR code as a
// PNG file.
func staffBadge(ctx context.Context, e *env, args []string) error {
	var pngOut *string
	id, svc, o, out, err := staffOne(ctx, e, args, "staff badge", "staff badge ID --app-url URL --out FILE.png [--data DIR] [--output json]",
		func(fs *flag.FlagSet) {
			pngOut = fs.String("out", "", "write the badge's QR code (PNG) to FILE (required)")
		})
	if err != nil {
		return err
	}
	defer o.Close()
	if *pngOut == "" {
		return usagef("--out FILE.png is required")
	}
	b, err := svc.Badge(ctx, actor(), id)
	if errors.Is(err, staff.ErrInvalid) {
		return usagef("%v", err)
	}
	if err != nil {
		return err
	}
	if err := os.WriteFile(*pngOut, b.PNG, 0o644); err != nil {
		return err
	}
	if *out == "json" {
		return writeJSON(e.stdout, map[string]any{"url": b.URL, "expires_at": b.ExpiresAt.UTC(), "png": *pngOut})
	}
	_, err = fmt.Fprintf(e.stdout, "%s\nexpires %s; QR code in %s\n", b.URL, b.ExpiresAt.UTC().Format(time.RFC3339), *pngOut)
	return err
}
