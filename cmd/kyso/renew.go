package main

import (
	"context"
	"fmt"
	"time"

	"github.com/kyso-pki/kyso/pkg/admin"
	"github.com/kyso-pki/kyso/pkg/display"
)

// certRenew asks a credential's owner to renew its certificate
// (signing.Service.RequestRenewal): the owner approves it in the app
// ("Gia hạn") with their factors; nothing is issued before.
func certRenew(ctx context.Context, e *env, args []string) error {
	fs := newFlags(e, "cert renew", "cert renew CREDENTIAL_ID [--data DIR] [--output json]")
	d := addDataFlags(fs)
	out := outputFlag(fs)
	pos, err := parseArgs(fs, args, 1, "CREDENTIAL_ID")
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
	st, err := svc.RequestRenewal(ctx, pos[0], actor())
	if err != nil {
		return err
	}
	r := &admin.Renewal{CredentialID: st.CredentialID, Serial: st.Serial, NotAfter: st.NotAfter, RequestedBy: st.Requested, Metered: st.Metered}
	if *out == "json" {
		return writeJSON(e.stdout, r)
	}
	fmt.Fprintf(e.stdout, "asked the owner of credential %s to renew certificate %s (expires %s); they approve it in the app (Gia hạn)\n",
		display.Escape(r.CredentialID), r.Serial, r.NotAfter.Format(time.DateOnly))
	return nil
}
