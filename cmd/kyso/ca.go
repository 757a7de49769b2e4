package main

import (
	"context"
	"crypto/sha256"
	"crypto/x509"
	"encoding/hex"
	"encoding/pem"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"slices"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/kyso-pki/kyso/cmd/internal/datadir"
	"github.com/kyso-pki/kyso/hsm"
	"github.com/kyso-pki/kyso/pkg/ca"
	"github.com/kyso-pki/kyso/pkg/display"
	"github.com/kyso-pki/kyso/pkg/signing"
	"github.com/kyso-pki/kyso/pkg/store"
	"github.com/kyso-pki/kyso/pkg/store/storeopen"
)

// dataFlags are the flags every CA command takes: the data directory, and
// overrides of what its kyso.json says.
type dataFlags struct {
	dir, keystore, db string
}

func addDataFlags(fs *flag.FlagSet) *dataFlags {
	d := &dataFlags{}
	fs.StringVar(&d.dir, "data", envOrDefault("KYSO_DATA", "./kyso-data"), "data directory (env KYSO_DATA)")
	fs.StringVar(&d.keystore, "keystore", "", "key store URI; default: the data directory's kyso.json, else softkey files in it")
	fs.StringVar(&d.db, "db", "", "database: sqlite:PATH or postgres://…; default: kyso.json, else DIR/kyso.db")
	return d
}

func envOrDefault(name, def string) string {
	if v := os.Getenv(name); v != "" {
		return v
	}
	return def
}

// open loads the data directory with the flag overrides and opens it.
func (d *dataFlags) open(ctx context.Context) (*datadir.Dir, *datadir.Opened, error) {
	dir, err := datadir.Load(d.dir)
	if err != nil {
		return nil, nil, err
	}
	if d.keystore != "" {
		if err := dir.UseKeystore(d.keystore); err != nil {
			return nil, nil, usagef("%v", err)
		}
	}
	if d.db != "" {
		dir.Config.DB = d.db
	}
	o, err := dir.Open(ctx, &datadir.Options{Actor: actor()})
	if err != nil {
		return nil, nil, err
	}
	return dir, o, nil
}

// signing opens the data directory with the signing service over it; the
// caller closes the Opened.
func (d *dataFlags) signing(ctx context.Context) (*signing.Service, *datadir.Opened, error) {
	_, o, svc, err := d.openSigning(ctx)
	return svc, o, err
}

// openSigning is signing with the data directory too.
func (d *dataFlags) openSigning(ctx context.Context) (*datadir.Dir, *datadir.Opened, *signing.Service, error) {
	dir, o, err := d.open(ctx)
	if err != nil {
		return nil, nil, nil, err
	}
	svc, err := o.Signing(dir, nil)
	if err != nil {
		o.Close()
		return nil, nil, nil, err
	}
	return dir, o, svc, nil
}

// enrolling is signing with the campaign registry kyso.json configures
// (datadir.Opened.CampaignRegistry), for the commands that enrol.
func (d *dataFlags) enrolling(ctx context.Context) (*signing.Service, *datadir.Opened, error) {
	dir, o, err := d.open(ctx)
	if err != nil {
		return nil, nil, err
	}
	reg, err := o.CampaignRegistry(ctx, dir, nil)
	if err == nil {
		var svc *signing.Service
		if svc, err = o.SigningWith(dir, signing.Config{SkipSignerCheck: true, CampaignRegistry: reg}); err == nil {
			return svc, o, nil
		}
	}
	o.Close()
	return nil, nil, err
}

// lock takes the data directory's lock (datadir.Lock), for commands that
// create things in it.
func (d *dataFlags) lock(ctx context.Context) (datadir.Unlock, error) {
	return datadir.Lock(ctx, d.dir, nil)
}

// actor names who runs the CLI, for the audit trail.
func actor() string {
	u := os.Getenv("USER")
	if u == "" {
		u = fmt.Sprint(os.Getuid())
	}
	return "cli:" + u
}

// parseArgs parses flags that may come before or after positional
// arguments ("kyso cert show SERIAL --data DIR"), and returns the
// positionals, exactly want of them.
func parseArgs(fs *flag.FlagSet, args []string, want int, names string) ([]string, error) {
	pos, err := parsePositional(fs, args, want, names)
	if err != nil {
		return nil, err
	}
	if len(pos) != want {
		return nil, usagef("want %s, got %d argument(s)", names, len(pos))
	}
	return pos, nil
}

// parsePositional parses flags around at least min positional arguments
// and returns the positionals.
func parsePositional(fs *flag.FlagSet, args []string, min int, names string) ([]string, error) {
	var pos []string
	for {
		if err := fs.Parse(args); err != nil {
			if errors.Is(err, flag.ErrHelp) {
				return nil, err
			}
			return nil, usagef("%v", err)
		}
		if fs.NArg() == 0 {
			break
		}
		pos = append(pos, fs.Arg(0))
		args = fs.Args()[1:]
	}
	if len(pos) < min {
		return nil, usagef("want %s, got %d argument(s)", names, len(pos))
	}
	return pos, nil
}

func pemCert(w io.Writer, der []byte) {
	pem.Encode(w, &pem.Block{Type: "CERTIFICATE", Bytes: der})
}

// certJSON is how a certificate is printed with --output json.
type certJSON struct {
	Serial     string    `json:"serial"`
	Issuer     string    `json:"issuer"`
	Profile    string    `json:"profile,omitempty"`
	Subject    string    `json:"subject"`
	NationalID string    `json:"national_id,omitempty"`
	Status     string    `json:"status,omitempty"`
	NotBefore  time.Time `json:"not_before"`
	NotAfter   time.Time `json:"not_after"`
	SHA256     string    `json:"sha256_fingerprint"`
	KeyURI     string    `json:"key_uri,omitempty"`
	PEM        string    `json:"pem"`
}

func certToJSON(c *x509.Certificate, rec *store.Certificate) certJSON {
	fp := sha256.Sum256(c.Raw)
	j := certJSON{
		Serial: display.FormatSerialInt(c.SerialNumber), Subject: display.SubjectDN(c),
		NotBefore: c.NotBefore.UTC(), NotAfter: c.NotAfter.UTC(),
		SHA256: strings.ToUpper(hex.EncodeToString(fp[:])),
		PEM:    string(pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: c.Raw})),
	}
	if rec != nil {
		j.Issuer, j.Profile, j.NationalID, j.Status, j.KeyURI = rec.Issuer, rec.Profile, rec.NationalID, rec.Status, rec.KeyURI
	}
	return j
}

func caInit(ctx context.Context, e *env, args []string) error {
	fs := newFlags(e, "ca init", "ca init [--data DIR] [--keystore URI] [--db DSN] [--name NAME] [--base-url URL] [--policy-oid OID] [--tsa-policy-oid OID] [--ca-alg ALG] [--alg ALG] [--rsa-pkcs1v15] [--crl-shards N] [--output json]")
	d := addDataFlags(fs)
	name := fs.String("name", "", `provider name, written as O and in the CAs' CN (default "Kyso Development")`)
	baseURL := fs.String("base-url", "", "plain-HTTP base of the OCSP, CRL and CA certificate URLs written into certificates (default "+ca.DefaultBaseURL+")")
	policy := fs.String("policy-oid", "", "the provider's certificate policy OID (default: a placeholder under 2.999)")
	tsaPolicy := fs.String("tsa-policy-oid", "", "the provider's time-stamping policy OID (default: a placeholder under 2.999)")
	caAlg := fs.String("ca-alg", "ecdsa-p384", "key algorithm of the root and issuing CAs")
	svcAlg := fs.String("alg", "ecdsa-p256", "key algorithm of the OCSP responder and the time-stamping authority")
	legacyRSA := fs.Bool("rsa-pkcs1v15", false, "RSA keys sign certificates, CRLs, OCSP responses and time-stamps with PKCS#1 v1.5, not RSASSA-PSS (legacy relying parties only; kept in kyso.json)")
	crlShards := fs.Int("crl-shards", 0, fmt.Sprintf("partition the issuing CA's CRL into this many shards, each certificate naming its own (0 or 1: one CRL; at most %d; kept in kyso.json)", store.MaxCRLShards))
	out := outputFlag(fs)
	if err := parse(fs, args); err != nil {
		return err
	}
	if err := checkOutput(*out); err != nil {
		return err
	}
	if *crlShards < 0 || *crlShards > store.MaxCRLShards {
		return usagef("--crl-shards %d is outside [0, %d]", *crlShards, store.MaxCRLShards)
	}
	alg, err := hsm.ParseAlgorithm(*caAlg)
	if err != nil {
		return usagef("%v", err)
	}
	svc, err := hsm.ParseAlgorithm(*svcAlg)
	if err != nil {
		return usagef("--alg: %v", err)
	}
	unlock, err := d.lock(ctx)
	if err != nil {
		return err
	}
	defer unlock()
	dir, err := datadir.Load(d.dir)
	if err != nil {
		return err
	}
	if d.keystore != "" {
		if err := dir.UseKeystore(d.keystore); err != nil {
			return usagef("%v", err)
		}
	}
	if d.db != "" {
		dir.Config.DB = d.db
	}
	if *baseURL != "" {
		dir.Config.BaseURL = *baseURL
	}
	if *policy != "" {
		if _, err := datadir.ParseOID(*policy); err != nil {
			return usagef("--policy-oid: %v", err)
		}
		dir.Config.PolicyOID = *policy
	}
	if *tsaPolicy != "" {
		if _, err := datadir.ParseOID(*tsaPolicy); err != nil {
			return usagef("--tsa-policy-oid: %v", err)
		}
		dir.Config.TSAPolicyOID = *tsaPolicy
	}
	if *legacyRSA {
		dir.Config.RSAPKCS1v15 = true
	}
	if *crlShards > 1 {
		dir.Config.CRLShards = *crlShards
	}
	o, err := dir.Open(ctx, &datadir.Options{Actor: actor()})
	if err != nil {
		return err
	}
	defer o.Close()
	if err := dir.Save(); err != nil {
		return err
	}
	h, err := o.CA.Init(ctx, &ca.InitRequest{Name: *name, CAAlgorithm: alg, Algorithm: svc, Actor: actor()})
	if err != nil {
		return err
	}
	if _, err := o.CA.GenerateCRL(ctx); err != nil {
		return err
	}
	certs := []struct {
		role string
		c    *x509.Certificate
	}{{"root", h.Root}, {"issuing", h.Issuing}, {"ocsp", h.OCSP}, {"tsa", h.TSA}}
	if *out == "json" {
		m := map[string]certJSON{}
		for _, c := range certs {
			if c.c != nil {
				m[c.role] = certToJSON(c.c, nil)
			}
		}
		return writeJSON(e.stdout, m)
	}
	tw := tabwriter.NewWriter(e.stdout, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "ROLE\tSERIAL\tSUBJECT\tNOT AFTER")
	for _, c := range certs {
		if c.c != nil {
			j := certToJSON(c.c, nil)
			fmt.Fprintf(tw, "%s\t%s\t%s\t%s\n", c.role, j.Serial, j.Subject, j.NotAfter.Format(time.DateOnly))
		}
	}
	tw.Flush()
	fmt.Fprintf(e.stderr, "data directory %s: key store %s, database %s\n", dir.Path, redactURI(dir.Config.Keystore), storeopen.Redact(dir.Config.DB))
	return nil
}

func redactURI(s string) string {
	if u, err := hsm.ParseURI(s); err == nil {
		return u.Redacted()
	}
	return "(unparsable URI)"
}

func caImport(ctx context.Context, e *env, args []string) error {
	fs := newFlags(e, "ca import", "ca import --cert SUBCA.pem --chain CHAIN.pem --label KEY [--data DIR] [--keystore URI] [--db DSN]")
	d := addDataFlags(fs)
	certFile := fs.String("cert", "", "the subordinate CA certificate (PEM or DER) issued by the national root")
	chainFile := fs.String("chain", "", "the certificates above it, nearest first, ending with the root (PEM)")
	label := fs.String("label", "", "label of the subordinate CA's key, already in the key store")
	if err := parse(fs, args); err != nil {
		return err
	}
	if *certFile == "" || *chainFile == "" || *label == "" {
		return usagef("--cert, --chain and --label are required")
	}
	certs, err := readCerts(*certFile)
	if err != nil {
		return err
	}
	chain, err := readCerts(*chainFile)
	if err != nil {
		return err
	}
	dir, o, err := d.open(ctx)
	if err != nil {
		return err
	}
	defer o.Close()
	if err := dir.Save(); err != nil {
		return err
	}
	c, err := o.CA.ImportSubordinate(ctx, &ca.ImportRequest{Certificate: certs[0], Chain: chain, KeyLabel: *label, Actor: actor()})
	if err != nil {
		return err
	}
	fmt.Fprintf(e.stdout, "imported %s (serial %s) as the issuing CA; run `kyso ca init` to add the OCSP and TSA certificates\n", c.Subject, ca.FormatSerialInt(c.SerialNumber))
	return nil
}

// readCerts reads PEM certificates, or one DER certificate.
func readCerts(path string) ([][]byte, error) {
	b, err := readBoundedFile(path, 1<<20)
	if err != nil {
		return nil, err
	}
	var out [][]byte
	for {
		var blk *pem.Block
		blk, b = pem.Decode(b)
		if blk == nil {
			break
		}
		if blk.Type == "CERTIFICATE" {
			out = append(out, blk.Bytes)
		}
	}
	if len(out) == 0 {
		if _, err := x509.ParseCertificate(b); err == nil {
			out = append(out, b)
		}
	}
	if len(out) == 0 {
		return nil, fmt.Errorf("%s holds no certificate (PEM or DER)", path)
	}
	return out, nil
}

func readBoundedFile(path string, max int64) ([]byte, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	b, err := io.ReadAll(io.LimitReader(f, max+1))
	if err != nil {
		return nil, err
	}
	if int64(len(b)) > max {
		return nil, fmt.Errorf("%s is larger than %d bytes", path, max)
	}
	return b, nil
}

func caChain(ctx context.Context, e *env, args []string) error {
	fs := newFlags(e, "ca chain", "ca chain [--data DIR]   (prints the issuing CA, then the root, PEM)")
	d := addDataFlags(fs)
	if err := parse(fs, args); err != nil {
		return err
	}
	_, o, err := d.open(ctx)
	if err != nil {
		return err
	}
	defer o.Close()
	chain, err := o.CA.Chain(ctx)
	if err != nil {
		return err
	}
	for _, c := range chain {
		pemCert(e.stdout, c.Raw)
	}
	return nil
}

func certIssue(ctx context.Context, e *env, args []string) error {
	fs := newFlags(e, "cert issue", `cert issue --profile citizen --cccd 079203001234 --name "Nguyễn Văn Đức" --province "Hồ Chí Minh" (--csr FILE | --keygen ecdsa-p256 --label KEY | --label KEY) [-o cert.pem] [--data DIR] [--output json]
       kyso cert issue --profile organisation --mst 0101234567 --name "Công ty …" --province "Hà Nội" (…)`)
	d := addDataFlags(fs)
	profile := fs.String("profile", "citizen", "citizen or organisation")
	cccd := fs.String("cccd", "", "citizen identity number, 12 digits (citizen)")
	mst := fs.String("mst", "", "tax code, 10 digits or 10-3 (organisation)")
	name := fs.String("name", "", "full name with diacritics (citizen) or organisation name")
	province := fs.String("province", "", "province, one of the 34 in force since 1 July 2025")
	locality := fs.String("locality", "", "optional locality (L)")
	email := fs.String("email", "", "optional e-mail address (rfc822Name SAN)")
	csrFile := fs.String("csr", "", "PKCS#10 request (PEM or DER): the applicant holds the key")
	keygen := fs.String("keygen", "", "make the key in the key store with this algorithm (ecdsa-p256, rsa-3072, …) under --label")
	label := fs.String("label", "", "label of the subscriber's key in the key store")
	validity := fs.Duration("validity", 0, "certificate life (default one year; at most three)")
	outFile := fs.String("o", "", "write the certificate (PEM) to this file")
	out := outputFlag(fs)
	if err := parse(fs, args); err != nil {
		return err
	}
	if err := checkOutput(*out); err != nil {
		return err
	}
	var src ca.KeySource
	switch {
	case *csrFile != "" && (*label != "" || *keygen != ""):
		return usagef("give --csr, or --label (with --keygen to make the key), not both")
	case *csrFile != "":
		b, err := readBoundedFile(*csrFile, 64<<10)
		if err != nil {
			return err
		}
		if blk, _ := pem.Decode(b); blk != nil {
			if blk.Type != "CERTIFICATE REQUEST" && blk.Type != "NEW CERTIFICATE REQUEST" {
				return fmt.Errorf("%s holds a %s, not a CERTIFICATE REQUEST", *csrFile, blk.Type)
			}
			b = blk.Bytes
		}
		src.CSR = b
	case signing.IsCredentialKey(*label):
		return usagef("%s", reservedLabel(*label))
	case *label != "":
		src.KeyLabel = *label
		if *keygen != "" {
			alg, err := hsm.ParseAlgorithm(*keygen)
			if err != nil {
				return usagef("--keygen: %v", err)
			}
			src.KeyAlgorithm = alg
		}
	default:
		return usagef("give --csr FILE, or --label KEY (with --keygen ALG to make the key)")
	}
	_, o, err := d.open(ctx)
	if err != nil {
		return err
	}
	defer o.Close()
	var c *x509.Certificate
	switch *profile {
	case "citizen":
		if *mst != "" {
			return usagef("--mst is for --profile organisation")
		}
		c, err = o.CA.IssueCitizen(ctx, &ca.CitizenRequest{Name: *name, CCCD: *cccd, Province: *province, Locality: *locality, Email: *email, Validity: *validity, Key: src, Actor: actor()})
	case "organisation", "organization":
		if *cccd != "" {
			return usagef("--cccd is for --profile citizen")
		}
		c, err = o.CA.IssueOrganisation(ctx, &ca.OrganisationRequest{Name: *name, TaxCode: *mst, Province: *province, Locality: *locality, Email: *email, Validity: *validity, Key: src, Actor: actor()})
	default:
		return usagef("--profile is %q, want citizen or organisation", *profile)
	}
	if err != nil {
		return err
	}
	rec, _ := o.CA.Certificate(ctx, c.SerialNumber.Bytes())
	if *outFile != "" {
		if err := os.WriteFile(*outFile, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: c.Raw}), 0o644); err != nil {
			return err
		}
	}
	j := certToJSON(c, rec)
	if *out == "json" {
		return writeJSON(e.stdout, j)
	}
	fmt.Fprintf(e.stderr, "issued %s, serial %s, valid until %s\n", j.Subject, j.Serial, j.NotAfter.Format(time.DateOnly))
	if *outFile == "" {
		fmt.Fprint(e.stdout, j.PEM)
	}
	return nil
}

func certShow(ctx context.Context, e *env, args []string) error {
	fs := newFlags(e, "cert show", "cert show SERIAL [--data DIR] [--output json]")
	d := addDataFlags(fs)
	out := outputFlag(fs)
	pos, err := parseArgs(fs, args, 1, "SERIAL (hex)")
	if err != nil {
		return err
	}
	if err := checkOutput(*out); err != nil {
		return err
	}
	serial, err := ca.ParseSerial(pos[0])
	if err != nil {
		return usagef("%v", err)
	}
	_, o, err := d.open(ctx)
	if err != nil {
		return err
	}
	defer o.Close()
	rec, err := o.CA.Certificate(ctx, serial)
	if err != nil {
		return err
	}
	c, err := x509.ParseCertificate(rec.DER)
	if err != nil {
		return err
	}
	j := certToJSON(c, rec)
	if *out == "json" {
		return writeJSON(e.stdout, j)
	}
	fmt.Fprintf(e.stdout, "serial       %s\nsubject      %s\nnational ID  %s\nprofile      %s\nstatus       %s\nvalid        %s to %s\nSHA-256      %s\nkey          %s\n%s",
		j.Serial, j.Subject, j.NationalID, j.Profile, j.Status, j.NotBefore.Format(time.RFC3339), j.NotAfter.Format(time.RFC3339), j.SHA256, j.KeyURI, j.PEM)
	return nil
}

func certList(ctx context.Context, e *env, args []string) error {
	fs := newFlags(e, "cert list", "cert list [--cccd N | --mst N] [--profile P] [--status good|revoked|hold] [--data DIR] [--output json]")
	d := addDataFlags(fs)
	cccd := fs.String("cccd", "", "only this citizen's certificates")
	mst := fs.String("mst", "", "only this organisation's certificates")
	profile := fs.String("profile", "", "only this profile")
	status := fs.String("status", "", "only this status")
	limit := fs.Int("limit", 1000, "at most this many")
	out := outputFlag(fs)
	if err := parse(fs, args); err != nil {
		return err
	}
	if err := checkOutput(*out); err != nil {
		return err
	}
	f := &store.CertificateFilter{Profile: *profile, Status: *status, Limit: *limit}
	switch {
	case *cccd != "" && *mst != "":
		return usagef("give --cccd or --mst, not both")
	case *cccd != "":
		n, err := ca.ValidateCCCD(*cccd)
		if err != nil {
			return err
		}
		f.NationalID = "CCCD:" + n
	case *mst != "":
		n, err := ca.ValidateTaxCode(*mst)
		if err != nil {
			return err
		}
		f.NationalID = "MST:" + n
	}
	_, o, err := d.open(ctx)
	if err != nil {
		return err
	}
	defer o.Close()
	recs, err := o.CA.List(ctx, f)
	if err != nil {
		return err
	}
	list := make([]certJSON, 0, len(recs))
	for _, r := range recs {
		c, err := x509.ParseCertificate(r.DER)
		if err != nil {
			return fmt.Errorf("certificate %s in the database does not parse: %w", ca.FormatSerial(r.Serial), err)
		}
		list = append(list, certToJSON(c, r))
	}
	if *out == "json" {
		return writeJSON(e.stdout, list)
	}
	tw := tabwriter.NewWriter(e.stdout, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "SERIAL\tPROFILE\tSTATUS\tNOT AFTER\tSUBJECT")
	for _, j := range list {
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\n", j.Serial, j.Profile, j.Status, j.NotAfter.Format(time.DateOnly), j.Subject)
	}
	return tw.Flush()
}

func certRevoke(ctx context.Context, e *env, args []string) error {
	fs := newFlags(e, "cert revoke", "cert revoke SERIAL --reason keyCompromise|superseded|cessationOfOperation|affiliationChanged|privilegeWithdrawn|unspecified [--data DIR]")
	d := addDataFlags(fs)
	reasonName := fs.String("reason", "", "RFC 5280 revocation reason")
	pos, err := parseArgs(fs, args, 1, "SERIAL (hex)")
	if err != nil {
		return err
	}
	serial, err := ca.ParseSerial(pos[0])
	if err != nil {
		return usagef("%v", err)
	}
	reason, ok := ca.ReasonNames[*reasonName]
	if !ok {
		names := make([]string, 0, len(ca.ReasonNames))
		for n := range ca.ReasonNames {
			names = append(names, n)
		}
		return usagef("--reason %q is not one of %s", *reasonName, strings.Join(slices.Sorted(slices.Values(names)), ", "))
	}
	_, o, err := d.open(ctx)
	if err != nil {
		return err
	}
	defer o.Close()
	if err := o.CA.Revoke(ctx, serial, reason, time.Time{}); err != nil {
		return err
	}
	fmt.Fprintf(e.stderr, "revoked %s (%s); the CRL was regenerated\n", ca.FormatSerial(serial), *reasonName)
	return nil
}

// statusChange is what cert suspend and cert resume print with --output
// json: the certificate's serial and its status afterwards.
type statusChange struct {
	Serial string `json:"serial"`
	Status string `json:"status"`
}

func certSuspend(ctx context.Context, e *env, args []string) error {
	return certHold(ctx, e, args, true)
}

func certResume(ctx context.Context, e *env, args []string) error {
	return certHold(ctx, e, args, false)
}

// certHold suspends (Decree 23/2025: the certificate is not valid while
// suspended; RFC 5280 certificateHold) or resumes a certificate.
func certHold(ctx context.Context, e *env, args []string, suspend bool) error {
	verb := "resume"
	if suspend {
		verb = "suspend"
	}
	fs := newFlags(e, "cert "+verb, "cert "+verb+" SERIAL [--data DIR] [--output json]")
	d := addDataFlags(fs)
	out := outputFlag(fs)
	pos, err := parseArgs(fs, args, 1, "SERIAL (hex)")
	if err != nil {
		return err
	}
	if err := checkOutput(*out); err != nil {
		return err
	}
	serial, err := ca.ParseSerial(pos[0])
	if err != nil {
		return usagef("%v", err)
	}
	_, o, err := d.open(ctx)
	if err != nil {
		return err
	}
	defer o.Close()
	if suspend {
		err = o.CA.Suspend(ctx, serial, time.Time{})
	} else {
		err = o.CA.Resume(ctx, serial)
	}
	if err != nil {
		return err
	}
	rec, err := o.CA.Certificate(ctx, serial)
	if err != nil {
		return err
	}
	if *out == "json" {
		return writeJSON(e.stdout, statusChange{Serial: ca.FormatSerial(serial), Status: rec.Status})
	}
	if suspend {
		fmt.Fprintf(e.stdout, "suspended %s (certificateHold); the CRL was regenerated\n", ca.FormatSerial(serial))
	} else {
		fmt.Fprintf(e.stdout, "resumed %s: it is good again; the CRL was regenerated\n", ca.FormatSerial(serial))
	}
	return nil
}

func crlGenerate(ctx context.Context, e *env, args []string) error {
	fs := newFlags(e, "crl generate", "crl generate [--data DIR] [-o issuing.crl]")
	d := addDataFlags(fs)
	outFile := fs.String("o", "", "also write the issuing CA's CRL (DER) to this file")
	if err := parse(fs, args); err != nil {
		return err
	}
	_, o, err := d.open(ctx)
	if err != nil {
		return err
	}
	defer o.Close()
	crls, err := o.CA.GenerateCRL(ctx)
	if err != nil {
		return err
	}
	for _, c := range crls {
		name := c.Issuer // a shard by its URL's file name (ca.ShardURL)
		if c.Shard > 0 {
			name = fmt.Sprintf("%s-%d", c.Issuer, c.Shard)
		}
		fmt.Fprintf(e.stdout, "%s\tCRL number %d\tnext update %s\n", name, c.Number, c.NextUpdate.UTC().Format(time.RFC3339))
		if *outFile != "" && c.Issuer == ca.IssuingName && c.Shard == 0 {
			if err := os.WriteFile(*outFile, c.DER, 0o644); err != nil {
				return err
			}
		}
	}
	return nil
}
