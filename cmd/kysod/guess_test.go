package main

import (
	"bytes"
	"context"
	"crypto/sha256"
	"crypto/tls"
	"crypto/x509"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/kyso-pki/kyso/internal/testenv"
	"github.com/kyso-pki/kyso/pkg/signing"
	"github.com/kyso-pki/kyso/pkg/store"
	"github.com/kyso-pki/kyso/pkg/store/postgres"
	"github.com/kyso-pki/kyso/pkg/store/sqlite"
)

// TestConcurrentGuessing is issue 13's attack, as an attacker holding one
// portal's client credentials runs it: 150 CSC credentials/authorize
// requests fired at once over warm HTTPS connections against one owner,
// 149 with wrong PINs and one with the right PIN, each with the code
// "000000" (or another wrong one). At most pin_attempts (5) PINs are
// evaluated, counted in the audit log; the owner ends locked; and the
// right PIN's answer is byte for byte one that wrong PINs got too. On
// PostgreSQL with two kysod sharing the database (the requests split
// between them), and on SQLite with one kysod.
func TestConcurrentGuessing(t *testing.T) {
	t.Run("postgres-two-kysod", func(t *testing.T) {
		dsn := testenv.NewPostgres(t)
		guessAttack(t, dsn, 2, func(ctx context.Context, _ string) (store.Store, error) {
			return postgres.Open(ctx, dsn, nil)
		})
	})
	t.Run("sqlite", func(t *testing.T) {
		guessAttack(t, "", 1, func(ctx context.Context, data string) (store.Store, error) {
			return sqlite.Open(ctx, filepath.Join(data, "kyso.db"), nil)
		})
	})
}

// guessAttack runs the attack on replicas kysod sharing one data directory
// and the database db (empty: the directory's SQLite), then opens the
// database to read the audit log (after the daemons stopped, for SQLite's
// sake).
func guessAttack(t *testing.T, db string, replicas int, open func(ctx context.Context, data string) (store.Store, error)) {
	const n, limit, rightPIN = 150, 5, "246813"
	kysod, kyso := binaries(t)
	dir := t.TempDir()
	data := filepath.Join(dir, "data")
	// Rate limits off: they would answer some of the 150 with 429 and
	// hide whether the lock alone holds (and they are per replica); what
	// bounds the attempts is the reservation in the database.
	noLimits := filepath.Join(dir, "kysod.yaml")
	if err := os.WriteFile(noLimits, []byte("rate_limits: {per_source: {rate: -1}, per_client: {rate: -1}}\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	env, dbArgs := []string{"KYSO_CONFIG=" + noLimits}, []string(nil)
	if db != "" {
		env, dbArgs = append(env, "KYSO_DB="+db), []string{"--db", db}
	}
	ds := []*daemon{startKysod(t, kysod, data, env...)}
	for len(ds) < replicas {
		ds = append(ds, startKysod(t, kysod, data, env...))
	}
	run := func(args ...string) string {
		t.Helper()
		return runKyso(t, kyso, data, nil, append(args, dbArgs...)...)
	}
	var en struct {
		OwnerID      string `json:"owner_id"`
		CredentialID string `json:"credential_id"`
		OTPAuth      string `json:"otpauth_uri"`
	}
	if err := json.Unmarshal([]byte(run("enroll", "--cccd", "079203007777", "--name", "Đặng Thùy Trâm", "--province", "Hà Nội", "--pin", rightPIN, "--output", "json")), &en); err != nil {
		t.Fatal(err)
	}
	var cl struct {
		ID     string `json:"client_id"`
		Secret string `json:"client_secret"`
	}
	if err := json.Unmarshal([]byte(run("client", "create", "--name", "Cổng bị chiếm", "--output", "json")), &cl); err != nil {
		t.Fatal(err)
	}
	rootDER := fetch(t, "http://"+ds[0].pk+"/ca/root.crt", filepath.Join(dir, "root.der"))
	root, err := x509.ParseCertificate(rootDER)
	if err != nil {
		t.Fatal(err)
	}
	roots := x509.NewCertPool()
	roots.AddCert(root)
	hc := &http.Client{Timeout: 120 * time.Second, Transport: &http.Transport{TLSClientConfig: &tls.Config{RootCAs: roots},
		MaxIdleConns: 2 * n, MaxIdleConnsPerHost: n, MaxConnsPerHost: n}}
	defer hc.CloseIdleConnections()

	// The portal's token, from the first replica; the database makes it
	// good on every one.
	resp, err := hc.PostForm("https://"+ds[0].https+"/csc/v2/oauth2/token", url.Values{"grant_type": {"client_credentials"}, "client_id": {cl.ID}, "client_secret": {cl.Secret}})
	if err != nil {
		t.Fatal(err)
	}
	var tok struct {
		AccessToken string `json:"access_token"`
	}
	json.NewDecoder(resp.Body).Decode(&tok)
	resp.Body.Close()
	if tok.AccessToken == "" {
		t.Fatalf("oauth2/token: %d", resp.StatusCode)
	}

	otp := wrongTOTP(t, en.OTPAuth)
	h := sha256.Sum256([]byte("Hợp đồng chuyển nhượng"))
	body := func(pin string) []byte {
		b, _ := json.Marshal(map[string]any{"credentialID": en.CredentialID, "numSignatures": 1,
			"hashes": []string{base64.StdEncoding.EncodeToString(h[:])}, "hashAlgorithmOID": "2.16.840.1.101.3.4.2.1", // SHA-256
			"authData": []map[string]string{{"id": "PIN", "value": pin}, {"id": "OTP", "value": otp}}})
		return b
	}
	call := func(i int, b []byte) (string, error) {
		req, _ := http.NewRequest(http.MethodPost, "https://"+ds[i%len(ds)].https+"/csc/v2/credentials/authorize", bytes.NewReader(b))
		req.Header.Set("Content-Type", "application/json")
		req.Header.Set("Authorization", "Bearer "+tok.AccessToken)
		// One request ID for all, which every answer repeats: the rest
		// of each answer must then be the same byte for byte.
		req.Header.Set("X-Request-ID", "guess")
		resp, err := hc.Do(req)
		if err != nil {
			return "", err
		}
		defer resp.Body.Close()
		rb, err := io.ReadAll(resp.Body)
		return fmt.Sprintf("%d %s", resp.StatusCode, bytes.TrimSpace(rb)), err
	}
	// Warm the connections: n requests at once that cost no attempt.
	var warm sync.WaitGroup
	for i := range n {
		warm.Go(func() {
			req, _ := http.NewRequest(http.MethodPost, "https://"+ds[i%len(ds)].https+"/csc/v2/info", strings.NewReader("{}"))
			req.Header.Set("Content-Type", "application/json")
			if resp, err := hc.Do(req); err == nil {
				io.Copy(io.Discard, resp.Body)
				resp.Body.Close()
			}
		})
	}
	warm.Wait()

	right := n / 2
	answers, errs := make([]string, n), make([]error, n)
	var start, done sync.WaitGroup
	start.Add(1)
	for i := range n {
		b := body(fmt.Sprintf("%06d", 100000+i))
		if i == right {
			b = body(rightPIN)
		}
		done.Go(func() {
			start.Wait()
			answers[i], errs[i] = call(i, b)
		})
	}
	start.Done()
	done.Wait()
	for i, err := range errs {
		if err != nil {
			t.Fatalf("request %d: %v", i, err)
		}
	}
	for _, d := range ds {
		d.stop(t)
	}

	ctx := context.Background()
	st, err := open(ctx, data)
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	evaluated, refused := 0, 0
	rightEvaluated := false
	for after := int64(0); ; {
		evs, err := st.ListAudit(ctx, after, 1000)
		if err != nil {
			t.Fatal(err)
		}
		if len(evs) == 0 {
			break
		}
		for _, ev := range evs {
			after = ev.ID
			switch {
			case ev.Actor != "owner:"+en.OwnerID:
			case ev.Action == "owner.factors":
				evaluated++
				rightEvaluated = rightEvaluated || strings.Contains(string(ev.Details), `"pin":"right"`)
			case ev.Action == "owner.locked":
				refused++
			}
		}
	}
	o, err := st.GetOwner(ctx, en.OwnerID)
	if err != nil {
		t.Fatal(err)
	}
	distinct, served := map[string]int{}, make([]map[string]int, len(ds))
	for i, a := range answers {
		distinct[a]++
		if served[i%len(ds)] == nil {
			served[i%len(ds)] = map[string]int{}
		}
		served[i%len(ds)][a[:3]]++
	}
	t.Logf("%d simultaneous credentials/authorize over HTTPS to %d kysod (149 wrong PINs, the right one, code %s): %d PINs evaluated (audit owner.factors), %d refused by the lock (owner.locked), limit %d; the right PIN evaluated: %v; distinct answers: %d; the owner locked until %v",
		n, len(ds), otp, evaluated, refused, limit, rightEvaluated, len(distinct), o.LockedUntil.Format(time.RFC3339))
	for a, c := range distinct {
		t.Logf("  %3d × %s", c, a)
	}
	for i, m := range served {
		t.Logf("  kysod %d answered %v (by HTTP status)", i+1, m)
	}
	t.Logf("the right PIN's answer: %s (given %d times)", answers[right], distinct[answers[right]])
	if evaluated < 1 || evaluated > limit {
		t.Errorf("%d PINs evaluated, want 1 to %d", evaluated, limit)
	}
	if evaluated+refused != n {
		t.Errorf("%d evaluated + %d refused, want %d audited attempts", evaluated, refused, n)
	}
	if len(distinct) > 2 {
		t.Errorf("%d distinct answers, want at most 2 (the denial and the lock)", len(distinct))
	}
	for a := range distinct {
		if !strings.HasPrefix(a, "403 ") && !strings.HasPrefix(a, "429 ") {
			t.Errorf("answer %q is neither the denial nor the lock", a)
		}
	}
	if distinct[answers[right]] < 2 {
		t.Errorf("the right PIN's answer %q stands out", answers[right])
	}
	if !o.LockedUntil.After(time.Now()) {
		t.Errorf("the owner is not locked: %v", o.LockedUntil)
	}
}

// TestApproveCLIOneAnswer: `kyso approve` shows the owner the server's
// answer, and a wrong PIN with the right code reads exactly like the right
// PIN with a wrong code: same exit status, same words.
func TestApproveCLIOneAnswer(t *testing.T) {
	kysod, kyso := binaries(t)
	data := filepath.Join(t.TempDir(), "data")
	d := startKysod(t, kysod, data)
	var en struct {
		OTPAuth string `json:"otpauth_uri"`
	}
	if err := json.Unmarshal([]byte(runKyso(t, kyso, data, nil, "enroll", "--cccd", "079203008888", "--name", "Nguyễn Thị Định", "--province", "Vĩnh Long", "--pin", "369258", "--output", "json")), &en); err != nil {
		t.Fatal(err)
	}
	root := filepath.Join(filepath.Dir(data), "root.der")
	fetch(t, "http://"+d.pk+"/ca/root.crt", root)
	approve := func(pin, code string) (string, int) {
		t.Helper()
		cmd := exec.Command(kyso, "approve", "--url", "https://"+d.https, "--national-id", "CCCD:079203008888", "--pin-source", "env:OWNER_PIN", "--ca-file", root, "--list")
		cmd.Env = append(os.Environ(), "KYSO_DATA="+data, "OWNER_PIN="+pin)
		cmd.Stdin = strings.NewReader(code + "\n")
		var stderr bytes.Buffer
		cmd.Stderr = &stderr
		err := cmd.Run()
		var ee *exec.ExitError
		if !errors.As(err, &ee) {
			t.Fatalf("kyso approve with wrong factors: %v\n%s", err, stderr.String())
		}
		return stderr.String(), ee.ExitCode()
	}
	code, err := signing.TOTPCode(en.OTPAuth, time.Now())
	if err != nil {
		t.Fatal(err)
	}
	wrongPIN, st1 := approve("963852", code)
	wrongCode, st2 := approve("369258", wrongTOTP(t, en.OTPAuth))
	t.Logf("kyso approve, wrong PIN and right code: exit %d, %q", st1, wrongPIN)
	t.Logf("kyso approve, right PIN and wrong code: exit %d, %q", st2, wrongCode)
	if wrongPIN != wrongCode || st1 != st2 || !strings.Contains(wrongPIN, "wrong national ID, PIN or one-time code") {
		t.Errorf("the CLI tells the factors apart:\n wrong PIN: exit %d %s\n wrong code: exit %d %s", st1, wrongPIN, st2, wrongCode)
	}
}

// wrongTOTP is a six-digit code that is none of the owner's around now.
func wrongTOTP(t *testing.T, otpauth string) string {
	t.Helper()
	near := map[string]bool{}
	for _, d := range []time.Duration{-time.Minute, -30 * time.Second, 0, 30 * time.Second, time.Minute} {
		c, err := signing.TOTPCode(otpauth, time.Now().Add(d))
		if err != nil {
			t.Fatal(err)
		}
		near[c] = true
	}
	otp := "000000"
	for i := 1; near[otp]; i++ {
		otp = strings.Repeat(fmt.Sprint(i), 6)
	}
	return otp
}
