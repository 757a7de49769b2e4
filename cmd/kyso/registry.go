package main

import (
	"context"
	"fmt"
	"text/tabwriter"

	"github.com/kyso-pki/kyso/pkg/display"
)

// registryMember prints this provider's entry for a shared campaign
// registry's members file: what the registry's operator adds so that the
// registry accepts this provider's requests. The keys are made in the key
// store on first use.
func registryMember(ctx context.Context, e *env, args []string) error {
	fs := newFlags(e, "registry member", "registry member [--data DIR] [--output json]")
	d := addDataFlags(fs)
	out := outputFlag(fs)
	if _, err := parseArgs(fs, args, 0, "no arguments"); err != nil {
		return err
	}
	if err := checkOutput(*out); err != nil {
		return err
	}
	unlock, err := d.lock(ctx)
	if err != nil {
		return err
	}
	defer unlock()
	dir, o, err := d.open(ctx)
	if err != nil {
		return err
	}
	defer o.Close()
	m, err := o.RegistryMember(ctx, dir)
	if err != nil {
		return err
	}
	if *out == "json" {
		return writeJSON(e.stdout, m)
	}
	b, err := m.Entry()
	if err != nil {
		return err
	}
	_, err = e.stdout.Write(b)
	return err
}

// registryBackfill registers this provider's campaign certificates in
// force with the campaign registry kyso.json names: once, when a provider
// that has issued joins a shared registry. It may be run again (each
// registration is idempotent); --dry-run only looks. Citizens another
// provider holds are listed for the operator to settle.
func registryBackfill(ctx context.Context, e *env, args []string) error {
	fs := newFlags(e, "registry backfill", "registry backfill [--data DIR] [--dry-run] [--output json]")
	d := addDataFlags(fs)
	dry := fs.Bool("dry-run", false, "look only: count what would be registered, register nothing")
	out := outputFlag(fs)
	if _, err := parseArgs(fs, args, 0, "no arguments"); err != nil {
		return err
	}
	if err := checkOutput(*out); err != nil {
		return err
	}
	svc, o, err := d.enrolling(ctx)
	if err != nil {
		return err
	}
	defer o.Close()
	b, err := svc.BackfillCampaignRegistry(ctx, actor(), *dry)
	if b == nil {
		return err
	}
	if *out == "json" {
		if werr := writeJSON(e.stdout, b); werr != nil {
			return werr
		}
		return err
	}
	verb := "registered"
	if b.DryRun {
		verb = "to register (dry run)"
	}
	fmt.Fprintf(e.stdout, "%d %s, %d held here already, %d held by another provider\n", b.Registered, verb, b.Held, b.HeldElsewhere)
	if len(b.Elsewhere) > 0 {
		tw := tabwriter.NewWriter(e.stdout, 0, 4, 2, ' ', 0)
		fmt.Fprintln(tw, "NATIONAL ID\tHELD BY\tSINCE")
		for _, h := range b.Elsewhere {
			fmt.Fprintf(tw, "%s\t%s (%s)\t%s\n", h.NationalID, display.Escape(h.ProviderName), display.Escape(h.ProviderID), h.Since.UTC().Format("2006-01-02"))
		}
		tw.Flush()
	}
	return err
}
