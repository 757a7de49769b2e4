package testenv

import (
	"crypto/rand"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"

	"github.com/kyso-pki/kyso/hsm"
)

// SoftHSMModule is where Debian and Ubuntu install SoftHSM's PKCS#11 module.
const SoftHSMModule = "/usr/lib/softhsm/libsofthsm2.so"

// softHSMTokens is how many tokens a test binary may ask NewSoftHSM for.
// SoftHSM builds its slot list once, at C_Initialize, and never sees a token
// initialised after that, so all of them are made before the first test
// loads the module.
const softHSMTokens = 12

// SoftHSM is one freshly initialised SoftHSM token, with nothing on it.
type SoftHSM struct {
	// Module is the path of the PKCS#11 module.
	Module string
	// Dir is the token directory shared by every token of this test binary.
	Dir string
	// Conf is the softhsm2.conf naming Dir; SOFTHSM2_CONF points at it.
	Conf string
	// TokenLabel is this token's label, unique in the test binary.
	TokenLabel string
	// PIN is the user PIN; SOPIN is the security officer's.
	PIN, SOPIN string
}

// softHSMPool is the token directory of one test binary. It is
// process-wide because SoftHSM itself is: the module reads SOFTHSM2_CONF once,
// at its first C_Initialize in the process.
type softHSMPool struct {
	once       sync.Once
	err        error
	missing    string
	dir, conf  string
	pin, sopin string

	mu   sync.Mutex
	next int
}

var softHSMShared softHSMPool

func (p *softHSMPool) init() {
	if _, err := exec.LookPath("softhsm2-util"); err != nil {
		p.missing = "softhsm2-util not found in PATH: apt-get install softhsm2"
		return
	}
	if _, err := os.Stat(SoftHSMModule); err != nil {
		p.missing = fmt.Sprintf("SoftHSM module %s not found: apt-get install softhsm2", SoftHSMModule)
		return
	}
	// Not t.TempDir: the module keeps using the directory for the whole
	// test binary, after the test that first asked for a token has ended.
	dir, err := os.MkdirTemp("", "kyso-softhsm-")
	if err != nil {
		p.err = err
		return
	}
	p.dir = filepath.Join(dir, "tokens")
	p.conf = filepath.Join(dir, "softhsm2.conf")
	if err := os.Mkdir(p.dir, 0o700); err != nil {
		p.err = err
		return
	}
	conf := fmt.Sprintf("directories.tokendir = %s\nobjectstore.backend = file\nlog.level = ERROR\n", p.dir)
	if err := os.WriteFile(p.conf, []byte(conf), 0o600); err != nil {
		p.err = err
		return
	}
	p.pin, p.sopin = rand.Text()[:16], rand.Text()[:16]
	for i := 0; i < softHSMTokens; i++ {
		label := softHSMLabel(i)
		if err := p.softhsmUtil("--init-token", "--free", "--label", label, "--pin", p.pin, "--so-pin", p.sopin); err != nil {
			p.err = err
			return
		}
	}
}

func (p *softHSMPool) softhsmUtil(args ...string) error {
	cmd := exec.Command("softhsm2-util", args...)
	cmd.Env = append(os.Environ(), "SOFTHSM2_CONF="+p.conf)
	out, err := cmd.CombinedOutput()
	if err != nil {
		// The PINs are test values, but keep the habit: no secrets in errors.
		return fmt.Errorf("testenv: softhsm2-util %s: %v: %s", args[0], err, strings.TrimSpace(string(out)))
	}
	return nil
}

// StopSoftHSM removes the token directory NewSoftHSM made, if any. Call
// it from TestMain after m.Run: the module uses the directory until the
// test binary ends, so no test's cleanup can.
func StopSoftHSM() {
	p := &softHSMShared
	if p.dir != "" {
		os.RemoveAll(filepath.Dir(p.dir))
	}
}

// NewSoftHSM returns a token nobody else in the test binary has used. All
// tokens live in one token directory made on first use (see softHSMTokens
// for why), configured with directories.tokendir, objectstore.backend = file
// and log.level = ERROR; SOFTHSM2_CONF is set with t.Setenv, so tests using
// it cannot be parallel. A missing softhsm2-util or module is reported with
// Missing.
func NewSoftHSM(t testing.TB) *SoftHSM {
	t.Helper()
	p := &softHSMShared
	p.once.Do(p.init)
	if p.missing != "" {
		Missing(t, "%s", p.missing)
	}
	if p.err != nil {
		t.Fatalf("testenv: preparing SoftHSM tokens: %v", p.err)
	}
	p.mu.Lock()
	i := p.next
	p.next++
	p.mu.Unlock()
	if i >= softHSMTokens {
		t.Fatalf("testenv: all %d SoftHSM tokens of this test binary are taken; raise softHSMTokens", softHSMTokens)
	}
	t.Setenv("SOFTHSM2_CONF", p.conf)
	return &SoftHSM{
		Module:     SoftHSMModule,
		Dir:        p.dir,
		Conf:       p.conf,
		TokenLabel: softHSMLabel(i),
		PIN:        p.pin,
		SOPIN:      p.sopin,
	}
}

// URI names the token for hsm/pkcs11.Open, PIN included as pin-value.
func (s *SoftHSM) URI() *hsm.URI {
	return &hsm.URI{
		Scheme: "pkcs11",
		Path:   map[string]string{"token": s.TokenLabel},
		Query:  map[string]string{"module-path": s.Module, "pin-value": s.PIN},
	}
}

// Env is the environment for an outside tool (pkcs11-tool, softhsm2-util)
// that must see this token.
func (s *SoftHSM) Env() []string {
	return append(os.Environ(), "SOFTHSM2_CONF="+s.Conf)
}

// Reinit re-initialises the token from another process, as an operator with
// softhsm2-util would: same label, same PINs, every object destroyed. A
// module loaded in the test process keeps its slot and sessions but loses
// the objects.
func (s *SoftHSM) Reinit(t testing.TB) {
	t.Helper()
	cmd := exec.Command("softhsm2-util", "--init-token", "--token", s.TokenLabel, "--label", s.TokenLabel, "--pin", s.PIN, "--so-pin", s.SOPIN)
	cmd.Env = s.Env()
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("testenv: re-initialising SoftHSM token %s: %v: %s", s.TokenLabel, err, strings.TrimSpace(string(out)))
	}
}

// softHSMLabel names token i. The number has two digits so that no label is
// a prefix of another: pkcs11-tool 0.23's --token-label matches prefixes,
// and would pick kyso-test-10 for kyso-test-1.
func softHSMLabel(i int) string { return fmt.Sprintf("kyso-test-%02d", i) }
