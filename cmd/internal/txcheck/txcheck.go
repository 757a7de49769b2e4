// Package txcheck judges what no crash and no number of replicas may
// change, from the database and from the relying party's side: every
// SmartCA transaction leaves `approved`, every final state reaches the
// portal under its idempotency key, every signature the portal received is
// audited and every signature the log claims was received. The crash
// harness (cmd/kysod) and `kyso bench replicas` judge with it.
package txcheck

import (
	"context"
	"database/sql"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"sync"
	"time"
)

// Delivery is a webhook the portal received.
type Delivery struct {
	// TranCode and Status are the notification's; Key its
	// Idempotency-Key header, or a note when the body's
	// data.idempotency_key differs from it.
	TranCode, Status, Key string
	// Signatures is how many signatures it carried.
	Signatures int
	// At is when it arrived.
	At time.Time
}

// Receiver is a portal's webhook endpoint: it keeps every delivery and
// answers 200 (400 to a body that is not JSON).
type Receiver struct {
	mu         sync.Mutex
	deliveries []Delivery
}

// ServeHTTP records one delivery.
func (h *Receiver) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	b, _ := io.ReadAll(io.LimitReader(r.Body, 64<<20))
	var n struct {
		Data struct {
			TranCode       string            `json:"tran_code"`
			Status         string            `json:"status"`
			IdempotencyKey string            `json:"idempotency_key"`
			Signatures     []json.RawMessage `json:"signatures"`
		} `json:"data"`
	}
	if err := json.Unmarshal(b, &n); err != nil {
		http.Error(w, "not JSON", http.StatusBadRequest)
		return
	}
	d := Delivery{TranCode: n.Data.TranCode, Status: n.Data.Status, Key: r.Header.Get("Idempotency-Key"), Signatures: len(n.Data.Signatures), At: time.Now()}
	if n.Data.IdempotencyKey != d.Key {
		d.Key = "body and header differ: " + n.Data.IdempotencyKey + " " + d.Key
	}
	h.mu.Lock()
	h.deliveries = append(h.deliveries, d)
	h.mu.Unlock()
}

// Deliveries returns a copy of what has been received so far.
func (h *Receiver) Deliveries() []Delivery {
	h.mu.Lock()
	defer h.mu.Unlock()
	return append([]Delivery(nil), h.deliveries...)
}

// Counts are what a judgement found: violations first, then what
// happened.
type Counts struct {
	// Stuck: transactions still `approved`. Lost: final states whose
	// webhook with that state never reached the portal. Keys: deliveries
	// whose Idempotency-Key (header or data.idempotency_key) is not
	// "<tran_code>:<status>". Unaudited: signed transactions with fewer
	// signature.create events (intent or ok) than the signatures the
	// portal received, or signatures without an intent. FalseClaims:
	// signature.create ok events of a transaction that is not signed.
	// Doubles: a SAD or a transaction that gave signatures twice.
	// Integrity: what SQLite's integrity_check and foreign_key_check
	// find.
	Stuck, Lost, Keys, Unaudited, FalseClaims, Doubles, Integrity int
	// Signed, Failed and Pending count transactions by state (or CSC
	// authorisations answered with signatures, and spent without);
	// Duplicates are deliveries of a key after its first (at least once
	// allows them; the portal acts once per key).
	Signed, Failed, Pending, Duplicates int
}

// Add adds o to c.
func (c *Counts) Add(o Counts) {
	c.Stuck += o.Stuck
	c.Lost += o.Lost
	c.Keys += o.Keys
	c.Unaudited += o.Unaudited
	c.FalseClaims += o.FalseClaims
	c.Doubles += o.Doubles
	c.Integrity += o.Integrity
	c.Signed += o.Signed
	c.Failed += o.Failed
	c.Pending += o.Pending
	c.Duplicates += o.Duplicates
}

// Violations is the number of violations counted.
func (c Counts) Violations() int {
	return c.Stuck + c.Lost + c.Keys + c.Unaudited + c.FalseClaims + c.Doubles + c.Integrity
}

// String is the violations, then "|", then what was seen, as the crash
// harness's table prints them.
func (c Counts) String() string {
	return fmt.Sprintf("%d %d %d %d %d %d %d | %d %d %d %d", c.Stuck, c.Lost, c.Keys, c.Unaudited, c.FalseClaims, c.Doubles, c.Integrity,
		c.Signed, c.Failed, c.Pending, c.Duplicates)
}

// Transactions judges the transactions whose client_ref (the portal's
// transaction ID) starts with prefix, against the deliveries the portal
// received, and returns the counts and how many such transactions the
// database holds. It counts no integrity (Integrity does).
func Transactions(ctx context.Context, db *sql.DB, prefix string, deliveries []Delivery) (Counts, int, error) {
	var c Counts
	if !plain(prefix) {
		return c, 0, fmt.Errorf("txcheck: prefix %q: only letters, digits, '-' and '.'", prefix)
	}
	status := map[string]string{} // kyso's ID → status
	rows, err := db.QueryContext(ctx, `SELECT id, status FROM transactions WHERE client_ref LIKE '`+prefix+`%'`)
	if err != nil {
		return c, 0, fmt.Errorf("txcheck: reading transactions: %w", err)
	}
	for rows.Next() {
		var id, st string
		if err := rows.Scan(&id, &st); err != nil {
			rows.Close()
			return c, 0, err
		}
		status[id] = st
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return c, 0, err
	}
	delivered := map[string]map[string]int{} // ID → status → deliveries
	signatures := map[string]int{}
	for _, d := range deliveries {
		if _, ok := status[d.TranCode]; !ok {
			continue
		}
		if delivered[d.TranCode] == nil {
			delivered[d.TranCode] = map[string]int{}
		}
		delivered[d.TranCode][d.Status]++
		if d.Key != d.TranCode+":"+d.Status {
			c.Keys++
		}
		if d.Status == "signed" {
			signatures[d.TranCode] = d.Signatures
		}
	}
	// signature.create events by transaction and outcome.
	events := map[string]map[string]int{}
	rows, err = db.QueryContext(ctx, `SELECT outcome, details FROM audit_events WHERE action = 'signature.create'`)
	if err != nil {
		return c, 0, fmt.Errorf("txcheck: reading the audit log: %w", err)
	}
	for rows.Next() {
		var outcome string
		var details []byte
		if err := rows.Scan(&outcome, &details); err != nil {
			rows.Close()
			return c, 0, err
		}
		var d struct {
			Transaction string `json:"transaction"`
		}
		json.Unmarshal(details, &d)
		if _, ok := status[d.Transaction]; !ok {
			continue
		}
		if events[d.Transaction] == nil {
			events[d.Transaction] = map[string]int{}
		}
		events[d.Transaction][outcome]++
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return c, 0, err
	}
	for id, st := range status {
		switch st {
		case "approved":
			c.Stuck++
		case "pending":
			c.Pending++
		case "signed":
			c.Signed++
		case "failed":
			c.Failed++
		}
		final := st == "signed" || st == "failed" || st == "rejected" || st == "expired"
		if final && delivered[id][st] == 0 {
			c.Lost++
		}
		if n := delivered[id][st]; n > 1 {
			c.Duplicates += n - 1
		}
		if st == "signed" && max(events[id]["intent"], events[id]["ok"]) < signatures[id] {
			c.Unaudited++
		}
		if st != "signed" && events[id]["ok"] > 0 {
			c.FalseClaims++
		}
	}
	return c, len(status), nil
}

// plain reports whether a prefix is only letters, digits, '-' and '.': it
// is written into the statement (the two drivers' placeholders differ),
// so it can neither change the statement nor match as a LIKE pattern.
func plain(p string) bool {
	for _, r := range p {
		if !(r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || r == '-' || r == '.') {
			return false
		}
	}
	return true
}

// Intents returns the digests (base64, as the audit details hold them)
// named by signature.create intent events.
func Intents(ctx context.Context, db *sql.DB) (map[string]bool, error) {
	intents := map[string]bool{}
	rows, err := db.QueryContext(ctx, `SELECT details FROM audit_events WHERE action = 'signature.create' AND outcome = 'intent'`)
	if err != nil {
		return nil, fmt.Errorf("txcheck: reading the audit log: %w", err)
	}
	defer rows.Close()
	for rows.Next() {
		var details []byte
		if err := rows.Scan(&details); err != nil {
			return nil, err
		}
		var dt struct {
			Digest string `json:"digest"`
		}
		json.Unmarshal(details, &dt)
		intents[dt.Digest] = true
	}
	return intents, rows.Err()
}

// Integrity counts what SQLite's integrity_check and foreign_key_check
// find wrong in db, and the first finding; PostgreSQL has no such check
// to run on a live database, so it is 0 for any other driver.
func Integrity(ctx context.Context, db *sql.DB, driver string) (int, string, error) {
	if driver != "sqlite" {
		return 0, "", nil
	}
	n, first := 0, ""
	var ok string
	if err := db.QueryRowContext(ctx, `PRAGMA integrity_check`).Scan(&ok); err != nil || ok != "ok" {
		n++
		first = fmt.Sprintf("integrity_check: %q %v", ok, err)
	}
	rows, err := db.QueryContext(ctx, `PRAGMA foreign_key_check`)
	if err != nil {
		return n, first, err
	}
	if rows.Next() {
		n++
		if first == "" {
			first = "foreign_key_check: a row fails"
		}
	}
	rows.Close()
	return n, first, nil
}
