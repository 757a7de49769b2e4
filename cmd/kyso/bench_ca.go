package main

import (
	"context"
	"encoding/hex"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"time"

	"github.com/kyso-pki/kyso/cmd/internal/bench/cabench"
	"github.com/kyso-pki/kyso/hsm"
	"github.com/kyso-pki/kyso/hsm/pkcs11"
	"github.com/kyso-pki/kyso/hsm/softkey"
	"github.com/kyso-pki/kyso/pkg/ca"
	"github.com/kyso-pki/kyso/pkg/store"
	"github.com/kyso-pki/kyso/pkg/store/storeopen"
)

// dsnList is a repeatable --db flag.
type dsnList []string

func (d *dsnList) String() string     { return strings.Join(*d, ",") }
func (d *dsnList) Set(s string) error { *d = append(*d, s); return nil }

// benchCA measures the CA (issue 3): citizen certificates per second, P-256,
// from a CSR and with the key made on SoftHSM, on SQLite in a temporary
// directory and on each --db; then OCSP responses per second from kyso's
// responder and from `openssl ocsp` over the same certificates, with the
// ratios.
//
// Each database gets its own hierarchy (ca.Authority.Init) whose root and
// issuing keys are on a throwaway SoftHSM token of its own, so the two
// issuance rows differ only in where the subscriber key comes from. Without
// SoftHSM (or PKCS#11, in a binary built without cgo) the CA keys go to a
// softkey store and the SoftHSM rows report why they could not run.
func benchCA(ctx context.Context, e *env, args []string) error {
	fs := newFlags(e, "bench ca", "bench ca [--duration 3s] [--goroutines N] [--db DSN ...] [--module PATH] [--output json]")
	dur := fs.Duration("duration", 3*time.Second, "how long to measure each row")
	n := fs.Int("goroutines", runtime.NumCPU(), "goroutines issuing certificates, and OCSP clients sending requests")
	var dsns dsnList
	fs.Var(&dsns, "db", "also measure issuance on this database (postgres://…; repeatable). WARNING: give an empty, throwaway database: the bench creates kyso's tables in it and leaves thousands of certificates behind; one already holding a CA is refused")
	module := fs.String("module", "/usr/lib/softhsm/libsofthsm2.so", "SoftHSM PKCS#11 module; throwaway tokens are made in a temporary directory")
	out := outputFlag(fs)
	if err := parse(fs, args); err != nil {
		return err
	}
	if err := checkOutput(*out); err != nil {
		return err
	}
	if *n < 1 || *dur <= 0 {
		return usagef("--goroutines must be ≥ 1 and --duration > 0")
	}

	tmp, err := os.MkdirTemp("", "kyso-bench-ca-")
	if err != nil {
		return fmt.Errorf("bench ca: %w", err)
	}
	defer os.RemoveAll(tmp)
	dbs := []benchDB{{name: "sqlite", dsn: "sqlite:" + filepath.Join(tmp, "kyso.db"), cccds: &cabench.CCCDs{}}}
	for i, d := range dsns {
		name, _, _ := strings.Cut(d, ":")
		if name == "postgresql" {
			name = "postgres"
		}
		for _, prev := range dbs {
			if prev.name == name {
				name = fmt.Sprintf("%s-%d", name, i+2)
			}
		}
		dbs = append(dbs, benchDB{name: name, dsn: d, cccds: &cabench.CCCDs{}})
	}

	// The tokens are all made before the module is first loaded.
	toks, tokErr := benchTokens(*module, len(dbs))
	if tokErr == nil {
		defer os.RemoveAll(toks.dir)
	}
	fmt.Fprintf(e.stderr, "kyso bench ca: %v per row, %d goroutines, %d CPU; temporary files in %s\n", *dur, *n, runtime.NumCPU(), tmp)

	var rows []cabench.Result
	var ocspDB *benchDB
	for i := range dbs {
		db := &dbs[i]
		note := ""
		var ksErr error
		if tokErr == nil {
			var p11 *pkcs11.Store
			if p11, ksErr = pkcs11.Open(ctx, toks.uri(i), nil); ksErr == nil {
				db.ks = p11
				note = "CA keys (root and issuing, ecdsa-p384) on a throwaway SoftHSM token, one token per database; subscriber keys ecdsa-p256"
			}
		} else {
			ksErr = tokErr
		}
		if ksErr != nil {
			note = "CA keys (root and issuing, ecdsa-p384) in a softkey store: SoftHSM is unavailable; subscriber keys ecdsa-p256"
			var err error
			if db.ks, err = benchSoftkey(ctx, filepath.Join(tmp, fmt.Sprintf("keys-%d", i))); err != nil {
				ksErr = errors.Join(ksErr, err)
			}
		}
		if db.ks != nil {
			defer db.ks.Close()
		}
		err := db.open(ctx)
		if db.st != nil {
			defer db.st.Close()
		}
		if err != nil || db.ks == nil {
			err = errors.Join(err, ksErr)
			for _, name := range []string{cabench.IssueCSR, cabench.IssueKeyMade} {
				r := cabench.Result{Kind: cabench.KindIssue, Name: name, Database: db.name, Goroutines: *n, Err: err.Error()}
				progress(e, r)
				rows = append(rows, r)
			}
			continue
		}
		opts := cabench.IssueOptions{Authority: db.a, Database: db.name, Goroutines: *n, Duration: *dur, CCCDs: db.cccds, Note: note}
		r := cabench.IssueFromCSR(ctx, opts)
		progress(e, r)
		rows = append(rows, r)
		if ksErr == nil {
			r = cabench.IssueWithKeyMade(ctx, opts, "bench-citizen-")
		} else {
			r = cabench.Result{Kind: cabench.KindIssue, Name: cabench.IssueKeyMade, Database: db.name, Goroutines: *n, Err: ksErr.Error()}
		}
		progress(e, r)
		rows = append(rows, r)
		if i == 0 {
			ocspDB = db
		}
	}

	ocspOpts := cabench.OCSPOptions{Goroutines: *n, Duration: *dur, Dir: tmp, OpenSSLWorkers: runtime.NumCPU()}
	if ocspDB != nil {
		ocspOpts.Authority, ocspOpts.KeyStore, ocspOpts.Database, ocspOpts.CCCDs = ocspDB.a, ocspDB.ks, ocspDB.name, ocspDB.cccds
		for _, r := range cabench.CompareOCSP(ctx, ocspOpts) {
			progress(e, r)
			rows = append(rows, r)
		}
	} else {
		names := []string{cabench.OCSPKyso, cabench.OCSPKysoNonce, cabench.OCSPOpenSSL}
		if ocspOpts.OpenSSLWorkers > 1 {
			names = append(names, cabench.OCSPOpenSSLMulti)
		}
		for _, name := range names {
			rows = append(rows, cabench.Result{Kind: cabench.KindOCSP, Name: name, Database: "sqlite", Goroutines: *n, Err: "bench ca: the SQLite hierarchy could not be set up"})
		}
	}
	cabench.Ratios(rows)
	if *out == "json" {
		return writeJSON(e.stdout, rows)
	}
	return cabench.Print(e.stdout, rows)
}

// progress prints one row to stderr as it is measured.
func progress(e *env, r cabench.Result) {
	if r.Err != "" {
		fmt.Fprintf(e.stderr, "  %-5s %-13s %-9s failed: %s\n", r.Kind, r.Name, r.Database, r.Err)
		return
	}
	fmt.Fprintf(e.stderr, "  %-5s %-13s %-9s %8.0f %s\n", r.Kind, r.Name, r.Database, r.PerSecond, r.Unit())
}

// benchDB is one database under test and the hierarchy made in it.
type benchDB struct {
	name, dsn string
	st        store.Store
	ks        hsm.KeyStore
	a         *ca.Authority
	cccds     *cabench.CCCDs
}

// open opens the store, refuses one that already holds a CA, and creates
// the hierarchy in it.
func (db *benchDB) open(ctx context.Context) error {
	if db.ks == nil {
		return nil
	}
	var err error
	if db.st, err = storeopen.Open(ctx, db.dsn); err != nil {
		return fmt.Errorf("bench ca: opening the %s database: %w", db.name, err)
	}
	cas, err := db.st.ListCAs(ctx)
	if err != nil {
		return fmt.Errorf("bench ca: reading the %s database: %w", db.name, err)
	}
	if len(cas) > 0 {
		return fmt.Errorf("bench ca: the %s database already holds a CA hierarchy; give an empty, throwaway database", db.name)
	}
	if db.a, err = ca.New(db.st, db.ks, &ca.Options{Actor: "kyso-bench"}); err != nil {
		return fmt.Errorf("bench ca: %w", err)
	}
	if _, err := db.a.Init(ctx, &ca.InitRequest{Name: "Kyso Bench"}); err != nil {
		return fmt.Errorf("bench ca: creating the hierarchy on %s: %w", db.name, err)
	}
	return nil
}

// benchTokenSet is n throwaway SoftHSM tokens in one directory.
type benchTokenSet struct {
	*benchToken
	module string
}

// uri names the i-th token.
func (t *benchTokenSet) uri(i int) *hsm.URI {
	return &hsm.URI{Scheme: "pkcs11", Path: map[string]string{"token": t.tokenLabel(i)}, Query: map[string]string{"module-path": t.module, "pin-value": t.pin}}
}

func (t *benchTokenSet) tokenLabel(i int) string {
	if i == 0 {
		return t.label
	}
	return fmt.Sprintf("%s-%d", t.label, i+1)
}

// benchTokens makes n SoftHSM tokens with newBenchToken (as `kyso bench
// keys` does) and softhsm2-util, before the module is loaded.
func benchTokens(module string, n int) (*benchTokenSet, error) {
	tok, err := newBenchToken(module)
	if err != nil {
		return nil, err
	}
	t := &benchTokenSet{benchToken: tok, module: module}
	util, err := exec.LookPath("softhsm2-util")
	if err != nil {
		os.RemoveAll(tok.dir)
		return nil, fmt.Errorf("softhsm2-util not found (install softhsm2): %w", err)
	}
	for i := 1; i < n; i++ {
		cmd := exec.Command(util, "--init-token", "--free", "--label", t.tokenLabel(i), "--pin", tok.pin, "--so-pin", tok.soPIN)
		if out, err := cmd.CombinedOutput(); err != nil {
			os.RemoveAll(tok.dir)
			return nil, fmt.Errorf("softhsm2-util --init-token: %v: %s", err, out)
		}
	}
	return t, nil
}

// benchSoftkey opens a softkey store in dir with a cheap KDF: its keys live
// for one run.
func benchSoftkey(ctx context.Context, dir string) (hsm.KeyStore, error) {
	return softkey.Open(ctx, &hsm.URI{Scheme: "softkey", Path: map[string]string{}, Query: map[string]string{
		"dir": dir, "passphrase": hex.EncodeToString(randBytes(16))}},
		&softkey.Options{KDF: softkey.KDFParams{Time: 1, MemoryKiB: 8 << 10, Threads: 1}})
}
