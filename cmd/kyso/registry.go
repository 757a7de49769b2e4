package main

import (
	"context"
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
