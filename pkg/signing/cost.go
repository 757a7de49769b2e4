package signing

import (
	"bufio"
	"bytes"
	"context"
	"crypto/hkdf"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"math"
	"os"
	"runtime"
	"runtime/debug"
	"strconv"
	"strings"
	"sync"
	"time"

	"go.opentelemetry.io/otel/attribute"

	"github.com/kyso-pki/kyso/internal/tracing"
	"github.com/kyso-pki/kyso/pkg/metrics"
)

// What a check costs is bounded by design (issue 13). argon2id is for
// low-entropy secrets, PINs: each evaluation holds Config.Password's
// memory (19 MiB by default), so evaluations pass a gate of
// Config.HashConcurrency places, and one that finds no place within
// Config.HashWait is refused with KindBusy rather than queued without
// end. Client secrets are 256 random bits: they are checked with
// HMAC-SHA-256 under a key derived from the secrets key, so an unknown
// client or a wrong secret costs microseconds.

// hashGate lets at most cap(slots) argon2id evaluations run at once.
type hashGate struct {
	slots chan struct{}
	wait  time.Duration
}

// errBusy is the answer when every place stays taken for the whole wait.
func errBusy() *Error {
	return fail(KindBusy, "too many PIN checks at once; try again in a moment")
}

// enter takes a place, waiting at most g.wait; leave gives it back. The
// metrics kyso_argon2_waiting and kyso_argon2_running follow both.
func (g *hashGate) enter(ctx context.Context) error {
	select {
	case g.slots <- struct{}{}:
		metrics.Argon2Running.Inc()
		return nil
	default:
	}
	metrics.Argon2Waiting.Inc()
	defer metrics.Argon2Waiting.Dec()
	t := time.NewTimer(g.wait)
	defer t.Stop()
	select {
	case g.slots <- struct{}{}:
		metrics.Argon2Running.Inc()
		return nil
	case <-t.C:
		return errBusy()
	case <-ctx.Done():
		return ctx.Err()
	}
}

// enterTraced is enter as the span argon2.wait (within a traced request).
func (g *hashGate) enterTraced(ctx context.Context) error {
	_, span := tracing.Child(ctx, "argon2.wait")
	err := g.enter(ctx)
	tracing.End(span, err)
	return err
}

func (g *hashGate) leave() {
	<-g.slots
	metrics.Argon2Running.Dec()
}

// hold is enterTraced returning its leave, safe to call more than once:
// a caller leaves as soon as its evaluation is done and defers the same
// call for the paths that return before it.
func (g *hashGate) hold(ctx context.Context) (leave func(), err error) {
	if err := g.enterTraced(ctx); err != nil {
		return nil, err
	}
	var once sync.Once
	return func() { once.Do(g.leave) }, nil
}

// checkPassword reports whether secret matches the argon2id PHC string
// phc, evaluated behind the gate: KindBusy when no place frees in time.
//
// Within a traced request the wait at the gate is the span argon2.wait
// and the evaluation argon2.evaluate: neither holds the secret, nor
// whether it matched.
func (s *Service) checkPassword(ctx context.Context, phc, secret string) (bool, error) {
	if err := s.gate.enterTraced(ctx); err != nil {
		return false, err
	}
	defer s.gate.leave()
	_, span := tracing.Child(ctx, "argon2.evaluate", attribute.String("kyso.argon2.op", "check"))
	defer span.End()
	return argon2Check(phc, secret), nil
}

// hashPassword returns the argon2id PHC string of secret with the
// service's parameters, evaluated behind the gate.
func (s *Service) hashPassword(ctx context.Context, secret string) (string, error) {
	if err := s.gate.enterTraced(ctx); err != nil {
		return "", err
	}
	defer s.gate.leave()
	_, span := tracing.Child(ctx, "argon2.evaluate", attribute.String("kyso.argon2.op", "hash"))
	defer span.End()
	return argon2Hash(secret, s.cfg.Password, s.cfg.Rand)
}

// HashConcurrency is how many argon2id evaluations the service runs at
// once (Config.HashConcurrency, or the default it was sized to).
func (s *Service) HashConcurrency() int { return cap(s.gate.slots) }

// DefaultHashWait is how long a PIN check waits for a place at the gate
// when Config.HashWait is zero.
const DefaultHashWait = 2 * time.Second

// defaultHashConcurrency sizes the gate: a quarter of memLimit (bytes) in
// evaluations of p, at most two per CPU (argon2id with one lane keeps a
// CPU busy: more at once only makes each slower), at least one.
func defaultHashConcurrency(p PasswordParams, memLimit int64, procs int) int {
	per := int64(p.MemoryKiB) * 1024
	if per <= 0 {
		per = 1
	}
	n := memLimit / 4 / per
	return int(min(max(n, 1), int64(2*max(procs, 1))))
}

// memoryLimit is what the process may use: GOMEMLIMIT when set, else the
// cgroup's memory.max, else the machine's memory; 1 GiB when none is
// known.
func memoryLimit() int64 {
	if l := debug.SetMemoryLimit(-1); l > 0 && l < math.MaxInt64 {
		return l
	}
	if b, err := os.ReadFile("/sys/fs/cgroup/memory.max"); err == nil {
		if n, err := strconv.ParseInt(strings.TrimSpace(string(b)), 10, 64); err == nil && n > 0 {
			return n
		}
	}
	if b, err := os.ReadFile("/proc/meminfo"); err == nil {
		sc := bufio.NewScanner(bytes.NewReader(b))
		for sc.Scan() {
			if f := strings.Fields(sc.Text()); len(f) >= 2 && f[0] == "MemTotal:" {
				if kb, err := strconv.ParseInt(f[1], 10, 64); err == nil && kb > 0 {
					return kb * 1024
				}
			}
		}
	}
	return 1 << 30
}

// newHashGate makes the gate cfg asks for.
func newHashGate(cfg *Config) *hashGate {
	n := cfg.HashConcurrency
	if n <= 0 {
		n = defaultHashConcurrency(cfg.Password, memoryLimit(), runtime.GOMAXPROCS(0))
	}
	return &hashGate{slots: make(chan struct{}, n), wait: cfg.HashWait}
}

// secretMACPrefix starts the stored form of a client secret checked by
// HMAC: the prefix, then base64 (standard, unpadded) of HMAC-SHA-256 under
// the service's client-secret key over the client ID, a zero byte and the
// secret. The ID binds the value to its row: copied to another client, it
// does not match.
const secretMACPrefix = "$hmac-sha256$v=1$"

// secretMACInfo is the HKDF (RFC 5869) info that derives the client-secret
// key from the secrets key, apart from the key sealing TOTP and webhook
// secrets.
const secretMACInfo = "kyso client secret HMAC-SHA-256 v1"

// newSecretMACKey derives the client-secret key from the secrets key.
func newSecretMACKey(secretsKey []byte) ([]byte, error) {
	return hkdf.Key(sha256.New, secretsKey, nil, secretMACInfo, 32)
}

// clientMAC is HMAC-SHA-256(key, id || 0x00 || secret).
func (s *Service) clientMAC(id, secret string) []byte {
	m := hmac.New(sha256.New, s.secretKey)
	m.Write([]byte(id))
	m.Write([]byte{0})
	m.Write([]byte(secret))
	return m.Sum(nil)
}

// clientSecretHash is the stored form of client id's secret.
func (s *Service) clientSecretHash(id, secret string) string {
	return secretMACPrefix + base64.RawStdEncoding.EncodeToString(s.clientMAC(id, secret))
}

// macMatches reports, in constant time, whether stored is the HMAC form
// of client id's secret. It does the same work whatever stored holds, so
// an unknown client (stored "") costs what a wrong secret does.
func (s *Service) macMatches(id, stored, secret string) bool {
	got := s.clientMAC(id, secret)
	want, err := base64.RawStdEncoding.DecodeString(strings.TrimPrefix(stored, secretMACPrefix))
	if err != nil || len(want) != len(got) {
		want = make([]byte, len(got))
	}
	return hmac.Equal(got, want) && strings.HasPrefix(stored, secretMACPrefix) && err == nil
}
