package signing_test

import (
	"context"
	"crypto"
	"encoding/base64"
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/kyso-pki/kyso/hsm"
	"github.com/kyso-pki/kyso/hsm/pkcs11"
	"github.com/kyso-pki/kyso/hsm/vault"
	"github.com/kyso-pki/kyso/internal/testenv"
	"github.com/kyso-pki/kyso/pkg/ca"
	"github.com/kyso-pki/kyso/pkg/signing"
	"github.com/kyso-pki/kyso/pkg/signing/signingtest"
	"github.com/kyso-pki/kyso/pkg/store"
	"github.com/kyso-pki/kyso/pkg/store/postgres"
	"github.com/kyso-pki/kyso/pkg/store/sqlite"
)

func TestMain(m *testing.M) {
	code := m.Run()
	testenv.StopPostgres()
	testenv.StopSoftHSM()
	os.Exit(code)
}

// productionEnv is the service on the production parts: keys on a PKCS#11
// token (SoftHSM) and the given database.
func productionEnv(t *testing.T, st store.Store) (*env, *testenv.SoftHSM) {
	t.Helper()
	ks, a, tok := productionParts(t, st)
	c := signingtest.NewClock(time.Now())
	svc, err := signing.New(st, ks, a, signingtest.Config(c))
	if err != nil {
		t.Fatal(err)
	}
	return &env{svc: svc, clock: c}, tok
}

// productionParts is a SoftHSM token's key store with a master key, and a
// CA initialised on it and st.
func productionParts(t *testing.T, st store.Store) (hsm.KeyStore, *ca.Authority, *testenv.SoftHSM) {
	t.Helper()
	ctx := context.Background()
	tok := testenv.NewSoftHSM(t)
	ks, err := pkcs11.Open(ctx, tok.URI(), nil)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { ks.Close() })
	if err := ks.CreateMasterKey(ctx, ""); err != nil {
		t.Fatal(err)
	}
	a, err := ca.New(st, ks, &ca.Options{BaseURL: "http://ca.kyso.test"})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := a.Init(ctx, &ca.InitRequest{Name: "Kyso PKCS11 Thử Nghiệm"}); err != nil {
		t.Fatal(err)
	}
	return ks, a, tok
}

// TestWrappedKeysOnSoftHSM: with a PKCS#11 key store, a citizen's key is
// made on the token and kept wrapped in the database (the token holds no
// object for it), and signs through the same checks.
func TestWrappedKeysOnSoftHSM(t *testing.T) {
	ctx := context.Background()
	st, err := sqlite.Open(ctx, filepath.Join(t.TempDir(), "kyso.db"), nil)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	e, tok := productionEnv(t, st)
	for _, alg := range []hsm.Algorithm{hsm.ECDSAP256, hsm.RSA2048} {
		en := e.enrol(t, alg)
		if en.KeyLabel != "" || en.KeyURI != "" {
			t.Errorf("a wrapped key reported as %q %q; it has no label on the token", en.KeyLabel, en.KeyURI)
		}
		cred, err := st.GetCredential(ctx, en.CredentialID)
		if err != nil {
			t.Fatal(err)
		}
		if len(cred.WrappedKey) == 0 || cred.KeyURI != "wrapped:"+en.CredentialID {
			t.Fatalf("%s: credential key %q, %d wrapped bytes; want a wrapped key only", alg, cred.KeyURI, len(cred.WrappedKey))
		}
		// Three hashes: signed under one unwrap (hsm.MultiSigner), each
		// verified and audited.
		h := [][]byte{digest("wrapped 1 " + string(alg)), digest("wrapped 2 " + string(alg)), digest("wrapped 3 " + string(alg))}
		sad, _, err := e.svc.Authorize(ctx, &signing.AuthorizeRequest{CredentialID: en.CredentialID, NumSignatures: 3, Hashes: h, HashAlgorithm: crypto.SHA256, PIN: "271828", OTP: e.next(t, en)})
		if err != nil {
			t.Fatal(err)
		}
		sigs, err := e.svc.SignHash(ctx, &signing.SignHashRequest{CredentialID: en.CredentialID, SAD: sad, Hashes: h, HashAlgorithm: crypto.SHA256})
		if err != nil {
			t.Fatal(err)
		}
		for i := range h {
			verifySig(t, en, crypto.SHA256, h[i], sigs[i])
		}
		events, err := st.ListAudit(ctx, 0, 1000)
		if err != nil {
			t.Fatal(err)
		}
		// One event per signature, written before it was made, naming
		// its digest, in order.
		var got []string
		for _, ev := range events {
			if ev.Action == "signature.create" && ev.Subject == en.CredentialID {
				var d struct{ Digest string }
				if err := json.Unmarshal(ev.Details, &d); err != nil {
					t.Fatal(err)
				}
				got = append(got, ev.Outcome+" "+d.Digest)
			}
		}
		var want []string
		for i := range h {
			want = append(want, "intent "+base64.StdEncoding.EncodeToString(h[i]))
		}
		if strings.Join(got, ",") != strings.Join(want, ",") {
			t.Errorf("signature.create events %q, want %q", got, want)
		}
	}
	// The token holds the master key and the CA's keys, no citizen key.
	tool := testenv.LookPath(t, "pkcs11-tool", "apt-get install opensc")
	cmd := exec.Command(tool, "--module", tok.Module, "--token-label", tok.TokenLabel, "--login", "--pin", tok.PIN, "-O")
	cmd.Env = tok.Env()
	out, errOut, err := testenv.Run(cmd)
	if err != nil || !strings.Contains(out, "Private Key Object") {
		t.Fatalf("pkcs11-tool -O lists no private key (the CA's): %v\n%s\nstderr: %s", err, out, errOut)
	}
	if strings.Contains(out, "cred-") {
		t.Errorf("a citizen key is stored on the token:\n%s", out)
	}
}

// TestOnPostgres runs the implicit flow and a SAD race on PostgreSQL with
// keys on SoftHSM: what several kysod replicas share.
func TestOnPostgres(t *testing.T) {
	ctx := context.Background()
	st, err := postgres.Open(ctx, testenv.NewPostgres(t), nil)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	e, _ := productionEnv(t, st)
	en := e.enrol(t, hsm.ECDSAP256)
	cl, err := e.svc.CreateClient(ctx, "Portal", "", "test")
	if err != nil {
		t.Fatal(err)
	}
	docs := []signing.Document{{DocID: "a.pdf", Hash: digest("a")}}
	tx, _, err := e.svc.Submit(ctx, &signing.SubmitRequest{ClientID: cl.ID, ClientRef: "pg-1", NationalID: en.NationalID, Documents: docs})
	if err != nil {
		t.Fatal(err)
	}
	done, err := e.svc.Approve(ctx, en.OwnerID, tx.ID, "271828", e.next(t, en))
	if err != nil || done.Status != store.TxSigned {
		t.Fatalf("approve on PostgreSQL: %v", err)
	}
	verifySig(t, en, crypto.SHA256, docs[0].Hash, done.Signatures[0].Signature)
	got, err := e.svc.ClientTransaction(ctx, cl.ID, "pg-1")
	if err != nil || got.ID != tx.ID {
		t.Fatalf("poll by reference: %v", err)
	}
	h := [][]byte{digest("race")}
	sad, _, err := e.svc.Authorize(ctx, &signing.AuthorizeRequest{CredentialID: en.CredentialID, NumSignatures: 1, Hashes: h, HashAlgorithm: crypto.SHA256, PIN: "271828", OTP: e.next(t, en)})
	if err != nil {
		t.Fatal(err)
	}
	errs := make(chan error, 10)
	for i := 0; i < 10; i++ {
		go func() {
			_, err := e.svc.SignHash(ctx, &signing.SignHashRequest{CredentialID: en.CredentialID, SAD: sad, Hashes: h, HashAlgorithm: crypto.SHA256})
			errs <- err
		}()
	}
	ok := 0
	for i := 0; i < 10; i++ {
		if <-errs == nil {
			ok++
		}
	}
	if ok != 1 {
		t.Errorf("%d of 10 racing requests signed with one SAD on PostgreSQL", ok)
	}
}

// TestBadIDsOnPostgres: identifiers PostgreSQL cannot store (invalid
// UTF-8, NUL) are misses, not server errors.
func TestBadIDsOnPostgres(t *testing.T) {
	ctx := context.Background()
	st, err := postgres.Open(ctx, testenv.NewPostgres(t), nil)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	e, _ := productionEnv(t, st)
	for _, id := range []string{"\xff\xfe", "a\x00b", strings.Repeat("x", 200)} {
		if _, err := e.svc.ClientTransaction(ctx, "client", id); !isCode(err, signing.KindNotFound) {
			t.Errorf("ClientTransaction(%q): %v", id, err)
		}
		if _, err := e.svc.Credential(ctx, id); !isCode(err, signing.KindInvalid) {
			t.Errorf("Credential(%q): %v", id, err)
		}
		if _, err := e.svc.Credentials(ctx, id); !isCode(err, signing.KindNotFound) {
			t.Errorf("Credentials(%q): %v", id, err)
		}
		if _, _, err := e.svc.OwnerLogin(ctx, id, "271828", "271828"); !isCode(err, signing.KindDenied) {
			t.Errorf("OwnerLogin(%q): %v", id, err)
		}
		if _, err := e.svc.CheckClient(ctx, id, "secret"); !isCode(err, signing.KindClientInvalid) {
			t.Errorf("CheckClient(%q): %v", id, err)
		}
		if err := e.svc.Reject(ctx, "owner", id); !isCode(err, signing.KindNotFound) {
			t.Errorf("Reject(%q): %v", id, err)
		}
	}
}

// TestOnVault: with Vault Transit (OpenBao) as the key store, a citizen's
// key is a non-exportable Transit key under the credential's label, and
// signs through the same checks.
func TestOnVault(t *testing.T) {
	ctx := context.Background()
	v := testenv.NewVault(t)
	ks, err := vault.Open(ctx, v.URI(), nil)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { ks.Close() })
	st, err := sqlite.Open(ctx, filepath.Join(t.TempDir(), "kyso.db"), nil)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	a, err := ca.New(st, ks, &ca.Options{BaseURL: "http://ca.kyso.test"})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := a.Init(ctx, &ca.InitRequest{Name: "Kyso Vault Thử Nghiệm"}); err != nil {
		t.Fatal(err)
	}
	c := signingtest.NewClock(time.Now())
	svc, err := signing.New(st, ks, a, signingtest.Config(c))
	if err != nil {
		t.Fatal(err)
	}
	e := &env{svc: svc, clock: c}
	en := e.enrol(t, hsm.ECDSAP256)
	cred, err := st.GetCredential(ctx, en.CredentialID)
	if err != nil || cred.KeyURI != "cred-"+en.CredentialID || len(cred.WrappedKey) != 0 {
		t.Fatalf("credential on Vault: %v %+v", err, cred)
	}
	if en.KeyLabel != cred.KeyURI || !signing.IsCredentialKey(en.KeyLabel) || !strings.HasPrefix(en.KeyURI, "vault:") || !strings.Contains(en.KeyURI, en.KeyLabel) {
		t.Errorf("enrolment on Vault reports key %q %q", en.KeyLabel, en.KeyURI)
	}
	keys, err := ks.ListKeys(ctx, &hsm.ListKeysRequest{})
	if err != nil {
		t.Fatal(err)
	}
	found := false
	for _, k := range keys {
		found = found || k.Label == cred.KeyURI
	}
	if !found {
		t.Fatalf("no Transit key %s", cred.KeyURI)
	}
	h := [][]byte{digest("vault")}
	sad, _, err := e.svc.Authorize(ctx, &signing.AuthorizeRequest{CredentialID: en.CredentialID, NumSignatures: 1, Hashes: h, HashAlgorithm: crypto.SHA256, PIN: "271828", OTP: e.next(t, en)})
	if err != nil {
		t.Fatal(err)
	}
	sigs, err := e.svc.SignHash(ctx, &signing.SignHashRequest{CredentialID: en.CredentialID, SAD: sad, Hashes: h, HashAlgorithm: crypto.SHA256})
	if err != nil {
		t.Fatal(err)
	}
	verifySig(t, en, crypto.SHA256, h[0], sigs[0])
}
