package main

import (
	"bytes"
	"context"
	"crypto"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/sha256"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/json"
	"fmt"
	"io"
	"math"
	"net/http"
	"net/http/httptest"
	"os"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/jackc/pgx/v5"
	"golang.org/x/crypto/ocsp"

	"github.com/kyso-pki/kyso/cmd/internal/bench"
	"github.com/kyso-pki/kyso/cmd/internal/bench/cscbench"
	"github.com/kyso-pki/kyso/cmd/internal/bench/gen"
	"github.com/kyso-pki/kyso/pkg/ca"
	"github.com/kyso-pki/kyso/pkg/server"
	"github.com/kyso-pki/kyso/pkg/signing"
	"github.com/kyso-pki/kyso/pkg/store"
)

// Rows of `kyso bench scale`, each a path kysod serves.
const (
	ScaleEnrol     = "enrol"     // signing.Service.Enrol: key, certificate, PIN, TOTP
	ScaleIssue     = "issue"     // ca.Authority.IssueCitizen from a CSR
	ScaleOCSP      = "ocsp"      // an OCSP request for a generated serial, over HTTP to pkg/server's responder
	ScaleAuthorize = "authorize" // signing.Service.Authorize with PIN and TOTP
	ScaleSignHash  = "signhash"  // signing.Service.SignHash, one hash
)

// scaleRow is one path measured at one size.
type scaleRow struct {
	Op   string `json:"op"`
	Size int    `json:"size"`
	N    int    `json:"n"`
	// P50 and P99 are seconds; PerSecond is N over the time they took
	// one after another (one client).
	P50       float64 `json:"p50_s"`
	P99       float64 `json:"p99_s"`
	PerSecond float64 `json:"per_second"`
	Err       string  `json:"error,omitempty"`
}

// scaleTable is a table's bytes (heap and indexes) and rows at a size.
type scaleTable struct {
	Name    string `json:"name"`
	Rows    int64  `json:"rows"`
	Table   int64  `json:"table_bytes"`
	Indexes int64  `json:"index_bytes"`
}

// scaleSize is what one size measured.
type scaleSize struct {
	Enrolments int          `json:"enrolments"`
	Generated  *genSummary  `json:"generated"`
	Tables     []scaleTable `json:"tables,omitempty"`
	FileBytes  int64        `json:"file_bytes,omitempty"`
	Rows       []scaleRow   `json:"rows"`
	// Kysod is kysod's start on this database.
	Kysod kysodStart `json:"kysod"`
}

// kysodStart is how long kysod took from its start to serving on the
// database, and its resident memory then and --settle later.
type kysodStart struct {
	Seconds    float64 `json:"start_s"`
	RSS        int64   `json:"rss_bytes"`
	RSSSettled int64   `json:"rss_5s_bytes"`
	Err        string  `json:"error,omitempty"`
}

// scaleBench is what `kyso bench scale` prints.
type scaleBench struct {
	Database string      `json:"database"`
	CPUs     int         `json:"cpus"`
	Ops      int         `json:"ops"`
	Sizes    []scaleSize `json:"sizes"`
}

// benchScale is `kyso bench scale` (issue 19): it grows the data
// directory's database with a generated campaign (gen) to each size in
// turn and, at each, measures enrolment, issuance, OCSP, authorize and
// signHash (latency p50 and p99, throughput with one client) and the
// tables' and indexes' sizes; then projects 10⁷ from the slope between
// the last two sizes.
func benchScale(ctx context.Context, e *env, args []string) error {
	fs := newFlags(e, "bench scale", "bench scale [--data DIR] [--db DSN] [--sizes 1000,100000,1000000] [--ops 50] [--output json]")
	d := addDataFlags(fs)
	sizesFlag := fs.String("sizes", "1000,100000,1000000", "the enrolments to grow the database to, rising, comma-separated. WARNING: a fresh, throwaway database: the generator needs it to itself")
	ops := fs.Int("ops", 50, "requests measured per path and size (each enrolment makes a key and a certificate)")
	seed := fs.Uint64("seed", 1, "the generator's seed")
	kysodBin := fs.String("kysod", "", "the kysod binary whose start-up and memory are measured at each size; default: kysod beside this kyso, else in PATH")
	settle := fs.Duration("settle", 5*time.Second, "how long after kysod serves its memory is read again")
	after := fs.String("after", "", "a JSON result (--output json) of an earlier run on another database, whose sizes come first in the table and the projection")
	out := outputFlag(fs)
	if err := parse(fs, args); err != nil {
		return err
	}
	if err := checkOutput(*out); err != nil {
		return err
	}
	var sizes []int
	for _, f := range strings.Split(*sizesFlag, ",") {
		n, err := strconv.Atoi(strings.TrimSpace(f))
		if err != nil || n < 1 || n > gen.MaxEnrolments || (len(sizes) > 0 && n <= sizes[len(sizes)-1]) {
			return usagef("--sizes %q: want rising numbers of enrolments, 1 to %d", *sizesFlag, gen.MaxEnrolments)
		}
		sizes = append(sizes, n)
	}
	if *ops < 1 || *ops > gen.SampleSize {
		return usagef("--ops must be 1 to %d", gen.SampleSize)
	}
	dir, o, svc, err := d.openSigning(ctx)
	if err != nil {
		return err
	}
	defer o.Close()
	h, err := o.CA.Hierarchy(ctx)
	if err != nil {
		return err
	}
	pki, err := server.NewPKI(ctx, o.CA, o.Store, nil)
	if err != nil {
		return err
	}
	srv := httptest.NewServer(pki)
	defer srv.Close()
	client, err := svc.CreateClient(ctx, "kyso bench scale", "", actor())
	if err != nil {
		return err
	}
	res := &scaleBench{Database: dbKind(dir.Config.DB), CPUs: runtime.NumCPU(), Ops: *ops}
	if *after != "" {
		b, err := readBoundedFile(*after, 1<<20)
		if err != nil {
			return usagef("--after: %v", err)
		}
		var earlier scaleBench
		if err := json.Unmarshal(b, &earlier); err != nil || earlier.Database != res.Database || earlier.Ops != *ops {
			return usagef("--after %s: want an earlier run's JSON on the same kind of database with the same --ops", *after)
		}
		res.Sizes = earlier.Sizes
	}
	prev, err := gen.Count(ctx, dir.Config.DB)
	if err != nil {
		return err
	}
	fmt.Fprintf(e.stderr, "kyso bench scale: %s, sizes %v, %d requests per path, %d CPU\n", res.Database, sizes, *ops, res.CPUs)
	m := &scaleMeter{svc: svc, a: o.CA, issuer: h.Issuing, ocspURL: srv.URL + "/ocsp", client: client.ID, ops: *ops}
	if m.next, err = gen.BenchNumber(ctx, dir.Config.DB); err != nil {
		return err
	}
	for i, size := range sizes {
		sz := scaleSize{Enrolments: size}
		switch {
		case size <= prev && i+1 < len(sizes) && sizes[i+1] <= prev:
			fmt.Fprintf(e.stderr, "  the database holds %d enrolments already: skipping size %d\n", prev, size)
			continue
		case size <= prev:
			// The largest size the database holds already: measured as it
			// stands (with the bench's own enrolments of earlier runs).
			sz.Enrolments = prev
			if m.sample, err = gen.SampleSerials(ctx, dir.Config.DB, gen.SampleSize); err != nil {
				return err
			}
		default:
			if sz.Generated, err = generate(ctx, e, dir, o, size-prev, 18, *seed+uint64(size)); err != nil {
				return err
			}
			prev = size
			m.sample = sz.Generated.sample
		}
		for _, op := range []string{ScaleEnrol, ScaleIssue, ScaleOCSP, ScaleAuthorize, ScaleSignHash} {
			r := m.measure(ctx, op)
			r.Size = size
			sz.Rows = append(sz.Rows, r)
			if r.Err != "" {
				fmt.Fprintf(e.stderr, "  %-9s at %d: failed: %.200s\n", op, size, r.Err)
				continue
			}
			fmt.Fprintf(e.stderr, "  %-9s at %d: p50 %s p99 %s, %.0f/s\n", op, size, bench.Seconds(r.P50), bench.Seconds(r.P99), r.PerSecond)
		}
		sz.Kysod = startKysod(ctx, findKysod(*kysodBin), dir.Path, dir.Config.DB, *settle)
		if sz.Kysod.Err != "" {
			fmt.Fprintf(e.stderr, "  kysod at %d: %.200s\n", sz.Enrolments, sz.Kysod.Err)
		} else {
			fmt.Fprintf(e.stderr, "  kysod at %d: serving after %s, %s resident (%s settled)\n", sz.Enrolments, bench.Seconds(sz.Kysod.Seconds),
				bench.Bytes(sz.Kysod.RSS), bench.Bytes(sz.Kysod.RSSSettled))
		}
		if sz.Tables, sz.FileBytes, err = tableSizes(ctx, dir.Config.DB); err != nil {
			fmt.Fprintf(e.stderr, "  table sizes: %v\n", err)
		}
		res.Sizes = append(res.Sizes, sz)
	}
	if *out == "json" {
		return writeJSON(e.stdout, res)
	}
	return res.print(e.stdout)
}

// scaleMeter measures the paths.
type scaleMeter struct {
	svc     *signing.Service
	a       *ca.Authority
	issuer  *x509.Certificate
	ocspURL string
	client  string
	ops     int
	sample  [][]byte
	// next numbers the bench's own citizens (gen.BenchPrefix), after the
	// highest an earlier run used.
	next int
	// enrolled are the last enrolment step's credentials, for authorize.
	enrolled []*signing.Enrolment
	sads     []string
}

const benchPIN = "246813"

func (m *scaleMeter) measure(ctx context.Context, op string) scaleRow {
	var ds []time.Duration
	run := func(fn func(i int) error) error {
		for i := range m.ops {
			start := time.Now()
			if err := fn(i); err != nil {
				return err
			}
			ds = append(ds, time.Since(start))
		}
		return nil
	}
	var err error
	warm := func(fn func(i int) error) error {
		// One request first, not counted: the first of a path pays for
		// loading what later ones find ready (the lint registry, keys).
		if err := fn(0); err != nil {
			return err
		}
		return run(fn)
	}
	switch op {
	case ScaleEnrol:
		m.enrolled, m.sads = m.enrolled[:0], nil
		err = warm(func(int) error {
			m.next++
			en, err := m.svc.Enrol(ctx, &signing.EnrolRequest{CCCD: fmt.Sprintf("%s%06d", gen.BenchPrefix, m.next), Name: "Trần Thị Đo", Province: "Cà Mau",
				PIN: benchPIN, Actor: "bench:scale", Channel: store.ChannelDesk, StaffID: "staff-bench", Ward: "Phường 1 CM", EvidenceKind: signing.EvidenceCCCDChip})
			if err == nil {
				m.enrolled = append(m.enrolled, en)
			}
			return err
		})
	case ScaleIssue:
		err = warm(func(int) error {
			m.next++
			key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
			if err != nil {
				return err
			}
			csr, err := x509.CreateCertificateRequest(rand.Reader, &x509.CertificateRequest{Subject: pkix.Name{CommonName: "Lê Văn Đo"}}, key)
			if err != nil {
				return err
			}
			_, err = m.a.IssueCitizen(ctx, &ca.CitizenRequest{Name: "Lê Văn Đo", CCCD: fmt.Sprintf("%s%06d", gen.BenchPrefix, m.next), Province: "Cà Mau",
				Key: ca.KeySource{CSR: csr}, Actor: "bench:scale"})
			return err
		})
	case ScaleOCSP:
		reqs := make([][]byte, 0, m.ops)
		for i := range min(m.ops, len(m.sample)) {
			rec, err := m.a.Certificate(ctx, m.sample[i])
			if err != nil {
				return scaleRow{Op: op, Err: err.Error()}
			}
			cert, err := x509.ParseCertificate(rec.DER)
			if err != nil {
				return scaleRow{Op: op, Err: err.Error()}
			}
			req, err := ocsp.CreateRequest(cert, m.issuer, nil)
			if err != nil {
				return scaleRow{Op: op, Err: err.Error()}
			}
			reqs = append(reqs, req)
		}
		if len(reqs) == 0 {
			return scaleRow{Op: op, Err: "no citizen's certificate to ask about"}
		}
		err = run(func(i int) error {
			resp, err := http.Post(m.ocspURL, "application/ocsp-request", bytes.NewReader(reqs[i%len(reqs)]))
			if err != nil {
				return err
			}
			body, err := io.ReadAll(resp.Body)
			resp.Body.Close()
			if err == nil && resp.StatusCode != http.StatusOK {
				err = fmt.Errorf("OCSP: %s", resp.Status)
			}
			if err == nil {
				_, err = ocsp.ParseResponse(body, m.issuer)
			}
			return err
		})
	case ScaleAuthorize:
		m.sads = nil
		if len(m.enrolled) == 0 {
			return scaleRow{Op: op, Err: "no enrolment to authorize"}
		}
		err = run(func(i int) error {
			en := m.enrolled[i%len(m.enrolled)]
			code, err := signing.TOTPCode(en.TOTPURI, time.Now())
			if err != nil {
				return err
			}
			sad, _, err := m.svc.Authorize(ctx, &signing.AuthorizeRequest{ClientID: m.client, CredentialID: en.CredentialID, NumSignatures: 1,
				Hashes: [][]byte{digest(i)}, HashAlgorithm: crypto.SHA256, PIN: benchPIN, OTP: code, Actor: "client:" + m.client})
			m.sads = append(m.sads, sad)
			return err
		})
	case ScaleSignHash:
		if len(m.sads) < m.ops {
			return scaleRow{Op: op, Err: "no authorisation to sign with"}
		}
		err = run(func(i int) error {
			_, err := m.svc.SignHash(ctx, &signing.SignHashRequest{ClientID: m.client, CredentialID: m.enrolled[i%len(m.enrolled)].CredentialID,
				SAD: m.sads[i], Hashes: [][]byte{digest(i)}, HashAlgorithm: crypto.SHA256, Actor: "client:" + m.client})
			return err
		})
	}
	if err != nil {
		return scaleRow{Op: op, Err: err.Error()}
	}
	return stats(op, ds)
}

// startKysod starts kysod on the data directory and its database, times
// it to serving, reads its resident memory then and settle later (Linux:
// /proc), and stops it.
func startKysod(ctx context.Context, bin, data, db string, settle time.Duration) kysodStart {
	if bin == "" {
		return kysodStart{Err: "no kysod binary (--kysod PATH)"}
	}
	start := time.Now()
	k, err := cscbench.StartKysod(ctx, bin, data, "KYSO_DB="+db)
	if err != nil {
		return kysodStart{Err: err.Error()}
	}
	defer k.Close()
	r := kysodStart{Seconds: time.Since(start).Seconds(), RSS: rss(k.PID())}
	time.Sleep(settle)
	r.RSSSettled = rss(k.PID())
	return r
}

// rss is a process's resident memory (VmRSS), or 0 where /proc does not
// say.
func rss(pid int) int64 {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		return 0
	}
	for _, l := range strings.Split(string(b), "\n") {
		if v, ok := strings.CutPrefix(l, "VmRSS:"); ok {
			n, _ := strconv.ParseInt(strings.TrimSpace(strings.TrimSuffix(strings.TrimSpace(v), "kB")), 10, 64)
			return n << 10
		}
	}
	return 0
}

// digest is the i-th hash a relying party asks to sign.
func digest(i int) []byte {
	h := sha256.Sum256([]byte(fmt.Sprintf("kyso bench scale %d", i)))
	return h[:]
}

// stats gives ds's median, 99th percentile and rate.
func stats(op string, ds []time.Duration) scaleRow {
	var total time.Duration
	for _, d := range ds {
		total += d
	}
	slices.Sort(ds)
	at := func(q float64) float64 { return ds[min(len(ds)-1, int(math.Ceil(q*float64(len(ds))))-1)].Seconds() }
	return scaleRow{Op: op, N: len(ds), P50: at(0.5), P99: at(0.99), PerSecond: float64(len(ds)) / total.Seconds()}
}

// tableSizes reads each table's bytes and rows on PostgreSQL; on SQLite
// the file's size.
func tableSizes(ctx context.Context, dsn string) ([]scaleTable, int64, error) {
	if dbKind(dsn) == "sqlite" {
		fi, err := os.Stat(strings.TrimPrefix(dsn, "sqlite:"))
		if err != nil {
			return nil, 0, err
		}
		return nil, fi.Size(), nil
	}
	c, err := pgx.Connect(ctx, dsn)
	if err != nil {
		return nil, 0, err
	}
	defer c.Close(ctx)
	rows, err := c.Query(ctx, `SELECT c.relname, GREATEST(c.reltuples, 0)::bigint, pg_table_size(c.oid), pg_indexes_size(c.oid)
		FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
		WHERE n.nspname = current_schema() AND c.relkind = 'r' ORDER BY pg_total_relation_size(c.oid) DESC LIMIT 12`)
	if err != nil {
		return nil, 0, err
	}
	ts, err := pgx.CollectRows(rows, func(r pgx.CollectableRow) (scaleTable, error) {
		var t scaleTable
		return t, r.Scan(&t.Name, &t.Rows, &t.Table, &t.Indexes)
	})
	return ts, 0, err
}

// project extends the slope between (x1, y1) and (x2, y2), over log10 of
// the sizes, to 10⁷.
func project(x1, x2 int, y1, y2 float64) float64 {
	l1, l2 := math.Log10(float64(x1)), math.Log10(float64(x2))
	return y2 + (y2-y1)*(7-l2)/(l2-l1)
}

func (b *scaleBench) print(w io.Writer) error {
	fmt.Fprintf(w, "kyso at scale on %s: %d requests per path and size, one client, %d CPU\n", b.Database, b.Ops, b.CPUs)
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', tabwriter.AlignRight)
	fmt.Fprintf(tw, "PATH\tENROLMENTS\tP50\tP99\tPER SECOND\t\n")
	n := len(b.Sizes)
	for i, op := range []string{ScaleEnrol, ScaleIssue, ScaleOCSP, ScaleAuthorize, ScaleSignHash} {
		for _, s := range b.Sizes {
			r := s.Rows[i]
			if r.Err != "" {
				fmt.Fprintf(tw, "%s\t%d\tfailed: %.60s\t\t\t\n", op, s.Enrolments, r.Err)
				continue
			}
			fmt.Fprintf(tw, "%s\t%d\t%s\t%s\t%.0f\t\n", op, s.Enrolments, bench.Seconds(r.P50), bench.Seconds(r.P99), r.PerSecond)
		}
		if n >= 2 {
			a, z := b.Sizes[n-2], b.Sizes[n-1]
			ra, rz := a.Rows[i], z.Rows[i]
			if ra.Err == "" && rz.Err == "" {
				// A slope down is noise, not speed gained with size: the
				// projection is then the last size's.
				fmt.Fprintf(tw, "%s\t10⁷ (projected)\t%s\t%s\t-\t\n", op, bench.Seconds(max(rz.P50, project(a.Enrolments, z.Enrolments, ra.P50, rz.P50))),
					bench.Seconds(max(rz.P99, project(a.Enrolments, z.Enrolments, ra.P99, rz.P99))))
			}
		}
	}
	if err := tw.Flush(); err != nil {
		return err
	}
	if n == 0 {
		return nil
	}
	fmt.Fprintf(w, "\nkysod on the database\n")
	tw = tabwriter.NewWriter(w, 0, 0, 2, ' ', tabwriter.AlignRight)
	fmt.Fprintf(tw, "ENROLMENTS\tSERVING AFTER\tRSS\tRSS SETTLED\t\n")
	for _, s := range b.Sizes {
		if s.Kysod.Err != "" {
			fmt.Fprintf(tw, "%d\tfailed: %.60s\t\t\t\n", s.Enrolments, s.Kysod.Err)
			continue
		}
		fmt.Fprintf(tw, "%d\t%s\t%s\t%s\t\n", s.Enrolments, bench.Seconds(s.Kysod.Seconds), bench.Bytes(s.Kysod.RSS), bench.Bytes(s.Kysod.RSSSettled))
	}
	if err := tw.Flush(); err != nil {
		return err
	}
	last := b.Sizes[n-1]
	if last.FileBytes > 0 {
		fmt.Fprintf(w, "\nSQLite file at %d enrolments: %s (%s per 10⁶ enrolments)\n", last.Enrolments, bench.Bytes(last.FileBytes),
			bench.Bytes(last.FileBytes*1000000/int64(last.Enrolments)))
	}
	if len(last.Tables) == 0 {
		return nil
	}
	var before map[string]scaleTable
	if n >= 2 {
		before = map[string]scaleTable{}
		for _, t := range b.Sizes[n-2].Tables {
			before[t.Name] = t
		}
	}
	fmt.Fprintf(w, "\ntables at %d enrolments (PostgreSQL; per 10⁶ rows of each table, and 10⁷ enrolments projected from the growth since %d)\n",
		last.Enrolments, b.Sizes[max(0, n-2)].Enrolments)
	tw = tabwriter.NewWriter(w, 0, 0, 2, ' ', tabwriter.AlignRight)
	fmt.Fprintf(tw, "TABLE\tROWS\tTABLE\tINDEXES\tPER 10⁶ ROWS\tAT 10⁷ ENROLMENTS\t\n")
	for _, t := range last.Tables {
		per := "-"
		if t.Rows >= 1000 { // a few rows' pages say nothing of a million
			per = bench.Bytes((t.Table + t.Indexes) * 1000000 / t.Rows)
		}
		proj := "-"
		if p, ok := before[t.Name]; ok && n >= 2 && t.Rows > 0 {
			grow := float64(t.Table+t.Indexes-p.Table-p.Indexes) / float64(last.Enrolments-b.Sizes[n-2].Enrolments)
			proj = bench.Bytes(t.Table + t.Indexes + int64(max(0, grow)*float64(10000000-last.Enrolments)))
		}
		fmt.Fprintf(tw, "%s\t%d\t%s\t%s\t%s\t%s\t\n", t.Name, t.Rows, bench.Bytes(t.Table), bench.Bytes(t.Indexes), per, proj)
	}
	return tw.Flush()
}
