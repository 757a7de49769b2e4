// Package gen generates a realistic signing campaign at scale into one of
// kyso's databases, for `kyso bench report` and `kyso bench scale`:
// citizens enrolled over 18 months by channel and ward, each an owner
// with a credential and a campaign certificate, some revoked (switches
// of provider, key compromise), some suspended, some expired, their
// signatures, and the audit events of all of it, chained.
//
// What is real: every certificate is X.509 DER signed by the issuing CA's
// own key, copying a citizen certificate the CA issued through its real
// path (profile, zlint), with the citizen's own P-256 public key, subject
// (name, CCCD, province), serial, validity and key identifier; the
// enrolment records, revocations, campaign holders, certified keys and
// certificate counts are the rows kyso writes; the audit events continue
// the chain (store.AuditHash) from the database's head, with kyso's
// actions and details, in time order, so a checkpoint signed after
// generation seals them and `kyso audit verify` passes.
//
// What is synthetic: the credentials' wrapped keys are random bytes of a
// wrapped P-256 key's length (no key signs with them: the benches sign
// with credentials enrolled through signing.Service), the owners share
// one Argon2id PIN hash and hold random sealed TOTP secrets, ward names
// are "Phường 7 HCM" style, and no usage counts, transactions or webhooks
// are written. Certificates are written with their final state; their
// revocation events come later in the chain at the revocation's time.
// The generator needs the database to itself while it runs (it extends
// the audit chain without the store's lock).
package gen

import (
	"context"
	"errors"
	"fmt"
	"math"
	mrand "math/rand/v2"
	"runtime"
	"slices"
	"sort"
	"strings"
	"time"
)

// Options says what to generate. The zero value of each field but
// Enrolments is its default.
type Options struct {
	// Enrolments is how many citizens enrol (1 to MaxEnrolments).
	Enrolments int
	// Months is the campaign's length, ending at End; zero: 18.
	Months int
	// End is when the campaign's data ends; zero: now.
	End time.Time
	// Seed makes the draw repeatable (names, areas, times, fates); keys
	// and serials are random regardless. Zero: 1.
	Seed uint64
	// Workers sign certificates side by side; zero: GOMAXPROCS.
	Workers int
	// Batch is the enrolments written per transaction; zero: 5000.
	Batch int
	// PINHash is the owners' PIN hash (Argon2id, as signing stores it);
	// empty: a fixed placeholder that matches no PIN.
	PINHash string
	// Progress, when set, is told the enrolments written so far.
	Progress func(done int)
}

// Shares of the campaign's fates, of all enrolments.
const (
	// RevokedShare are revoked: switches to another provider
	// (superseded), then key compromise and cessation.
	RevokedShare = 0.05
	// SupersededShare of all enrolments switched provider (part of
	// RevokedShare).
	SupersededShare = 0.02
	// SuspendedShare are on hold after an "I did not do this".
	SuspendedShare = 0.005
	// SigningShare of citizens sign with their key, 1 to 4 times.
	SigningShare = 0.6
)

// SampleSize bounds Summary.Sample.
const SampleSize = 1024

// Summary is what was generated, for checking the reports against.
type Summary struct {
	Enrolments int
	// First and Last are the first and last enrolment's times.
	First, Last time.Time
	ByChannel   map[string]int
	ByProvince  map[string]int
	Revoked     int // of which Superseded
	Superseded  int
	Suspended   int
	Signatures  int
	// AuditEvents were appended, from FirstEvent.
	AuditEvents int
	FirstEvent  int64
	// RevokedSerial, SuspendedSerial and GoodSerial are one of each, when
	// there is one.
	RevokedSerial, SuspendedSerial, GoodSerial []byte
	// Sample is up to SampleSize serials drawn uniformly from those
	// generated (reservoir sampling), for lookups at random.
	Sample [][]byte
	// goodUntil are the good certificates' ends, sorted.
	goodUntil []time.Time
	Elapsed   time.Duration
}

// Active counts the good certificates still valid at at; the other good
// ones have expired (RFC 5280 §4.1.2.5: notAfter is inclusive, as the
// reports count it).
func (s *Summary) Active(at time.Time) int {
	i := sort.Search(len(s.goodUntil), func(i int) bool { return s.goodUntil[i].After(at) })
	return len(s.goodUntil) - i
}

// Good counts the certificates neither revoked nor suspended.
func (s *Summary) Good() int { return len(s.goodUntil) }

// Generate writes o's campaign into the database dsn (migrated, with the
// CA is's certificates in it), continuing its audit chain.
func Generate(ctx context.Context, dsn string, is *Issuer, o *Options) (*Summary, error) {
	if o.Enrolments < 1 || o.Enrolments > MaxEnrolments {
		return nil, fmt.Errorf("gen: %d enrolments: want 1 to %d", o.Enrolments, MaxEnrolments)
	}
	opt := *o
	if opt.Months == 0 {
		opt.Months = 18
	}
	if opt.Months < 1 || opt.Months > 60 {
		return nil, fmt.Errorf("gen: a campaign of %d months: want 1 to 60", opt.Months)
	}
	if opt.End.IsZero() {
		opt.End = time.Now()
	}
	opt.End = opt.End.UTC().Truncate(time.Second)
	if opt.Seed == 0 {
		opt.Seed = 1
	}
	if opt.Workers <= 0 {
		opt.Workers = runtime.GOMAXPROCS(0)
	}
	if opt.Batch <= 0 {
		opt.Batch = 5000
	}
	if opt.PINHash == "" {
		opt.PINHash = "$argon2id$v=19$m=19456,t=2,p=1$Z2VuZXJhdGVk$AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA"
	}
	m, err := newMinter(is)
	if err != nil {
		return nil, err
	}
	sk, err := openSink(ctx, dsnOf(dsn))
	if err != nil {
		return nil, err
	}
	defer sk.close()
	g := &generator{o: &opt, is: is, m: m, sk: sk, r: mrand.New(mrand.NewPCG(opt.Seed, opt.Seed^0x6b79736f)),
		sum: &Summary{ByChannel: map[string]int{}, ByProvince: map[string]int{}}}
	g.people = newPeople(g.r)
	for _, c := range channels {
		g.chW = append(g.chW, c.weight)
	}
	if err := sk.queryRow(ctx, `SELECT id, hash FROM audit_events ORDER BY id DESC LIMIT 1`).Scan(&g.lastID, &g.prev); err != nil {
		return nil, fmt.Errorf("gen: reading the audit chain's head: %w", err)
	}
	// Citizens generated before keep their numbers: each CCCD prefix
	// numbers on after the highest it holds.
	rows, err := sk.query(ctx, `SELECT substr(national_id, 6, 6), max(substr(national_id, 12, 6)) FROM owners
		WHERE national_id LIKE 'CCCD:%' GROUP BY substr(national_id, 6, 6)`)
	if err != nil {
		return nil, fmt.Errorf("gen: reading the CCCDs in use: %w", err)
	}
	for _, r := range rows {
		var n int
		if _, err := fmt.Sscanf(r[1], "%d", &n); err == nil {
			g.people.next[r[0]] = n + 1
		}
	}
	start := time.Now()
	if err := g.run(ctx); err != nil {
		return nil, err
	}
	g.sum.Elapsed = time.Since(start)
	slices.SortFunc(g.sum.goodUntil, func(a, b time.Time) int { return a.Compare(b) })
	return g.sum, nil
}

type generator struct {
	o      *Options
	is     *Issuer
	m      *minter
	sk     sink
	r      *mrand.Rand
	people *people
	chW    []int
	sum    *Summary

	lastID int64
	prev   []byte
	later  events // audit events due after the enrolments written so far
	seq    int    // orders later events of the same time
	counts map[string]int64
}

// plan is one enrolment, drawn before its certificate is signed.
type plan struct {
	p               person
	at              time.Time
	channel, staff  string
	evidence        string
	fate            string // store.StatusGood, StatusRevoked, StatusHold
	reason          int
	revokedAt       time.Time
	ownerID, credID string
	signatures      []time.Time
	cert            *minted
}

func (g *generator) run(ctx context.Context) error {
	o := g.o
	begin := o.End.AddDate(0, -o.Months, 0)
	span := o.End.Sub(begin)
	// Enrolment times: the campaign gathers pace (density rising
	// linearly), each a microsecond apart at least; sorted.
	times := make([]time.Time, o.Enrolments)
	for i := range times {
		f := rising(g.r.Float64())
		times[i] = begin.Add(time.Duration(f * float64(span-time.Minute))).Truncate(time.Microsecond)
	}
	slices.SortFunc(times, func(a, b time.Time) int { return a.Compare(b) })
	g.sum.First, g.sum.Last = times[0], times[len(times)-1]
	g.counts = map[string]int64{}

	// Sign a batch while the one before is written.
	type batch struct {
		ts   []*table
		done int
	}
	writes := make(chan batch, 1)
	werr := make(chan error, 1)
	go func() {
		var err error
		for b := range writes {
			if err == nil {
				if err = g.sk.write(ctx, b.ts); err == nil && o.Progress != nil {
					o.Progress(b.done)
				}
			}
		}
		werr <- err
	}()
	var err error
	for lo := 0; lo < len(times) && err == nil; lo += o.Batch {
		hi := min(lo+o.Batch, len(times))
		plans := g.draw(times[lo:hi])
		if err = g.sign(plans); err != nil {
			break
		}
		var ts []*table
		if ts, err = g.rows(plans, hi == len(times)); err != nil {
			break
		}
		select {
		case writes <- batch{ts, hi}:
		case err = <-werr:
			werr <- err
		}
	}
	close(writes)
	if err = errors.Join(err, <-werr); err != nil {
		return err
	}
	// The certificates' counts by status, as issuance keeps them.
	for st, n := range g.counts {
		if err := g.sk.exec(ctx, `INSERT INTO certificate_counts (status, shard, n) VALUES ($1, 0, $2)
			ON CONFLICT (status, shard) DO UPDATE SET n = certificate_counts.n + excluded.n`, st, n); err != nil {
			return fmt.Errorf("gen: counting certificates: %w", err)
		}
	}
	return g.sk.settle(ctx)
}

// rising maps a uniform u in [0, 1) to the campaign's time fraction:
// the density rises linearly from 1 to 3 over the campaign (it gathers
// pace), so F(x) = (x + x²)/2 and x = (√(1+8u) − 1)/2.
func rising(u float64) float64 {
	return (math.Sqrt(1+8*u) - 1) / 2
}

// Count is how many enrolments the database dsn records.
func Count(ctx context.Context, dsn string) (int, error) {
	sk, err := openSink(ctx, dsnOf(dsn))
	if err != nil {
		return 0, err
	}
	defer sk.close()
	var n int
	if err := sk.queryRow(ctx, `SELECT count(*) FROM enrolment_records`).Scan(&n); err != nil {
		return 0, fmt.Errorf("gen: counting enrolments: %w", err)
	}
	return n, nil
}

// SampleSerials draws up to n serials of citizens' certificates from the
// database dsn at random, for lookups.
func SampleSerials(ctx context.Context, dsn string, n int) ([][]byte, error) {
	sk, err := openSink(ctx, dsnOf(dsn))
	if err != nil {
		return nil, err
	}
	defer sk.close()
	return sk.serials(ctx, n)
}

// dsnOf is dsn with a bare path taken as SQLite's.
func dsnOf(dsn string) string {
	if !strings.Contains(dsn, ":") {
		return "sqlite:" + dsn
	}
	return dsn
}
