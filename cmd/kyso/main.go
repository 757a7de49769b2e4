// Command kyso is the command line of kyso, for operators and clients:
// "kyso <noun> <verb> [flags]". Where the output is data, --output json
// prints it as JSON.
package main

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"runtime"
	"sort"
	"strings"
	"syscall"
	"time"
	_ "time/tzdata" // --tz names a zone on hosts without /usr/share/zoneinfo

	"github.com/kyso-pki/kyso/internal/version"
	"github.com/kyso-pki/kyso/pkg/display"
)

// command is one "noun verb" of the CLI.
type command struct {
	noun, verb string
	summary    string
	run        func(ctx context.Context, e *env, args []string) error
}

// env is what a command writes to.
type env struct {
	stdout, stderr io.Writer
}

func commands() []command {
	return []command{
		{"key", "create", "create a key in a key store and print its URI and public key", keyCreate},
		{"key", "list", "list the keys in a key store", keyList},
		{"key", "delete", "destroy a key in a key store", keyDelete},
		{"key", "create-master", "create the master wrapping key on a PKCS#11 token (for wrapped citizen keys)", keyCreateMaster},
		{"ca", "init", "create the CA hierarchy (root, issuing, OCSP, TSA) in a data directory", caInit},
		{"ca", "import", "install a provider's subordinate CA (issued by the national root) as the issuing CA", caImport},
		{"ca", "chain", "print the issuing CA then the root, PEM", caChain},
		{"cert", "issue", "issue a citizen or organisation signing certificate", certIssue},
		{"cert", "show", "show a certificate by serial (hex)", certShow},
		{"cert", "list", "list certificates, by CCCD, MST, profile or status", certList},
		{"cert", "revoke", "revoke a certificate by serial (hex) and regenerate the CRL", certRevoke},
		{"cert", "suspend", "suspend a certificate (certificateHold) by serial (hex) and regenerate the CRL", certSuspend},
		{"cert", "resume", "lift a certificate's suspension by serial (hex) and regenerate the CRL", certResume},
		{"cert", "renew", "ask a credential's owner to renew its certificate: they approve it in the app with their factors", certRenew},
		{"crl", "generate", "sign fresh CRLs", crlGenerate},
		{"trust", "list", "list the trust anchors (the provider's root and the CAs added) with SHA-256 fingerprints", trustList},
		{"trust", "add", "add root or intermediate CA certificates (PEM or DER files, e.g. NEAC's national root) to the trust store", trustAdd},
		{"trust", "remove", "remove trust anchors by SHA-256 fingerprint (the provider's own root cannot be removed)", trustRemove},
		{"audit", "verify", "check the audit log's hash chain and signed checkpoints; name each break (modified, deleted, inserted, reordered, truncated) and where", auditVerify},
		{"audit", "export", "write the audit events of a span, with their chain fields and the checkpoints, as JSON lines for auditors", auditExport},
		{"audit", "key", "print the audit key's public key (PEM), which checkpoints are verified with", auditKey},
		{"sign", "pdf", "sign a PDF (PAdES B-B, or B-T with a time-stamp) with a key in a key store", signPDF},
		{"bench", "keys", "measure signatures per second through each key backend against the bare limit", benchKeys},
		{"bench", "ca", "measure certificates per second (SQLite, PostgreSQL) and OCSP responses per second against openssl ocsp", benchCA},
		{"bench", "pdf", "measure signing a 1-page, 10 MB and 100 MB PDF (time, peak RSS) against the floor, pyHanko and pdfsig", benchPDF},
		{"bench", "verify", "measure validating a 1- and a 5-signature PDF with embedded LTV data, offline, against pdfsig and pyHanko", benchVerify},
		{"bench", "report", "time the campaign reports (the count, each format) on the database, optionally filled first with a generated campaign (--generate N)", benchReport},
		{"bench", "scale", "grow the database with a generated campaign to each size (10³, 10⁵, 10⁶) and measure enrolment, issuance, OCSP, authorize and signHash there, with the tables' sizes and 10⁷ projected", benchScale},
		{"bench", "csc", "measure CSC signHash over HTTPS (1 and 20 hashes, 1 and N clients) and the authorize+signHash round trip against the bare PKCS#11 loop and the floor (HTTPS, one durable commit, C_Sign)", benchCSC},
		{"bench", "replicas", "run N kysod on one PostgreSQL behind one address under a mixed load (enrol, authorize+signHash, SmartCA with webhooks, OCSP), one killed and restarted mid-run: throughput against one kysod, and nothing lost or done twice", benchReplicas},
		{"enroll", "", "enrol a citizen: a key, a citizen certificate, a PIN and a TOTP second factor", enrol},
		{"staff", "add", "register a registration officer or field staff member (photo, name, birth year, position, provider, wards, authorised period)", staffAdd},
		{"staff", "list", "list the registered staff", staffList},
		{"staff", "show", "show a staff member (and write their photo)", staffShow},
		{"staff", "revoke", "revoke a staff member's authorisation: their badges are refused at once", staffRevoke},
		{"staff", "badge", "make a staff badge: a QR code (PNG) of the public check page's URL with a signed token", staffBadge},
		{"registration", "list", "list citizens' online self-registrations (pending by default) waiting for an officer to verify their identity", registrationList},
		{"registration", "show", "show a self-registration", registrationShow},
		{"registration", "approve", "approve a self-registration once the citizen's identity is verified: the key and certificate are made (channel online); the citizen claims the second factor in the app", registrationApprove},
		{"registration", "refuse", "refuse a self-registration, with the reason the citizen is shown", registrationRefuse},
		{"registration", "reissue", "replace a registration's lost or expired claim link: a new secret, shown once; the old one claims nothing", registrationReissue},
		{"registry", "member", "print this provider's entry for a shared campaign registry's members file (its TLS client key's SHA-256 and its signing key), making the keys on first use", registryMember},
		{"registry", "backfill", "register this provider's campaign certificates in force with the campaign registry kyso.json names (once, on joining a shared one); citizens another provider holds are listed", registryBackfill},
		{"client", "create", "register a relying party (portal) and print its client_id and client_secret", clientCreate},
		{"client", "set-category", "move a portal to public-service or commercial for the signatures counted from now on", clientSetCategory},
		{"usage", "", "count signatures per citizen and per portal in a period, by category (public-service, commercial), free and metered", usageCmd},
		{"approve", "", "the owner's side: list pending signing transactions, approve or reject them with PIN and one-time code", approve},
		{"verify", "", "validate every signature of a PDF: integrity, trust, revocation, time-stamps, changes after signing", verifyPDF},
		{"extend", "", "add validation data to a signed PDF (PAdES B-LT) and a document time-stamp (B-LTA)", extendPDF},
		{"report", "campaign", "count a period's enrolments by province, ward and channel, with their certificates' state (text, JSON or CSV)", reportCampaign},
		{"backup", "", "write a backup of a data directory while kysod runs: a SQLite snapshot, kyso.json, the secrets key and softkey files", backupCmd},
		{"restore", "", "restore a backup into a new data directory, checking the database before it is used", restoreCmd},
		{"version", "", "print kyso's version", versionCmd},
	}
}

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	code := run(ctx, os.Args[1:], &env{stdout: os.Stdout, stderr: os.Stderr})
	stop()
	os.Exit(code)
}

// usageError is an error in how the command was called: exit status 2.
type usageError struct{ msg string }

func (u *usageError) Error() string { return u.msg }

func usagef(format string, args ...any) error { return &usageError{fmt.Sprintf(format, args...)} }

func run(ctx context.Context, args []string, e *env) int {
	if len(args) == 0 || args[0] == "-h" || args[0] == "--help" || args[0] == "help" {
		printHelp(e.stdout)
		if len(args) == 0 {
			return 2
		}
		return 0
	}
	if args[0] == "--version" || args[0] == "-version" {
		args = []string{"version"}
	}
	noun := args[0]
	var verb string
	rest := args[1:]
	if len(rest) > 0 && !strings.HasPrefix(rest[0], "-") && !verbless(noun) {
		verb, rest = rest[0], rest[1:]
	}
	var found *command
	nounKnown := false
	for _, c := range commands() {
		if c.noun == noun {
			nounKnown = true
			if c.verb == verb || (c.verb == "" && verb == "") {
				c := c
				found = &c
				break
			}
		}
	}
	if found == nil {
		switch {
		case !nounKnown:
			fmt.Fprintf(e.stderr, "kyso: unknown command %q\n\n", noun)
		case verb == "":
			fmt.Fprintf(e.stderr, "kyso: %q needs a verb\n\n", noun)
		default:
			fmt.Fprintf(e.stderr, "kyso: unknown command %q\n\n", noun+" "+verb)
		}
		printHelp(e.stderr)
		return 2
	}
	err := found.run(ctx, e, rest)
	var ue *usageError
	switch {
	case err == nil:
		return 0
	case errors.Is(err, flag.ErrHelp):
		return 0
	case errors.As(err, &ue):
		fmt.Fprintf(e.stderr, "kyso %s: %v\n", strings.TrimSpace(found.noun+" "+found.verb), err)
		return 2
	default:
		fmt.Fprintf(e.stderr, "kyso %s: %v\n", strings.TrimSpace(found.noun+" "+found.verb), err)
		return 1
	}
}

// verbless reports whether noun is a command without verbs (kyso verify
// FILE.pdf), whose arguments are all its own.
func verbless(noun string) bool {
	found := false
	for _, c := range commands() {
		if c.noun == noun {
			if c.verb != "" {
				return false
			}
			found = true
		}
	}
	return found
}

func printHelp(w io.Writer) {
	fmt.Fprintf(w, `kyso %s — remote signing: keys in an HSM or Vault, a CA, PAdES signatures

Usage:
  kyso <noun> <verb> [flags]
  kyso <noun> <verb> --help

Commands:
`, version.String())
	cs := commands()
	sort.SliceStable(cs, func(i, j int) bool { return cs[i].noun < cs[j].noun })
	for _, c := range cs {
		fmt.Fprintf(w, "  %-20s %s\n", strings.TrimSpace(c.noun+" "+c.verb), c.summary)
	}
	fmt.Fprint(w, `
Key store URIs:
  softkey:?dir=./kyso-data/keys&passphrase-source=file:./kyso-data/passphrase
  pkcs11:token=kyso?module-path=/usr/lib/softhsm/libsofthsm2.so&pin-source=file:/etc/kyso/pin
  vault:mount=transit?address=https://127.0.0.1:8200&token-source=env:VAULT_TOKEN&ca-file=/etc/kyso/vault-ca.pem

Secrets come from files (file:PATH) or the environment (env:NAME); --keystore
defaults to $KYSO_KEYSTORE.
`)
}

// newFlags makes a flag set for one command whose errors go to stderr.
func newFlags(e *env, name, usage string) *flag.FlagSet {
	fs := flag.NewFlagSet("kyso "+name, flag.ContinueOnError)
	fs.SetOutput(e.stderr)
	fs.Usage = func() {
		fmt.Fprintf(e.stderr, "Usage: kyso %s\n\nFlags:\n", usage)
		fs.PrintDefaults()
	}
	return fs
}

// parse parses flags and refuses stray arguments.
func parse(fs *flag.FlagSet, args []string) error {
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return err
		}
		return usagef("%v", err)
	}
	if fs.NArg() > 0 {
		return usagef("unexpected argument %q", fs.Arg(0))
	}
	return nil
}

// outputFlag adds --output text|json.
func outputFlag(fs *flag.FlagSet) *string {
	return fs.String("output", "text", "output format: text or json")
}

func checkOutput(o string) error {
	if o != "text" && o != "json" {
		return usagef("--output is %q, want text or json", o)
	}
	return nil
}

func writeJSON(w io.Writer, v any) error {
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	return enc.Encode(v)
}

func versionCmd(ctx context.Context, e *env, args []string) error {
	fs := newFlags(e, "version", "version [--output json]")
	out := outputFlag(fs)
	if err := parse(fs, args); err != nil {
		return err
	}
	if err := checkOutput(*out); err != nil {
		return err
	}
	if *out == "json" {
		return writeJSON(e.stdout, map[string]string{"version": version.String(), "go": runtime.Version(), "platform": runtime.GOOS + "/" + runtime.GOARCH})
	}
	fmt.Fprintf(e.stdout, "kyso %s (%s, %s/%s)\n", version.String(), runtime.Version(), runtime.GOOS, runtime.GOARCH)
	return nil
}

// tzFlag adds --tz, the IANA time zone a stamp or a report shows times
// in; what completes the flag's help ("the stamp shows the signing time in").
func tzFlag(fs *flag.FlagSet, what string) *string {
	return fs.String("tz", "", "IANA time zone "+what+`, e.g. "Asia/Ho_Chi_Minh" or "UTC"; the zone's offset is shown (default: Vietnam's time, GMT+7, whatever the host's TZ)`)
}

// parseTZ loads --tz; empty means Vietnam's time. The binary carries the
// time zone database (time/tzdata), so a host without one still works.
func parseTZ(name string) (*time.Location, error) {
	zone, err := display.LoadZone(name)
	if err != nil {
		return nil, usagef("--tz is %q, want an IANA time zone such as Asia/Ho_Chi_Minh or UTC", name)
	}
	return zone, nil
}
