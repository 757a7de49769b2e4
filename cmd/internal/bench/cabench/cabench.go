// Package cabench measures kyso's certificate authority: citizen
// certificates issued per second through ca.Authority (from a CSR, and with
// the key made in the key store) on each database, and OCSP responses per
// second from kyso's responder next to `openssl ocsp` acting as a responder
// over the same certificates, loaded with the same requests in the same run.
// It backs `kyso bench ca`; it asserts nothing about speed, it reports.
package cabench

import (
	"fmt"
	"io"
	"text/tabwriter"

	"github.com/kyso-pki/kyso/cmd/internal/bench"
)

// Kinds of Result.
const (
	// KindIssue rows count certificates issued.
	KindIssue = "issue"
	// KindOCSP rows count OCSP responses received.
	KindOCSP = "ocsp"
)

// Names of Result rows.
const (
	// IssueCSR: the subscriber's public key comes in a PKCS#10 CSR
	// (generated before timing starts).
	IssueCSR = "csr"
	// IssueKeyMade: kyso makes the subscriber's P-256 key in the key store
	// (a token object on SoftHSM) for each certificate.
	IssueKeyMade = "softhsm-key"
	// OCSPKyso: kyso's responder, requests without a nonce, answered from
	// its cache of pre-signed responses.
	OCSPKyso = "kyso"
	// OCSPKysoNonce: kyso's responder, every request with a nonce, so every
	// response is signed afresh — the row to compare with openssl.
	OCSPKysoNonce = "kyso-nonce"
	// OCSPOpenSSL: `openssl ocsp -index … -port …`, one process, which
	// signs every response.
	OCSPOpenSSL = "openssl"
	// OCSPOpenSSLMulti: the same with -multi, one process per CPU.
	OCSPOpenSSLMulti = "openssl-multi"
)

// Result is one measured row.
type Result struct {
	// Kind is KindIssue or KindOCSP.
	Kind string `json:"kind"`
	// Name is the key path of an issue row (IssueCSR, IssueKeyMade) or the
	// responder of an OCSP row (OCSPKyso, OCSPKysoNonce, OCSPOpenSSL,
	// OCSPOpenSSLMulti).
	Name string `json:"name"`
	// Database is where the certificates are recorded: "sqlite",
	// "postgres", …; for OCSP rows, the database behind kyso's responder.
	Database string `json:"database"`
	// Goroutines is how many issued at once, or how many clients sent
	// requests at once.
	Goroutines int `json:"goroutines"`
	// Count is the certificates issued or the OCSP responses received.
	Count int64 `json:"count"`
	// Errors counts failed OCSP requests (an issue row stops at its first
	// error, which is in Err).
	Errors int64 `json:"errors,omitempty"`
	// Seconds is the wall time measured.
	Seconds float64 `json:"seconds"`
	// PerSecond is Count / Seconds.
	PerSecond float64 `json:"per_second"`
	// Ratios holds PerSecond over the PerSecond of other rows, keyed by
	// what it is compared with: "csr" (the CSR row on the same database),
	// "sqlite" (the same path on SQLite), "openssl", "openssl-multi". Set by
	// Ratios; a baseline that failed gives no ratio.
	Ratios map[string]float64 `json:"ratios,omitempty"`
	// Note says what the row measures when the name does not.
	Note string `json:"note,omitempty"`
	// Err is set when the row could not be measured.
	Err string `json:"error,omitempty"`
}

// Unit is what PerSecond counts: "certs/s" or "responses/s".
func (r *Result) Unit() string {
	if r.Kind == KindOCSP {
		return "responses/s"
	}
	return "certs/s"
}

// finish sets Seconds and PerSecond.
func (r *Result) finish(count int64, seconds float64) {
	r.Count, r.Seconds = count, seconds
	if seconds > 0 {
		r.PerSecond = float64(count) / seconds
	}
}

// ok reports whether r measured something.
func (r *Result) ok() bool { return r.Err == "" && r.PerSecond > 0 }

// Ratios fills the Ratios of rs: an IssueKeyMade row over the IssueCSR row
// of the same database, an issue row on another database over the same
// path on "sqlite", kyso's OCSP rows over each openssl row, and the
// openssl -multi row over the single openssl process.
func Ratios(rs []Result) {
	type key struct{ kind, name, db string }
	base := map[key]float64{}
	for _, r := range rs {
		if r.ok() {
			k := key{r.Kind, r.Name, r.Database}
			if r.Kind == KindOCSP {
				k.db = ""
			}
			base[k] = r.PerSecond
		}
	}
	set := func(r *Result, to string, b float64) {
		if b <= 0 || !r.ok() {
			return
		}
		if r.Ratios == nil {
			r.Ratios = map[string]float64{}
		}
		r.Ratios[to] = r.PerSecond / b
	}
	for i := range rs {
		r := &rs[i]
		switch r.Kind {
		case KindIssue:
			if r.Name == IssueKeyMade {
				set(r, IssueCSR, base[key{KindIssue, IssueCSR, r.Database}])
			}
			if r.Database != "sqlite" {
				set(r, "sqlite", base[key{KindIssue, r.Name, "sqlite"}])
			}
		case KindOCSP:
			switch r.Name {
			case OCSPKyso, OCSPKysoNonce:
				set(r, OCSPOpenSSL, base[key{KindOCSP, OCSPOpenSSL, ""}])
				set(r, OCSPOpenSSLMulti, base[key{KindOCSP, OCSPOpenSSLMulti, ""}])
			case OCSPOpenSSLMulti:
				set(r, OCSPOpenSSL, base[key{KindOCSP, OCSPOpenSSL, ""}])
			}
		}
	}
}

// Print writes rs as a table, then the rows' notes.
func Print(w io.Writer, rs []Result) error {
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "kind\tname\tdatabase\tgoroutines\tcount\tseconds\tper second\tratios")
	var notes, errs []string
	seen := map[string]bool{}
	for _, r := range rs {
		if r.Note != "" && !seen[r.Note] {
			seen[r.Note] = true
			notes = append(notes, r.Note)
		}
		if r.Err != "" {
			errs = append(errs, fmt.Sprintf("%s %s on %s: %s", r.Kind, r.Name, r.Database, r.Err))
			fmt.Fprintf(tw, "%s\t%s\t%s\t%d\t\t\tfailed (error %d below)\t-\n", r.Kind, r.Name, r.Database, r.Goroutines, len(errs))
			continue
		}
		count := fmt.Sprint(r.Count)
		if r.Errors > 0 {
			count += fmt.Sprintf(" (+%d errors)", r.Errors)
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%d\t%s\t%.2f\t%.0f %s\t%s\n", r.Kind, r.Name, r.Database, r.Goroutines, count, r.Seconds, r.PerSecond, r.Unit(), formatRatios(r.Ratios))
	}
	if err := tw.Flush(); err != nil {
		return err
	}
	bench.WriteTail(w, errs, notes)
	return nil
}

// formatRatios is the ratio format shared by every bench command.
var formatRatios = bench.Ratios
