package audit

import (
	"bytes"
	"context"
	"crypto"
	"crypto/x509"
	"fmt"
	"io"
	"sort"
	"time"

	"github.com/kyso-pki/kyso/pkg/store"
)

// Kind names what a break in the log is.
type Kind string

// The kinds of break Verify reports.
const (
	// Modified: an event's fields no longer hash to its stored hash (or its
	// link was changed).
	Modified Kind = "modified"
	// Deleted: events are missing (a gap in the IDs, or a link to an event
	// that is not there).
	Deleted Kind = "deleted"
	// Inserted: an event that the chain goes past (the next event links to
	// the one before it).
	Inserted Kind = "inserted"
	// Reordered: an event stands before the event it links to.
	Reordered Kind = "reordered"
	// Truncated: the log ends before the last event a checkpoint sealed.
	Truncated Kind = "truncated"
	// Rewritten: the events up to a checkpoint hash to something else than
	// it signed, though their stored links agree: rewritten together.
	Rewritten Kind = "rewritten"
	// BadCheckpoint: a checkpoint not signed by the audit key.
	BadCheckpoint Kind = "checkpoint"
)

// Break is one place where the log is not what was written.
type Break struct {
	// Kind says what happened.
	Kind Kind
	// ID is the event where it shows (the first missing ID for Deleted;
	// the checkpoint's seq for Truncated, Rewritten, BadCheckpoint).
	ID int64
	// LastID ends a range of events (Deleted, Inserted), else equals ID.
	LastID int64
	// Time is the event's time, or the nearest event's before it.
	Time time.Time
	// Detail says more, in words.
	Detail string
}

// String is the break as `kyso audit verify` prints it.
func (b Break) String() string {
	where := fmt.Sprintf("event %d", b.ID)
	if b.LastID != b.ID {
		where = fmt.Sprintf("events %d–%d", b.ID, b.LastID)
	}
	t := ""
	if !b.Time.IsZero() {
		t = " at " + b.Time.UTC().Format(time.RFC3339)
	}
	return fmt.Sprintf("%s: %s%s: %s", b.Kind, where, t, b.Detail)
}

// Report is what Verify found.
type Report struct {
	// Events is how many events the log holds; Legacy of them were written
	// before the chain (no stored hash) and are covered by checkpoints
	// only.
	Events, Legacy int
	// FirstID and LastID are the first and last event's IDs.
	FirstID, LastID int64
	// Checkpoints is how many checkpoints were checked; SealedID the
	// highest event ID a valid checkpoint seals, at SealedAt.
	Checkpoints int
	SealedID    int64
	SealedAt    time.Time
	// Renumbered counts events found intact under another ID, following a
	// break (an insertion or deletion that shifted the IDs after it).
	Renumbered int
	// Breaks are the breaks, in the log's order; none means it verifies.
	Breaks []Break
}

// OK reports whether the log verified.
func (r *Report) OK() bool { return len(r.Breaks) == 0 }

// Unsealed is how many events come after the last checkpoint: they are
// chained, but a writer with the database alone could still rewrite them
// unseen until the next checkpoint signs them.
func (r *Report) Unsealed() int64 {
	if r.LastID <= r.SealedID {
		return 0
	}
	return r.LastID - r.SealedID
}

// Print writes the report as `kyso audit verify` shows it.
func (r *Report) Print(w io.Writer) {
	fmt.Fprintf(w, "events       %d (IDs %d–%d; %d written before the chain)\n", r.Events, r.FirstID, r.LastID, r.Legacy)
	sealed := "none"
	if !r.SealedAt.IsZero() {
		sealed = fmt.Sprintf("up to event %d, signed %s", r.SealedID, r.SealedAt.UTC().Format(time.RFC3339))
	}
	fmt.Fprintf(w, "checkpoints  %d (sealed %s; %d events after it)\n", r.Checkpoints, sealed, r.Unsealed())
	if r.OK() {
		fmt.Fprintln(w, "chain        ok")
		return
	}
	fmt.Fprintf(w, "chain        BROKEN: %d break(s)\n", len(r.Breaks))
	for _, b := range r.Breaks {
		fmt.Fprintf(w, "  %s\n", b)
	}
	if r.Renumbered > 0 {
		fmt.Fprintf(w, "  (%d events after a break are intact under shifted IDs)\n", r.Renumbered)
	}
}

// KeyFunc returns the trusted public key of the audit key labelled label:
// from the key store, or the copy an auditor was given; never the one a
// checkpoint row records.
type KeyFunc func(ctx context.Context, label string) (crypto.PublicKey, error)

// Verify reads the whole log and its checkpoints from st and checks them:
// each event's hash and link, the IDs without gaps, each checkpoint's
// signature by the key keys gives, and that the chain, recomputed from
// the events as stored, reaches each checkpoint's hash (each segment
// between two checkpoints checked from the earlier's signed hash, so a
// break in one does not hide another). It holds every event's hash in
// memory (about 100 bytes an event).
func Verify(ctx context.Context, st Store, keys KeyFunc) (*Report, error) {
	var evs []*store.AuditEvent
	for after := int64(0); ; {
		page, err := st.ListAudit(ctx, after, 10000)
		if err != nil {
			return nil, fmt.Errorf("audit: verify: %w", err)
		}
		if len(page) == 0 {
			break
		}
		evs = append(evs, page...)
		after = page[len(page)-1].ID
	}
	var cps []*store.AuditCheckpoint
	for after := int64(0); ; {
		page, err := st.ListAuditCheckpoints(ctx, after, 10000)
		if err != nil {
			return nil, fmt.Errorf("audit: verify: %w", err)
		}
		if len(page) == 0 {
			break
		}
		cps = append(cps, page...)
		after = page[len(page)-1].ID
	}
	r := &Report{Events: len(evs)}
	if len(evs) > 0 {
		r.FirstID, r.LastID = evs[0].ID, evs[len(evs)-1].ID
	}
	w := &walk{evs: evs, r: r, byHash: map[string]int{}}
	w.links()
	w.seals(ctx, cps, keys)
	sort.SliceStable(r.Breaks, func(i, j int) bool { return r.Breaks[i].ID < r.Breaks[j].ID })
	return r, nil
}

// walk is one verification's state.
type walk struct {
	evs     []*store.AuditEvent
	r       *Report
	byHash  map[string]int // stored hash → index in evs
	shifted []int64        // IDs of events intact under a shifted ID
}

// add records a break.
func (w *walk) add(k Kind, id, last int64, t time.Time, format string, a ...any) {
	w.r.Breaks = append(w.r.Breaks, Break{Kind: k, ID: id, LastID: last, Time: t, Detail: fmt.Sprintf(format, a...)})
}

// intact reports whether e hashes to its stored hash under its own ID,
// or, when shift is set, under the ID before or after (an intact event
// renumbered by an insertion or deletion); it returns the ID that fits.
func intact(e *store.AuditEvent, prev []byte, shift bool) (int64, bool) {
	if len(e.Hash) == 0 {
		return 0, false
	}
	ds := []int64{0}
	if shift {
		ds = append(ds, -1, 1)
	}
	for _, d := range ds {
		c := *e
		c.ID += d
		if bytes.Equal(store.AuditHash(&c, prev), e.Hash) {
			return c.ID, true
		}
	}
	return 0, false
}

// shift records an event found intact under a shifted ID.
func (w *walk) shift(id int64) {
	w.r.Renumbered++
	w.shifted = append(w.shifted, id)
}

// links checks each event against its stored hash and the event before
// it, and reports where the stored chain breaks.
func (w *walk) links() {
	evs := w.evs
	for i, e := range evs {
		if len(e.Hash) > 0 {
			w.byHash[string(e.Hash)] = i
		}
	}
	var link []byte // the hash the next event must link to
	var expect int64 = 1
	i := 0
	for ; i < len(evs) && len(evs[i].Hash) == 0 && len(evs[i].PrevHash) == 0; i++ {
		link = store.AuditHash(evs[i], link)
		expect = evs[i].ID + 1
		w.r.Legacy++
	}
	if i > 0 && i < len(evs) && !bytes.Equal(evs[i].PrevHash, link) {
		w.add(Modified, evs[0].ID, evs[i-1].ID, evs[0].Time, "the events written before the chain no longer hash to the head event %d links to", evs[i].ID)
		link = evs[i].PrevHash
	}
	moved := map[int]bool{}
	for ; i < len(evs); i++ {
		e := evs[i]
		before := time.Time{}
		if i > 0 {
			before = evs[i-1].Time
		}
		if moved[i] {
			expect = e.ID + 1
			continue
		}
		if _, ok := intact(e, e.PrevHash, false); ok && bytes.Equal(e.PrevHash, link) && e.ID == expect {
			link, expect = e.Hash, e.ID+1
			continue
		}
		j, known := w.byHash[string(e.PrevHash)]
		switch {
		case len(e.PrevHash) > 0 && known && j > i:
			w.add(Reordered, e.ID, e.ID, e.Time, "it links to event %d, which stands after it", evs[j].ID)
			if j == i+1 {
				moved[j] = true
			}
		case e.ID > expect:
			w.add(Deleted, expect, e.ID-1, before, "missing between event %d and event %d", expect-1, e.ID)
			expect = e.ID
			i-- // judge e again after the gap
			if len(e.PrevHash) > 0 {
				link = e.PrevHash
			}
			continue
		case bytes.Equal(e.PrevHash, link) && len(e.Hash) > 0:
			if _, ok := intact(e, e.PrevHash, true); ok {
				w.shift(e.ID) // intact under a shifted ID, after a break already reported
				break
			}
			if i+1 < len(evs) && bytes.Equal(evs[i+1].PrevHash, link) {
				w.add(Inserted, e.ID, e.ID, e.Time, "the next event links past it, to the event before it")
				expect = e.ID + 1
				continue
			}
			w.add(Modified, e.ID, e.ID, e.Time, "its fields do not hash to its stored hash")
		case len(e.Hash) == 0 || bytes.Equal(store.AuditHash(e, link), e.Hash):
			if i+1 < len(evs) && bytes.Equal(evs[i+1].PrevHash, link) {
				w.add(Inserted, e.ID, e.ID, e.Time, "it has no chain hash, and the next event links past it")
				expect = e.ID + 1
				continue
			}
			w.add(Modified, e.ID, e.ID, e.Time, "its chain fields were changed")
		case known && j < i-1:
			first := evs[j+1]
			w.add(Inserted, first.ID, evs[i-1].ID, first.Time, "event %d links to event %d: the events between are not in the chain", e.ID, evs[j].ID)
			if _, ok := intact(e, e.PrevHash, false); !ok {
				if _, ok := intact(e, e.PrevHash, true); ok {
					w.shift(e.ID)
				}
			}
		case !known:
			w.add(Deleted, expect, expect, before, "event %d links to an event that is not in the log: the event(s) before it are gone and the IDs closed up", e.ID)
		default:
			w.add(Modified, e.ID, e.ID, e.Time, "its fields do not hash to its stored hash")
		}
		if len(e.Hash) > 0 {
			link = e.Hash
		}
		expect = e.ID + 1
	}
}

// seals checks every checkpoint: its signature by the trusted key, and
// that the events as stored, recomputed from the checkpoint before (its
// signed hash), reach its hash.
func (w *walk) seals(ctx context.Context, cps []*store.AuditCheckpoint, keys KeyFunc) {
	trusted := map[string]crypto.PublicKey{}
	var valid []*store.AuditCheckpoint
	for _, cp := range cps {
		w.r.Checkpoints++
		pub, ok := trusted[cp.KeyLabel]
		if !ok {
			k, err := keys(ctx, cp.KeyLabel)
			if err != nil {
				w.add(BadCheckpoint, cp.Seq, cp.Seq, cp.Time, "checkpoint %d names key %q: %v", cp.ID, cp.KeyLabel, err)
				continue
			}
			pub, trusted[cp.KeyLabel] = k, k
		}
		if spki, err := x509.MarshalPKIXPublicKey(pub); err != nil || !bytes.Equal(spki, cp.PublicKey) {
			w.add(BadCheckpoint, cp.Seq, cp.Seq, cp.Time, "checkpoint %d records a public key that is not the audit key %q", cp.ID, cp.KeyLabel)
			continue
		}
		if err := checkSignature(cp, pub); err != nil {
			w.add(BadCheckpoint, cp.Seq, cp.Seq, cp.Time, "checkpoint %d: %v", cp.ID, err)
			continue
		}
		valid = append(valid, cp)
	}
	sort.SliceStable(valid, func(i, j int) bool { return valid[i].Seq < valid[j].Seq })
	// Recompute the chain over the events as they stand, re-anchored at
	// each valid checkpoint.
	var head []byte
	var anchor int64
	k := 0
	heads := map[int64][]byte{}
	for _, e := range w.evs {
		for k < len(valid) && valid[k].Seq < e.ID {
			w.reach(valid[k], nil, anchor, heads)
			head, anchor = valid[k].Hash, valid[k].Seq
			k++
		}
		head = store.AuditHash(e, head)
		heads[e.ID] = head
		for k < len(valid) && valid[k].Seq == e.ID {
			w.reach(valid[k], e, anchor, heads)
			k++
		}
		if k > 0 && valid[k-1].Seq == e.ID {
			head, anchor = valid[k-1].Hash, e.ID
		}
	}
	for ; k < len(valid); k++ {
		cp := valid[k]
		if cp.Seq > w.r.LastID {
			t := time.Time{}
			if n := len(w.evs); n > 0 {
				t = w.evs[n-1].Time
			}
			w.add(Truncated, w.r.LastID+1, cp.Seq, t, "the log ends at event %d, but checkpoint %d (signed %s) sealed events up to %d",
				w.r.LastID, cp.ID, cp.Time.UTC().Format(time.RFC3339), cp.Seq)
			continue
		}
		w.reach(cp, nil, anchor, heads)
	}
	for _, cp := range valid {
		if cp.Seq <= w.r.LastID && cp.Seq >= w.r.SealedID {
			w.r.SealedID, w.r.SealedAt = cp.Seq, cp.Time
		}
	}
}

// reach checks that the chain recomputed up to event e (nil: missing)
// gives cp's hash; a mismatch where links() found no break since the
// anchor is a rewrite.
func (w *walk) reach(cp *store.AuditCheckpoint, e *store.AuditEvent, anchor int64, heads map[int64][]byte) {
	if e == nil && cp.Seq == 0 && len(cp.Hash) == 0 {
		return
	}
	if e != nil && bytes.Equal(heads[e.ID], cp.Hash) {
		return
	}
	for _, b := range w.r.Breaks {
		if b.Kind != BadCheckpoint && b.LastID > anchor && b.ID <= cp.Seq {
			return // explained by a break already located in this segment
		}
	}
	for _, id := range w.shifted {
		if id > anchor && id <= cp.Seq {
			return // events renumbered by a break before this segment
		}
	}
	if e == nil {
		w.add(Deleted, cp.Seq, cp.Seq, cp.Time, "checkpoint %d sealed event %d, which is not in the log", cp.ID, cp.Seq)
		return
	}
	w.add(Rewritten, anchor+1, cp.Seq, e.Time, "the events after %d hash to another head than checkpoint %d signed at %s: rewritten with consistent hashes",
		anchor, cp.ID, cp.Time.UTC().Format(time.RFC3339))
}
