package main

import (
	"context"
	"crypto"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"database/sql"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"encoding/pem"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/kyso-pki/kyso/hsm/hsmtest"
	"github.com/kyso-pki/kyso/hsm/pkcs11"
	"github.com/kyso-pki/kyso/internal/testenv"
	"github.com/kyso-pki/kyso/pkg/algid"
	"github.com/kyso-pki/kyso/pkg/csc"
	"github.com/kyso-pki/kyso/pkg/signing"
)

// Faults of the HSM (issue 16), tried on a running kysod whose keys are on
// a SoftHSM token: its sessions closed under load (an HSM or module
// restart), and the token re-initialised under load by another process,
// then a key made in it under the labels and ID kysod's keys had, then the
// token restored from a copy. The faults come from the crash-test build
// (-tags kysocrash, fault_on.go): SIGUSR1 closes every PKCS#11 session of
// kysod's slot; SIGUSR2 quiets its key store until the next SIGUSR2.
//
// The load: per owner but the last, a worker that authorises hsmHashes
// hashes (CSC credentials/authorize) and signs them
// (signatures/signHash), again and again; for the last owner, a worker
// that submits SmartCA transactions of hsmTxHashes hashes and approves
// them as the owner (/owner/v1). An owner passes its factors once per
// 30-second step, so each worker resets its owner's last TOTP step in the
// database before each authorisation or login, as the crash harness does
// between runs: a test device on the test's own database, not something
// kysod offers. /readyz and /livez are asked every 100 ms meanwhile.

// hsmHashes is how many hashes each SAD signs.
const hsmHashes = 8

// hsmRecoveryBound is issue 16's bound: kysod signs again within 10
// seconds of the fault's end.
const hsmRecoveryBound = 10 * time.Second

// hsmEnv is a data directory whose key store is a SoftHSM token, with
// enrolled owners and a relying party.
type hsmEnv struct {
	sh               *testenv.SoftHSM
	data, config     string
	kyso, crash      string
	owners           []crashOwner
	clientID, secret string
	sql              *sql.DB
	// tokenDir is the token's own directory in the SoftHSM token store;
	// snapshot, a copy of it taken with kysod stopped.
	tokenDir, snapshot string
	root               string
}

func newHSMEnv(t *testing.T) *hsmEnv {
	t.Helper()
	_, kyso := binaries(t)
	e := &hsmEnv{kyso: kyso, crash: crashBinary(t), sh: testenv.NewSoftHSM(t)}
	dir := t.TempDir()
	e.data, e.config = filepath.Join(dir, "data"), filepath.Join(dir, "kysod.yaml")
	if err := os.WriteFile(e.config, []byte("rate_limits: {per_source: {rate: -1}, per_client: {rate: -1}}\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	pin := filepath.Join(dir, "pin")
	if err := os.WriteFile(pin, []byte(e.sh.PIN), 0o600); err != nil {
		t.Fatal(err)
	}
	uri := "pkcs11:token=" + e.sh.TokenLabel + "?module-path=" + e.sh.Module + "&pin-source=file:" + pin
	runKyso(t, kyso, e.data, nil, "ca", "init", "--name", "Nhà cung cấp thử HSM", "--keystore", uri)
	runKyso(t, kyso, e.data, nil, "key", "create-master")
	// The first start makes kysod's TLS, audit and badge keys.
	d := startKysod(t, e.crash, e.data, "KYSO_CONFIG="+e.config)
	// The last owner approves SmartCA transactions; the others sign
	// through CSC.
	for i, alg := range []string{"ecdsa-p256", "rsa-2048", "ecdsa-p256", "ecdsa-p256"} {
		o := crashOwner{nationalID: fmt.Sprintf("07920300%04d", 7000+i), pin: "135792"}
		var en struct {
			OTPAuth      string `json:"otpauth_uri"`
			CredentialID string `json:"credential_id"`
		}
		out := runKyso(t, kyso, e.data, nil, "enroll", "--cccd", o.nationalID, "--name", "Người Ký Thử", "--province", "Huế", "--pin", o.pin, "--alg", alg, "--output", "json")
		if err := json.Unmarshal([]byte(out), &en); err != nil || en.OTPAuth == "" {
			t.Fatalf("kyso enroll: %v: %s", err, out)
		}
		o.otpauth, o.credentialID = en.OTPAuth, en.CredentialID
		e.owners = append(e.owners, o)
	}
	var cl struct {
		ID     string `json:"client_id"`
		Secret string `json:"client_secret"`
	}
	out := runKyso(t, kyso, e.data, nil, "client", "create", "--name", "Cổng thử HSM", "--output", "json")
	if err := json.Unmarshal([]byte(out), &cl); err != nil || cl.ID == "" {
		t.Fatalf("kyso client create: %v: %s", err, out)
	}
	e.clientID, e.secret = cl.ID, cl.Secret
	e.root = fetchPEM(t, "http://"+d.pk+"/ca/root.crt", filepath.Join(dir, "root.pem"))
	d.stop(t)

	var err error
	if e.sql, err = sql.Open("sqlite", "file:"+filepath.Join(e.data, "kyso.db")+"?_pragma=busy_timeout(10000)"); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { e.sql.Close() })
	e.tokenDir = softHSMTokenDir(t, e.sh)
	e.snapshot = filepath.Join(dir, "token-copy")
	copyDir(t, e.tokenDir, e.snapshot)
	return e
}

// softHSMTokenDir finds the directory of sh's token: the one whose
// token.object holds its label.
func softHSMTokenDir(t *testing.T, sh *testenv.SoftHSM) string {
	t.Helper()
	dirs, err := os.ReadDir(sh.Dir)
	if err != nil {
		t.Fatal(err)
	}
	for _, d := range dirs {
		b, err := os.ReadFile(filepath.Join(sh.Dir, d.Name(), "token.object"))
		if err == nil && strings.Contains(string(b), sh.TokenLabel) {
			return filepath.Join(sh.Dir, d.Name())
		}
	}
	t.Fatalf("no directory of token %s in %s", sh.TokenLabel, sh.Dir)
	return ""
}

// copyDir copies the files of the directory from into the directory to,
// made if needed, replacing what to held.
func copyDir(t *testing.T, from, to string) {
	t.Helper()
	if err := os.RemoveAll(to); err != nil {
		t.Fatal(err)
	}
	if err := os.MkdirAll(to, 0o700); err != nil {
		t.Fatal(err)
	}
	files, err := os.ReadDir(from)
	if err != nil {
		t.Fatal(err)
	}
	for _, f := range files {
		b, err := os.ReadFile(filepath.Join(from, f.Name()))
		if err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(to, f.Name()), b, 0o600); err != nil {
			t.Fatal(err)
		}
	}
}

// hsmAnswer is one signHash request and its answer.
type hsmAnswer struct {
	cred          string
	start, end    time.Time
	status        int // 200, the error's HTTP status, or -1: no answer
	code, desc    string
	digests, sigs [][]byte
}

// hsmTx is one SmartCA transaction: submitted, approved by its owner,
// and its final state read back.
type hsmTx struct {
	code          string
	start, end    time.Time
	approve       int // the approval's HTTP status, -1: no answer
	desc          string
	status        string // the final state
	digests, sigs [][]byte
}

// hsmLoad is the load on a running kysod and what it saw.
type hsmLoad struct {
	e      *hsmEnv
	d      *daemon
	client *csc.Client
	// hc keeps its connections and TLS sessions: once the token has lost
	// kysod's TLS key, a full handshake fails, but a resumed one and a
	// connection kept open do not need the key.
	hc   *http.Client
	pubs map[string]crypto.PublicKey
	cert map[string]string // credential → its certificate file (PEM)
	algo map[string]string
	stop atomic.Bool
	wg   sync.WaitGroup

	mu       sync.Mutex
	answers  []hsmAnswer
	txs      []hsmTx
	authErrs map[string]int
	readyz   []probe
	livez    []probe
	wrongKey int
}

// probe is one answer of a health route.
type probe struct {
	at, end time.Time
	status  int
}

func (e *hsmEnv) startLoad(t *testing.T, d *daemon) *hsmLoad {
	t.Helper()
	pool := x509.NewCertPool()
	b, _ := os.ReadFile(e.root)
	pool.AppendCertsFromPEM(b)
	l := &hsmLoad{e: e, d: d, pubs: map[string]crypto.PublicKey{}, cert: map[string]string{}, algo: map[string]string{}, authErrs: map[string]int{}}
	l.hc = &http.Client{Timeout: 30 * time.Second, Transport: &http.Transport{MaxIdleConnsPerHost: 64,
		TLSClientConfig: &tls.Config{RootCAs: pool, ClientSessionCache: tls.NewLRUClientSessionCache(64)}}}
	l.client = &csc.Client{BaseURL: "https://" + d.https + "/csc/v2", ClientID: e.clientID, ClientSecret: e.secret, HTTPClient: l.hc}
	ctx := context.Background()
	dir := t.TempDir()
	for _, o := range e.owners {
		info, err := l.client.CredentialInfo(ctx, o.credentialID)
		if err != nil {
			t.Fatalf("credentials/info: %v", err)
		}
		der, err := base64.StdEncoding.DecodeString(info.Cert.Certificates[0])
		if err != nil {
			t.Fatal(err)
		}
		cert, err := x509.ParseCertificate(der)
		if err != nil {
			t.Fatal(err)
		}
		l.pubs[o.credentialID] = cert.PublicKey
		l.cert[o.credentialID] = filepath.Join(dir, o.credentialID+".pem")
		if err := os.WriteFile(l.cert[o.credentialID], pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}), 0o600); err != nil {
			t.Fatal(err)
		}
		l.algo[o.credentialID] = algid.SHA256WithRSA.String()
		if info.Key.Curve != "" {
			l.algo[o.credentialID] = algid.ECDSAWithSHA256.String()
		}
	}
	for _, o := range e.owners[:len(e.owners)-1] {
		l.wg.Go(func() { l.work(t, o) })
	}
	l.wg.Go(func() { l.transactions(t, e.owners[len(e.owners)-1]) })
	l.wg.Go(func() { l.poll("/readyz", &l.readyz) })
	l.wg.Go(func() { l.poll("/livez", &l.livez) })
	return l
}

// work authorises and signs for o until the load stops.
func (l *hsmLoad) work(t *testing.T, o crashOwner) {
	ctx := context.Background()
	for !l.stop.Load() {
		if _, err := l.e.sql.Exec(`UPDATE owners SET totp_last_step = 0 WHERE id = (SELECT owner_id FROM credentials WHERE id = ?)`, o.credentialID); err != nil {
			t.Errorf("resetting the TOTP step: %v", err)
			return
		}
		digests := make([][]byte, hsmHashes)
		for i := range digests {
			digests[i] = make([]byte, 32)
			rand.Read(digests[i])
		}
		otp, err := signing.TOTPCode(o.otpauth, time.Now())
		if err != nil {
			t.Error(err)
			return
		}
		sad, err := l.client.Authorize(ctx, o.credentialID, digests, crypto.SHA256, o.pin, otp)
		if err != nil {
			l.note(err.Error())
			time.Sleep(50 * time.Millisecond)
			continue
		}
		a := hsmAnswer{cred: o.credentialID, start: time.Now(), digests: digests, status: http.StatusOK}
		sigs, err := l.client.SignHash(ctx, o.credentialID, sad, digests, crypto.SHA256, l.algo[o.credentialID])
		a.end = time.Now()
		var apiErr *csc.APIError
		switch {
		case errors.As(err, &apiErr):
			a.status, a.code, a.desc = apiErr.Status, apiErr.Body.Error, apiErr.Body.Description
		case err != nil:
			a.status, a.desc = -1, err.Error()
		}
		wrong := 0
		for i, sig := range sigs {
			opts := crypto.SignerOpts(crypto.SHA256)
			if err := hsmtest.Verify(l.pubs[o.credentialID], digests[i], sig, opts); err != nil {
				wrong++
			}
		}
		a.sigs = sigs
		l.mu.Lock()
		l.answers = append(l.answers, a)
		l.wrongKey += wrong
		l.mu.Unlock()
		if err != nil {
			time.Sleep(50 * time.Millisecond)
		}
	}
}

// hsmTxHashes is how many hashes each SmartCA transaction signs.
const hsmTxHashes = 50

// post sends body as JSON to kysod's path and decodes the answer into
// out; it returns the HTTP status, -1 when there was no answer.
func (l *hsmLoad) post(path, token string, body, out any) int {
	b, _ := json.Marshal(body)
	req, _ := http.NewRequest(http.MethodPost, "https://"+l.d.https+path, strings.NewReader(string(b)))
	req.Header.Set("Content-Type", "application/json")
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	resp, err := l.hc.Do(req)
	if err != nil {
		return -1
	}
	defer resp.Body.Close()
	json.NewDecoder(resp.Body).Decode(out)
	return resp.StatusCode
}

// transactions submits SmartCA transactions of hsmTxHashes hashes for
// o and has o approve each (approve), until the load stops.
func (l *hsmLoad) transactions(t *testing.T, o crashOwner) {
	for i := 0; !l.stop.Load(); i++ {
		tx := hsmTx{digests: make([][]byte, hsmTxHashes), approve: -1}
		files := make([]map[string]string, hsmTxHashes)
		for j := range files {
			tx.digests[j] = make([]byte, 32)
			rand.Read(tx.digests[j])
			files[j] = map[string]string{"doc_id": fmt.Sprintf("doc-%d", j), "file_type": "pdf", "sign_type": "hash", "data_to_be_signed": hex.EncodeToString(tx.digests[j])}
		}
		var submitted struct {
			Data struct {
				TranCode string `json:"tran_code"`
			} `json:"data"`
		}
		if st := l.post("/smartca/v1/signatures/sign", "", map[string]any{"sp_id": l.e.clientID, "sp_password": l.e.secret,
			"user_id": o.nationalID, "transaction_id": fmt.Sprintf("hsm-%d-%d", time.Now().UnixNano(), i), "sign_files": files}, &submitted); st != 200 {
			l.note(fmt.Sprintf("SmartCA submission: HTTP %d", st))
			time.Sleep(100 * time.Millisecond)
			continue
		}
		tx.code = submitted.Data.TranCode
		l.approve(t, o, tx)
	}
}

// approve has o log in and approve tx, reads its state back, checks its
// signatures under o's certificate and records it.
func (l *hsmLoad) approve(t *testing.T, o crashOwner, tx hsmTx) hsmTx {
	if _, err := l.e.sql.Exec(`UPDATE owners SET totp_last_step = 0 WHERE id = (SELECT owner_id FROM credentials WHERE id = ?)`, o.credentialID); err != nil {
		t.Errorf("resetting the TOTP step: %v", err)
		return tx
	}
	otp, _ := signing.TOTPCode(o.otpauth, time.Now())
	var login struct {
		AccessToken string `json:"access_token"`
	}
	if st := l.post("/owner/v1/login", "", map[string]string{"national_id": "CCCD:" + o.nationalID, "pin": o.pin, "otp": otp}, &login); st != 200 {
		l.note(fmt.Sprintf("owner login: HTTP %d", st))
		time.Sleep(100 * time.Millisecond)
		return tx
	}
	// The approval spends the next step's code (see crash_test.go).
	otp, _ = signing.TOTPCode(o.otpauth, time.Now().Add(30*time.Second))
	var refused struct {
		Description string `json:"error_description"`
	}
	tx.start = time.Now()
	tx.approve = l.post("/owner/v1/transactions/"+tx.code+"/approve", login.AccessToken, map[string]string{"pin": o.pin, "otp": otp}, &refused)
	tx.end, tx.desc = time.Now(), refused.Description
	var status struct {
		Data struct {
			Status     string `json:"status"`
			Signatures []struct {
				Value string `json:"signature_value"`
			} `json:"signatures"`
		} `json:"data"`
	}
	// A refused approval leaves the transaction as it was; an accepted
	// one is final within moments.
	sp := map[string]any{"sp_id": l.e.clientID, "sp_password": l.e.secret}
	for deadline := time.Now().Add(20 * time.Second); time.Now().Before(deadline); time.Sleep(100 * time.Millisecond) {
		st := l.post("/smartca/v1/signatures/sign/"+tx.code+"/status", "", sp, &status)
		if st == 200 && (tx.approve != http.StatusOK || status.Data.Status != "pending" && status.Data.Status != "approved") {
			break
		}
	}
	tx.status, tx.sigs = status.Data.Status, nil
	wrong := 0
	for j, sg := range status.Data.Signatures {
		sig, _ := base64.StdEncoding.DecodeString(sg.Value)
		tx.sigs = append(tx.sigs, sig)
		if j >= len(tx.digests) || hsmtest.Verify(l.pubs[o.credentialID], tx.digests[j], sig, crypto.SHA256) != nil {
			wrong++
		}
	}
	l.mu.Lock()
	l.txs = append(l.txs, tx)
	l.wrongKey += wrong
	l.mu.Unlock()
	return tx
}

// note counts an unexpected answer of the load's preparatory steps.
func (l *hsmLoad) note(what string) {
	l.mu.Lock()
	l.authErrs[what]++
	l.mu.Unlock()
}

// poll asks route every 100 ms until the load stops.
func (l *hsmLoad) poll(route string, into *[]probe) {
	for !l.stop.Load() {
		p := probe{at: time.Now(), status: -1}
		if resp, err := l.hc.Get("https://" + l.d.https + route); err == nil {
			io.Copy(io.Discard, resp.Body)
			resp.Body.Close()
			p.status = resp.StatusCode
		}
		p.end = time.Now()
		l.mu.Lock()
		*into = append(*into, p)
		l.mu.Unlock()
		time.Sleep(100 * time.Millisecond)
	}
}

// end stops the load and waits for its workers.
func (l *hsmLoad) end() {
	l.stop.Store(true)
	l.wg.Wait()
}

// signed counts the signHash answers with signatures so far.
func (l *hsmLoad) signed() int {
	l.mu.Lock()
	defer l.mu.Unlock()
	n := 0
	for _, a := range l.answers {
		if a.status == http.StatusOK {
			n++
		}
	}
	return n
}

// waitSigned waits until n more signHash requests were answered with
// signatures, failing the test after limit.
func (l *hsmLoad) waitSigned(t *testing.T, n int, limit time.Duration) {
	t.Helper()
	want := l.signed() + n
	for deadline := time.Now().Add(limit); l.signed() < want; time.Sleep(20 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatalf("fewer than %d signHash requests signed in %v (authorisation errors: %v)", n, limit, l.authErrs)
		}
	}
}

// recovery is how long after at the first signHash request started after
// at was answered with signatures, and the first /readyz after at said
// 200; -1 when none was.
func (l *hsmLoad) recovery(at time.Time) (sign, ready time.Duration) {
	l.mu.Lock()
	defer l.mu.Unlock()
	sign, ready = -1, -1
	for _, a := range l.answers {
		if a.status == http.StatusOK && !a.start.Before(at) && (sign < 0 || a.end.Sub(at) < sign) {
			sign = a.end.Sub(at)
		}
	}
	for _, p := range l.readyz {
		if p.status == http.StatusOK && !p.at.Before(at) && (ready < 0 || p.end.Sub(at) < ready) {
			ready = p.end.Sub(at)
		}
	}
	return sign, ready
}

// fault sends sig to d and waits until it logs want, failing after 30
// s; it returns when it was logged.
func (d *daemon) fault(t *testing.T, sig syscall.Signal, want string) time.Time {
	t.Helper()
	before := strings.Count(d.logged(), want)
	if err := d.cmd.Process.Signal(sig); err != nil {
		t.Fatal(err)
	}
	for deadline := time.Now().Add(30 * time.Second); strings.Count(d.logged(), want) == before; time.Sleep(5 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatalf("kysod did not log %q within 30 s of %v:\n%s", want, sig, d.logged())
		}
	}
	return time.Now()
}

// judge checks what every fault test asserts of the answers: each one a
// success or a clear 503 (never a 500, never unanswered), each signature
// made by the credential's own key (checked here in Go, and a sample by
// openssl), and the audit log claiming no signature not returned. It
// returns the signHash answers counted by status, and the SmartCA
// transactions by final state.
func (l *hsmLoad) judge(t *testing.T) (map[int]int, map[string]int) {
	t.Helper()
	l.mu.Lock()
	defer l.mu.Unlock()
	counts := map[int]int{}
	returned := map[string]bool{}
	spentFailed := 0 // digests of failed requests
	for _, a := range l.answers {
		counts[a.status]++
		switch {
		case a.status == http.StatusOK:
			for _, d := range a.digests {
				returned[base64.StdEncoding.EncodeToString(d)] = true
			}
		case a.status == http.StatusServiceUnavailable:
			if a.code != "temporarily_unavailable" || !strings.Contains(a.desc, "key store") {
				t.Errorf("a 503 says %s %q: not the key store's clear answer", a.code, a.desc)
			}
			spentFailed += len(a.digests)
		default:
			t.Errorf("signHash at %s answered %d %s %q: a fault of the HSM must be a 503 with a message", a.start.Format(time.StampMilli), a.status, a.code, a.desc)
		}
	}
	if l.wrongKey != 0 {
		t.Errorf("%d signatures do not verify under their credential's certificate: signed with another key", l.wrongKey)
	}
	l.opensslSample(t)

	// SmartCA: an approval is answered with its signatures made, or with
	// a clear 503; a transaction approved is signed with every signature.
	txStates := map[string]int{}
	for _, tx := range l.txs {
		txStates[tx.status]++
		switch {
		case tx.approve == http.StatusOK && (tx.status != "signed" || len(tx.sigs) != hsmTxHashes):
			t.Errorf("transaction %s: approved, but %s with %d signatures", tx.code, tx.status, len(tx.sigs))
		case tx.approve == http.StatusServiceUnavailable && !strings.Contains(tx.desc, "key store"):
			t.Errorf("transaction %s: approval answered 503 %q: not the key store's clear answer", tx.code, tx.desc)
		case tx.approve != http.StatusOK && tx.approve != http.StatusServiceUnavailable:
			t.Errorf("transaction %s: approval answered %d %q: a fault of the HSM must be a 503 with a message", tx.code, tx.approve, tx.desc)
		case tx.approve != http.StatusOK && tx.status == "signed":
			t.Errorf("transaction %s: approval refused, yet signed", tx.code)
		}
	}

	// The audit log. CSC: every returned signature has its intent; an
	// intent whose signature was not returned belongs to a request
	// answered 503, which logged the failure (signature.create error);
	// signHash writes no ok event, its intents are the claim. SmartCA:
	// ok events only for a transaction signed, one per signature the
	// portal received.
	intents, errorsLogged, okCSC := map[string]bool{}, 0, 0
	okByTx := map[string]int{}
	rows, err := l.e.sql.Query(`SELECT outcome, details FROM audit_events WHERE action = 'signature.create'`)
	if err != nil {
		t.Fatal(err)
	}
	for rows.Next() {
		var outcome string
		var details []byte
		if err := rows.Scan(&outcome, &details); err != nil {
			t.Fatal(err)
		}
		var dt struct {
			Digest      string `json:"digest"`
			Transaction string `json:"transaction"`
		}
		json.Unmarshal(details, &dt)
		switch {
		case outcome == "intent" && dt.Transaction == "":
			intents[dt.Digest] = true
		case outcome == "error":
			errorsLogged++
		case outcome == "ok" && dt.Transaction == "":
			okCSC++
		case outcome == "ok":
			okByTx[dt.Transaction]++
		}
	}
	rows.Close()
	unaudited := 0
	for d := range returned {
		if !intents[d] {
			unaudited++
		}
	}
	if unaudited > 0 {
		t.Errorf("%d returned signatures have no signature.create intent", unaudited)
	}
	if okCSC > 0 {
		t.Errorf("%d signature.create ok events outside transactions, though CSC signed only by signHash", okCSC)
	}
	if n := len(intents) - len(returned); n != spentFailed {
		t.Errorf("%d intents without a returned signature, but %d digests were refused after spending their SAD", n, spentFailed)
	}
	if spentFailed > 0 && errorsLogged == 0 {
		t.Error("signatures failed at the key store, and no signature.create error event says so")
	}
	last := map[string]hsmTx{} // a transaction approved again: its last record
	for _, tx := range l.txs {
		last[tx.code] = tx
	}
	for code, tx := range last {
		if want := len(tx.sigs); okByTx[code] != want {
			t.Errorf("transaction %s (%s): %d signature.create ok events, %d signatures received", code, tx.status, okByTx[code], want)
		}
	}
	for code, n := range okByTx {
		if _, seen := last[code]; !seen {
			t.Errorf("%d signature.create ok events for transaction %s, which the portal never saw approved", n, code)
		}
	}
	// The health routes answered every time, within their 3-second bound
	// and a second of slack.
	for _, ps := range [][]probe{l.readyz, l.livez} {
		for _, p := range ps {
			if p.status == -1 || p.end.Sub(p.at) > 4*time.Second {
				t.Errorf("a health probe at %s: status %d after %v", p.at.Format(time.StampMilli), p.status, p.end.Sub(p.at))
			}
		}
	}
	return counts, txStates
}

// opensslSample has openssl judge the first signature of each answer
// with signatures (signHash, and SmartCA transactions signed), up to 12 per
// credential: each over its digest, under the credential's certificate.
func (l *hsmLoad) opensslSample(t *testing.T) {
	t.Helper()
	openssl := testenv.LookPath(t, "openssl", "apt-get install openssl")
	type sample struct {
		cred        string
		digest, sig []byte
	}
	var samples []sample
	for _, a := range l.answers {
		if a.status == http.StatusOK {
			samples = append(samples, sample{a.cred, a.digests[0], a.sigs[0]})
		}
	}
	smartca := l.e.owners[len(l.e.owners)-1].credentialID
	for _, tx := range l.txs {
		if tx.status == "signed" && len(tx.sigs) > 0 {
			samples = append(samples, sample{smartca, tx.digests[0], tx.sigs[0]})
		}
	}
	dir := t.TempDir()
	per := map[string]int{}
	for i, s := range samples {
		if per[s.cred] >= 12 {
			continue
		}
		per[s.cred]++
		dg, sg := filepath.Join(dir, fmt.Sprint(i, ".dgst")), filepath.Join(dir, fmt.Sprint(i, ".sig"))
		os.WriteFile(dg, s.digest, 0o600)
		os.WriteFile(sg, s.sig, 0o600)
		out, err := exec.Command(openssl, "pkeyutl", "-verify", "-certin", "-inkey", l.cert[s.cred], "-in", dg, "-sigfile", sg, "-pkeyopt", "digest:sha256").CombinedOutput()
		if err != nil || !strings.Contains(string(out), "Signature Verified Successfully") {
			t.Errorf("openssl pkeyutl -verify, a signature of credential %s: %v: %s", s.cred, err, out)
		}
	}
	if len(per) != len(l.e.owners) {
		t.Errorf("openssl judged signatures of %d credentials, want %d", len(per), len(l.e.owners))
	}
}

// auditVerify runs kyso audit verify on the stopped daemon's data.
func (e *hsmEnv) auditVerify(t *testing.T) {
	t.Helper()
	cmd := exec.Command(e.kyso, "audit", "verify", "--data", e.data)
	cmd.Env = append(os.Environ(), "KYSO_DATA="+e.data, "KYSO_KEYSTORE=", "KYSO_DB=")
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Errorf("kyso audit verify after the faults: %v\n%s", err, out)
	}
}

// TestHSMSessionsClosed closes every PKCS#11 session of kysod's slot
// (C_CloseAllSessions, as an HSM or module restart does) five times under
// a load of CSC signHash requests and SmartCA approvals. kysod must sign again within 10 s of
// each close (the key store recovers at the next operation: new sessions,
// a new login, the keys found again), answer no request with anything but
// signatures or a clear 503, sign with no other key, keep /readyz and
// /livez answering, and log no signature it did not return.
//
// SoftHSM's limit: C_CloseAllSessions while another thread is inside
// C_Sign on one of the sessions kills the process (SIGSEGV in SoftHSM), so
// the hook closes them between two operations (hsm/pkcs11 quiesce), as a
// network HSM's restart looks to its client. kyso's behaviour: an
// operation that meets a closed session recovers the pool and runs once
// more, so the callers see no failure.
func TestHSMSessionsClosed(t *testing.T) {
	e := newHSMEnv(t)
	d := startKysod(t, e.crash, e.data, "KYSO_CONFIG="+e.config)
	l := e.startLoad(t, d)
	defer l.end()
	l.waitSigned(t, 10, 60*time.Second)
	const closes = 5
	var times []time.Time
	for range closes {
		times = append(times, d.fault(t, syscall.SIGUSR1, "fault: closed every PKCS#11 session"))
		l.waitSigned(t, 4, hsmRecoveryBound)
		time.Sleep(time.Second)
	}
	time.Sleep(hsmRecoveryBound / 5)
	l.end()
	for i, at := range times {
		sign, ready := l.recovery(at)
		t.Logf("close %d: signed again after %v, /readyz 200 after %v", i+1, sign.Round(time.Millisecond), ready.Round(time.Millisecond))
		if sign < 0 || sign > hsmRecoveryBound || ready < 0 || ready > hsmRecoveryBound {
			t.Errorf("close %d: kysod signed again after %v and was ready after %v; want both within %v", i+1, sign, ready, hsmRecoveryBound)
		}
	}
	counts, txs := l.judge(t)
	t.Logf("signHash answers by status: %v (%d hashes each); SmartCA transactions by state: %v (%d hashes each); other errors: %v", counts, hsmHashes, txs, hsmTxHashes, l.authErrs)
	if counts[http.StatusOK] != len(l.answers) || txs["signed"] != len(l.txs) || txs["signed"] == 0 {
		t.Errorf("closed sessions made requests fail: signHash %v, transactions %v; recovery retries the operation, so none should", counts, txs)
	}
	if n := strings.Count(d.logged(), "pkcs11: recovering token sessions"); n < closes {
		t.Errorf("kysod logged %d recoveries for %d closes", n, closes)
	}
	d.stop(t)
	e.auditVerify(t)
}

// TestHSMFaultHookOnlyInCrashBuild: the release build has no fault hook —
// neither the key store's fault methods nor kysod's signal handler are in
// the binary — while the crash-test build has both.
func TestHSMFaultHookOnlyInCrashBuild(t *testing.T) {
	kysod, _ := binaries(t)
	crash := crashBinary(t)
	symbols := func(bin string) string {
		out, err := exec.Command("go", "tool", "nm", bin).Output()
		if err != nil {
			t.Fatalf("go tool nm %s: %v", bin, err)
		}
		return string(out)
	}
	hooks := regexp.MustCompile(`pkcs11\.\(\*Store\)\.Fault(CloseAllSessions|Quiesce)|main\.installFaults\.func`)
	if found := hooks.FindAllString(symbols(kysod), -1); len(found) > 0 {
		t.Errorf("the release build of kysod holds fault hooks: %v", found)
	}
	if found := hooks.FindAllString(symbols(crash), -1); len(found) < 3 {
		t.Errorf("the crash-test build holds %v; the test looks for names that are not there", found)
	}
}

// pkcs11Tool runs pkcs11-tool on e's token, logged in as the user, and
// returns its output.
func (e *hsmEnv) pkcs11Tool(t *testing.T, args ...string) string {
	t.Helper()
	tool := testenv.LookPath(t, "pkcs11-tool", "apt-get install opensc")
	cmd := exec.Command(tool, append([]string{"--module", e.sh.Module, "--token-label", e.sh.TokenLabel, "--login", "--pin", e.sh.PIN}, args...)...)
	cmd.Env = e.sh.Env()
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("pkcs11-tool %s: %v\n%s", strings.Join(args, " "), err, out)
	}
	return string(out)
}

// objects lists the token's objects by pkcs11-tool: label → hex CKA_ID,
// per type ("Secret Key", "Private Key", …).
func (e *hsmEnv) objects(t *testing.T) map[string]map[string]string {
	t.Helper()
	out := e.pkcs11Tool(t, "--list-objects")
	objs := map[string]map[string]string{}
	var kind, label string
	for _, line := range strings.Split(out, "\n") {
		s := strings.TrimSpace(line)
		switch {
		case !strings.HasPrefix(line, " ") && strings.Contains(s, " Object;"):
			kind, label = s[:strings.Index(s, " Object;")], ""
		case strings.HasPrefix(s, "label:"):
			label = strings.TrimSpace(strings.TrimPrefix(s, "label:"))
		case strings.HasPrefix(s, "ID:") && label != "":
			if objs[kind] == nil {
				objs[kind] = map[string]string{}
			}
			objs[kind][label] = strings.TrimSpace(strings.TrimPrefix(s, "ID:"))
		}
	}
	return objs
}

// TestHSMTokenReinit re-initialises kysod's token from another process
// (softhsm2-util --init-token) under a load of signHash requests and
// SmartCA approvals: every key is gone. Then pkcs11-tool makes, in the new token, a master key
// with the label and CKA_ID of the one that wrapped the credentials' keys
// (usable for wrapping, as the real one) and a key pair with the label of
// kysod's TLS key. kysod must never sign with them: no signature returned
// that does not verify under the credential's own certificate; requests
// answered with a clear 503; /readyz not ready (the TLS key under that
// label is not the certificate's); /livez, the CA certificates, the CRL
// and OCSP (responses signed before) still served. Then the token
// directory is restored from a copy: kysod must sign again, and be ready,
// within 10 s, without a restart, and a transaction whose approval was
// refused meanwhile is approved again and signed. The audit log then
// verifies.
//
// SoftHSM's limit: its file store gives a torn view (the token listed with
// an empty label, object creation failing with CKR_GENERAL_ERROR) to a
// process that reads the token while another re-initialises it, until the
// reader restarts; so the test re-initialises and restores the token while
// kysod's key store is quiet (SIGUSR2: requests wait meanwhile, a few
// hundred milliseconds), as an HSM's re-initialisation looks to a client
// that is between two operations; pkcs11-tool makes the impostors while
// kysod is quiet too, for the same reason the other way round. kyso's
// behaviour after it: the objects' handles are invalid, so the key store
// recovers (new sessions, a new login) and looks the keys up again; a wrapped key is unwrapped only under
// a master key with the CKA_ID its blob names, and RFC 5649's integrity
// check refuses an impostor with that ID; a key found by label signs only
// if its public key is the one the signer was made for.
func TestHSMTokenReinit(t *testing.T) {
	e := newHSMEnv(t)
	openssl := testenv.LookPath(t, "openssl", "apt-get install openssl")
	before := e.objects(t)
	masterID, tlsLabel := before["Secret Key"]["kyso-master"], ""
	for label := range before["Private Key"] {
		if strings.HasPrefix(label, tlsKeyPrefix) {
			tlsLabel = label
		}
	}
	if masterID == "" || tlsLabel == "" {
		t.Fatalf("the token holds no master key or TLS key: %v", before)
	}
	d := startKysod(t, e.crash, e.data, "KYSO_CONFIG="+e.config)
	l := e.startLoad(t, d)
	defer l.end()
	l.waitSigned(t, 10, 60*time.Second)

	// OCSP and CRLs on the plain-HTTP PKI listener, before and during.
	issuing := fetchPEM(t, "http://"+d.pk+"/ca/issuing.crt", filepath.Join(t.TempDir(), "issuing.pem"))
	leaf := l.cert[e.owners[0].credentialID]
	// openssl prints "Response verify OK" on stderr alone. Without a
	// nonce, as browsers and most relying parties ask, the response
	// signed before the fault is served from kysod's cache; one with a
	// nonce needs the OCSP key, which the fault takes away.
	ocsp := func(extra ...string) (string, string) {
		args := append([]string{"ocsp", "-issuer", issuing, "-cert", leaf, "-url", "http://" + d.pk + "/ocsp", "-CAfile", e.root, "-timeout", "5"}, extra...)
		out, verified, _ := testenv.Run(exec.Command(openssl, args...))
		return out, verified
	}
	if out, verified := ocsp("-no_nonce"); !strings.Contains(out, ": good") || !strings.Contains(verified, "Response verify OK") {
		t.Fatalf("openssl ocsp before the fault:\n%s\n%s", out, verified)
	}

	// quiet runs fn while kysod's key store is quiet; it returns when it
	// asked for quiet and when kysod had resumed.
	quiet := func(fn func()) (asked, resumed time.Time) {
		asked = time.Now()
		d.fault(t, syscall.SIGUSR2, "fault: key store quiet")
		fn()
		return asked, d.fault(t, syscall.SIGUSR2, "fault: key store resumed")
	}
	_, reinitAt := quiet(func() { e.sh.Reinit(t) })
	// The impostors, made by another process in the new token. Quiet
	// too: kysod, logging in to the new token, writes its token.object,
	// and pkcs11-tool's SoftHSM reading it meanwhile may find no token
	// of that label.
	_, impostorsAt := quiet(func() {
		e.pkcs11Tool(t, "--keygen", "--key-type", "AES:32", "--label", "kyso-master", "--id", masterID, "--private", "--sensitive", "--usage-wrap")
		e.pkcs11Tool(t, "--keypair", "--key-type", "EC:prime256v1", "--label", tlsLabel, "--id", "0102", "--usage-sign")
		if after := e.objects(t); after["Secret Key"]["kyso-master"] != masterID || after["Private Key"][tlsLabel] == "" {
			t.Fatalf("the impostors are not on the token: %v", after)
		}
	})
	// A while with the impostors in place.
	time.Sleep(4 * time.Second)
	ocspOut, ocspVerified := ocsp("-no_nonce")
	nonceOut, _ := ocsp()
	crl, err := http.Get("http://" + d.pk + "/crl/issuing.crl")
	if err != nil {
		t.Fatal(err)
	}
	crl.Body.Close()
	// A client with no TLS session to resume needs kysod's TLS key.
	fresh := httpsClient(e.root)
	_, freshErr := fresh.Get("https://" + d.https + "/livez")

	// What was answered before restoreAsked saw the token without keys;
	// a request held up by the quiet may be answered after the restore.
	restoreAsked, restoreAt := quiet(func() { copyDir(t, e.snapshot, e.tokenDir) })
	l.waitSigned(t, 4, hsmRecoveryBound)
	time.Sleep(2 * time.Second)
	l.end()
	// A transaction whose approval was refused while the keys were gone
	// is still pending: its owner approves it again, and it is signed.
	var again *hsmTx
	for _, tx := range l.txs {
		if tx.approve == http.StatusServiceUnavailable && tx.status == "pending" {
			again = &tx
		}
	}
	if again == nil {
		t.Error("no SmartCA approval was refused while the keys were gone")
	} else if tx := l.approve(t, e.owners[len(e.owners)-1], *again); tx.approve != http.StatusOK || tx.status != "signed" {
		t.Errorf("transaction %s approved again after the restore: %d %q, %s", tx.code, tx.approve, tx.desc, tx.status)
	}

	sign, ready := l.recovery(restoreAt)
	t.Logf("re-initialised at %s; impostors made %v later; restored %v after that; signed again %v after the restore, /readyz 200 after %v",
		reinitAt.Format(time.StampMilli), impostorsAt.Sub(reinitAt).Round(time.Millisecond), restoreAt.Sub(impostorsAt).Round(time.Millisecond),
		sign.Round(time.Millisecond), ready.Round(time.Millisecond))
	if sign < 0 || sign > hsmRecoveryBound || ready < 0 || ready > hsmRecoveryBound {
		t.Errorf("after the restore kysod signed again after %v and was ready after %v; want both within %v", sign, ready, hsmRecoveryBound)
	}
	if !strings.Contains(ocspOut, ": good") || !strings.Contains(ocspVerified, "Response verify OK") {
		t.Errorf("openssl ocsp while the token held no keys:\n%s\n%s", ocspOut, ocspVerified)
	}
	t.Logf("openssl ocsp with a nonce while the token held no keys: %s", strings.TrimSpace(nonceOut))
	if crl.StatusCode != http.StatusOK {
		t.Errorf("the CRL while the token held no keys: HTTP %d", crl.StatusCode)
	}
	t.Logf("a new TLS client (no session to resume) while the TLS key was gone: %v", freshErr)
	if freshErr == nil {
		t.Error("a full TLS handshake succeeded while the token held no TLS key of kysod's")
	}
	if _, err := fresh.Get("https://" + d.https + "/livez"); err != nil {
		t.Errorf("a new TLS client after the restore: %v", err)
	}

	// Between the re-initialisation and the restore: no signatures (the
	// keys were gone), every signHash refused with a 503, /readyz not
	// ready, /livez alive.
	l.mu.Lock()
	var during, refused int
	// A key unwrapped before the re-initialisation, still in the key
	// cache, stops signing within pkcs11.MasterRecheck (its master key is
	// read again then); it is the credential's own key meanwhile.
	gone := reinitAt.Add(pkcs11.MasterRecheck)
	var txDuring int
	for _, tx := range l.txs {
		if tx.start.After(gone) && tx.end.Before(restoreAsked) {
			txDuring++
			if tx.status == "signed" {
				t.Errorf("transaction %s, approved %v after the re-initialisation, was signed", tx.code, tx.start.Sub(reinitAt))
			}
		}
	}
	t.Logf("SmartCA approvals while the keys were gone: %d", txDuring)
	for _, tx := range l.txs {
		if tx.status != "signed" {
			t.Logf("transaction %s approved at %s: approval %d %q, then %s", tx.code, tx.start.Format(time.StampMilli), tx.approve, tx.desc, tx.status)
		}
	}
	for _, a := range l.answers {
		if a.start.After(gone) && a.end.Before(restoreAsked) {
			during++
			if a.status == http.StatusOK {
				t.Errorf("a signHash started %v after the re-initialisation returned signatures", a.start.Sub(reinitAt))
			} else {
				refused++
			}
		}
	}
	var notReady, readyWhileGone, alive, livezDuring int
	for _, p := range l.readyz {
		if p.at.After(reinitAt) && p.end.Before(restoreAsked) {
			if p.status == http.StatusServiceUnavailable {
				notReady++
			} else if p.at.After(impostorsAt) {
				readyWhileGone++
			}
		}
	}
	for _, p := range l.livez {
		if p.at.After(reinitAt) && p.end.Before(restoreAsked) {
			livezDuring++
			if p.status == http.StatusOK {
				alive++
			}
		}
	}
	l.mu.Unlock()
	t.Logf("while the keys were gone: %d signHash refused of %d; /readyz 503 %d times; /livez 200 %d of %d", refused, during, notReady, alive, livezDuring)
	if during == 0 || notReady == 0 || readyWhileGone > 0 || alive != livezDuring {
		t.Errorf("while the keys were gone: %d signHash requests, %d /readyz not ready, %d ready with the impostors in place, /livez 200 %d of %d", during, notReady, readyWhileGone, alive, livezDuring)
	}
	counts, txs := l.judge(t)
	t.Logf("signHash answers by status: %v (%d hashes each); SmartCA transactions by state: %v (%d hashes each); other errors: %v", counts, hsmHashes, txs, hsmTxHashes, l.authErrs)
	d.stop(t)
	e.auditVerify(t)
	// Nothing stored wrongly: the credentials keep the blobs and
	// certificates they had.
	var creds int
	if err := e.sql.QueryRow(`SELECT count(*) FROM credentials WHERE status = 'active' AND wrapped_key IS NOT NULL`).Scan(&creds); err != nil || creds != len(e.owners) {
		t.Errorf("%d active credentials with wrapped keys after the faults (%v), want %d", creds, err, len(e.owners))
	}
}
