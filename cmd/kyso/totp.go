package main

import (
	"bufio"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"github.com/kyso-pki/kyso/hsm"
	"github.com/kyso-pki/kyso/pkg/signing"
)

// codes supplies the owner's one-time codes: typed on standard input, or,
// for scripts and tests acting as the owner's phone (--otpauth-source),
// computed from the otpauth URI. The service accepts each TOTP time step
// once, so computed codes never reuse a step: not within one command, and
// not across commands either — the last step used for a URI is kept in the
// user's cache directory (kyso/totp/, named by a hash of the URI, holding
// only the step number). When the next free step is more than one ahead of
// the clock (the service accepts one step of skew), next waits for it, as
// a person waits for the app's next code.
type codes struct {
	uri      string
	lastStep int64
	state    string // the file keeping the last step; empty: none
	in       *bufio.Reader
	prompt   io.Writer
	now      func() time.Time
	sleep    func(time.Duration)
}

func newCodes(source string, e *env) (*codes, error) {
	if source == "" {
		return &codes{in: bufio.NewReader(os.Stdin), prompt: e.stderr}, nil
	}
	b, err := hsm.ReadSecret(source)
	if err != nil {
		return nil, usagef("--otpauth-source: %v", err)
	}
	c := &codes{uri: strings.TrimSpace(string(b)), lastStep: -1, now: time.Now, sleep: time.Sleep}
	if dir, err := os.UserCacheDir(); err == nil {
		sum := sha256.Sum256([]byte(c.uri))
		c.state = filepath.Join(dir, "kyso", "totp", hex.EncodeToString(sum[:12]))
	}
	return c, nil
}

func (c *codes) next() (string, error) {
	if c.uri == "" {
		fmt.Fprint(c.prompt, "one-time code: ")
		line, err := c.in.ReadString('\n')
		if err != nil && line == "" {
			return "", fmt.Errorf("reading the one-time code: %w", err)
		}
		return strings.TrimSpace(line), nil
	}
	last := max(c.lastStep, c.savedStep())
	now := c.now()
	step := now.Unix() / 30
	if step <= last {
		// The service allows one step ahead; beyond that, wait.
		if last-step >= 1 {
			c.sleep(time.Unix(last*30, 0).Sub(now) + 100*time.Millisecond)
		}
		step = last + 1
		now = time.Unix(step*30, 0)
	}
	c.lastStep = step
	c.saveStep(step)
	return signing.TOTPCode(c.uri, now)
}

// savedStep is the last step another command used for this URI, or -1.
func (c *codes) savedStep() int64 {
	if c.state == "" {
		return -1
	}
	b, err := os.ReadFile(c.state)
	if err != nil {
		return -1
	}
	n, err := strconv.ParseInt(strings.TrimSpace(string(b)), 10, 64)
	if err != nil {
		return -1
	}
	return n
}

// saveStep records step for the next command; a cache that cannot be
// written only loses that memory.
func (c *codes) saveStep(step int64) {
	if c.state == "" || os.MkdirAll(filepath.Dir(c.state), 0o700) != nil {
		return
	}
	tmp := c.state + ".tmp"
	if os.WriteFile(tmp, []byte(strconv.FormatInt(step, 10)+"\n"), 0o600) == nil {
		os.Rename(tmp, c.state)
	}
}
