package gen

import (
	"container/heap"
	"crypto/rand"
	"encoding/base32"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"strings"
	"sync"
	"time"

	"github.com/kyso-pki/kyso/pkg/ca"
	"github.com/kyso-pki/kyso/pkg/store"
)

// event is an audit event before its ID and chain hash.
type event struct {
	at                              time.Time
	actor, action, subject, outcome string
	details                         map[string]any
	seq                             int // ties broken in drawing order
}

// events is a min-heap of events by time.
type events []*event

func (h events) Len() int { return len(h) }
func (h events) Less(i, j int) bool {
	if !h[i].at.Equal(h[j].at) {
		return h[i].at.Before(h[j].at)
	}
	return h[i].seq < h[j].seq
}
func (h events) Swap(i, j int) { h[i], h[j] = h[j], h[i] }
func (h *events) Push(x any)   { *h = append(*h, x.(*event)) }
func (h *events) Pop() any {
	old := *h
	e := old[len(old)-1]
	*h = old[:len(old)-1]
	return e
}

// id is a random ID as signing makes them (base32, lower case).
func id(n int) string {
	b := make([]byte, n)
	rand.Read(b)
	return strings.ToLower(base32.StdEncoding.WithPadding(base32.NoPadding).EncodeToString(b))
}

// draw decides each enrolment of times: who, where, how, and its fate.
func (g *generator) draw(times []time.Time) []*plan {
	o := g.o
	plans := make([]*plan, len(times))
	for i, at := range times {
		p := &plan{p: g.people.draw(), at: at, fate: store.StatusGood, ownerID: id(10), credID: id(10)}
		p.channel = channels[weighted(g.r, g.chW, 100)].name
		p.evidence = evidence(g.r, p.channel)
		if p.channel != store.ChannelOnline && p.channel != store.ChannelOperator {
			p.staff = fmt.Sprintf("staff-%s-%03d", initials(p.p.province), g.r.IntN(40))
		}
		left := o.End.Sub(at)
		switch x := g.r.Float64(); {
		case x < SupersededShare:
			p.fate, p.reason = store.StatusRevoked, store.ReasonSuperseded
		case x < RevokedShare:
			p.fate, p.reason = store.StatusRevoked, []int{store.ReasonKeyCompromise, store.ReasonCessationOfOperation, store.ReasonUnspecified}[g.r.IntN(3)]
		case x < RevokedShare+SuspendedShare:
			p.fate, p.reason = store.StatusHold, store.ReasonCertificateHold
		}
		end := o.End
		if p.fate != store.StatusGood {
			p.revokedAt = at.Add(time.Duration(g.r.Float64() * float64(min(left, 300*24*time.Hour)))).Truncate(time.Second)
			if !p.revokedAt.After(at) {
				p.revokedAt = at.Add(time.Second)
			}
			end = p.revokedAt
		}
		if g.r.Float64() < SigningShare {
			for range 1 + g.r.IntN(4) {
				t := at.Add(time.Duration(g.r.Float64() * float64(min(end.Sub(at), 365*24*time.Hour))))
				p.signatures = append(p.signatures, t.Truncate(time.Microsecond))
			}
		}
		plans[i] = p
	}
	return plans
}

// sign signs the plans' certificates on o.Workers goroutines.
func (g *generator) sign(plans []*plan) error {
	var wg sync.WaitGroup
	errs := make([]error, g.o.Workers)
	for w := range g.o.Workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := w; i < len(plans); i += g.o.Workers {
				p := plans[i]
				var err error
				if p.cert, err = g.m.mint(&p.p, p.at.Truncate(time.Second)); err != nil {
					errs[w] = err
					return
				}
			}
		}()
	}
	wg.Wait()
	for _, err := range errs {
		if err != nil {
			return err
		}
	}
	return nil
}

// rows makes the batch's rows in the foreign keys' order, and its audit
// events: each enrolment's, with the later events due before the batch's
// last enrolment (all of them when last).
func (g *generator) rows(plans []*plan, last bool) ([]*table, error) {
	sk, is := g.sk, g.is
	serials := &table{name: "serials", cols: []string{"issuer", "serial", "reserved_at"}}
	certs := &table{name: "certificates", cols: []string{"issuer", "serial", "der", "profile", "subject", "national_id", "spki_sha256",
		"key_uri", "not_before", "not_after", "status", "campaign", "key_reuse", "created", "crl_shard"}}
	keys := &table{name: "certified_keys", cols: []string{"spki_sha256", "issuer", "serial"}}
	holders := &table{name: "campaign_holders", cols: []string{"national_id", "issuer", "serial"}}
	revs := &table{name: "revocations", cols: []string{"issuer", "serial", "reason", "revoked_at", "shard"}}
	owners := &table{name: "owners", cols: []string{"id", "national_id", "name", "province", "phone", "email", "pin_hash", "pin_failures",
		"totp_secret", "totp_last_step", "created_at"}}
	creds := &table{name: "credentials", cols: []string{"id", "owner_id", "key_uri", "wrapped_key", "algorithm", "cert_issuer", "cert_serial",
		"status", "created_at"}}
	recs := &table{name: "enrolment_records", cols: []string{"credential_id", "channel", "staff_id", "province", "ward", "evidence_kind",
		"evidence_ref", "consent_at", "created_at", "cert_issuer", "cert_serial", "cert_status", "cert_not_after"}}
	audit := &table{name: "audit_events", cols: []string{"id", "time", "actor", "action", "subject", "outcome", "details", "prev_hash", "hash"}}
	sum := g.sum
	for _, p := range plans {
		c := p.cert
		nid := "CCCD:" + p.p.cccd
		serialHex := ca.FormatSerial(c.serial)
		subject := is.Name + "/" + serialHex
		keyURI := "wrapped:" + p.credID
		// What the enrolment writes, in the order kyso writes it.
		details := map[string]any{"profile": "citizen", "issuer": is.Name, "serial": serialHex, "subject": c.subject, "national_id": nid,
			"public_key_sha256": fmt.Sprintf("%x", c.spkiSHA256), "not_before": c.notBefore, "not_after": c.notAfter, "key_uri": keyURI}
		officer := "officer:" + p.channel
		if p.staff != "" {
			officer = "officer:" + p.staff
		}
		if err := g.emit(audit, p.at, &event{actor: officer, action: "cert.issue", subject: subject, outcome: "intent", details: details},
			&event{actor: officer, action: "cert.issue", subject: subject, outcome: "ok", details: details},
			&event{actor: officer, action: "owner.enrol", subject: nid, outcome: "ok", details: map[string]any{
				"owner": p.ownerID, "credential": p.credID, "serial": serialHex, "algorithm": "ecdsa-p256",
				"channel": p.channel, "staff": p.staff, "ward": p.p.ward, "evidence": p.evidence}}); err != nil {
			return nil, err
		}
		serials.rows = append(serials.rows, []any{is.Name, c.serial, sk.time(p.at)})
		certs.rows = append(certs.rows, []any{is.Name, c.serial, c.der, "citizen", c.subject, nid, c.spkiSHA256, keyURI,
			sk.time(c.notBefore), sk.time(c.notAfter), p.fate, sk.bool(true), sk.bool(false), sk.time(p.at), is.CRLShard})
		keys.rows = append(keys.rows, []any{c.spkiSHA256, is.Name, c.serial})
		if p.fate != store.StatusRevoked {
			holders.rows = append(holders.rows, []any{nid, is.Name, c.serial})
		}
		g.counts[p.fate]++
		totp := make([]byte, 48)
		rand.Read(totp)
		owners.rows = append(owners.rows, []any{p.ownerID, nid, p.p.name, p.p.province, fmt.Sprintf("09%08d", g.r.IntN(1e8)), "",
			g.o.PINHash, 0, totp, 0, sk.time(p.at)})
		wrapped := make([]byte, 40+138) // an AES-KWP blob of a PKCS#8 P-256 key and its header
		rand.Read(wrapped)
		creds.rows = append(creds.rows, []any{p.credID, p.ownerID, keyURI, wrapped, "ecdsa-p256", is.Name, c.serial, "active", sk.time(p.at)})
		recs.rows = append(recs.rows, []any{p.credID, p.channel, p.staff, p.p.province, p.p.ward, p.evidence, fmt.Sprintf("ref-%s", id(5)),
			sk.time(p.at.Add(-time.Duration(g.r.IntN(600)) * time.Second)), sk.time(p.at),
			is.Name, c.serial, p.fate, sk.time(c.notAfter)})
		sum.Enrolments++
		if len(sum.Sample) < SampleSize {
			sum.Sample = append(sum.Sample, c.serial)
		} else if k := g.r.IntN(sum.Enrolments); k < SampleSize {
			sum.Sample[k] = c.serial
		}
		sum.ByChannel[p.channel]++
		sum.ByProvince[p.p.province]++
		switch p.fate {
		case store.StatusRevoked:
			revs.rows = append(revs.rows, []any{is.Name, c.serial, p.reason, sk.time(p.revokedAt), is.CRLShard})
			sum.Revoked++
			if p.reason == store.ReasonSuperseded {
				sum.Superseded++
			}
			sum.RevokedSerial = c.serial
			g.postpone(&event{at: p.revokedAt, actor: "operator", action: "cert.revoke", subject: subject, outcome: "ok",
				details: map[string]any{"serial": serialHex, "reason": p.reason, "revoked_at": p.revokedAt}})
		case store.StatusHold:
			revs.rows = append(revs.rows, []any{is.Name, c.serial, p.reason, sk.time(p.revokedAt), is.CRLShard})
			sum.Suspended++
			sum.SuspendedSerial = c.serial
			g.postpone(&event{at: p.revokedAt, actor: "owner:" + p.ownerID, action: "cert.suspend", subject: subject, outcome: "ok",
				details: map[string]any{"serial": serialHex, "reason": p.reason, "revoked_at": p.revokedAt}})
		default:
			sum.goodUntil = append(sum.goodUntil, c.notAfter)
			sum.GoodSerial = c.serial
		}
		for _, t := range p.signatures {
			portal := fmt.Sprintf("client:portal-%02d", g.r.IntN(20))
			digest := make([]byte, 32)
			rand.Read(digest)
			d := map[string]any{"owner": p.ownerID, "transaction": "", "activation": id(10), "digest": base64.StdEncoding.EncodeToString(digest), "hash": "SHA-256"}
			g.postpone(&event{at: t, actor: portal, action: "signature.create", subject: p.credID, outcome: "intent", details: d})
			g.postpone(&event{at: t, actor: portal, action: "signature.create", subject: p.credID, outcome: "ok", details: d})
			sum.Signatures++
		}
	}
	until := plans[len(plans)-1].at
	if last {
		until = time.Unix(1<<40, 0)
	}
	if err := g.flush(audit, until); err != nil {
		return nil, err
	}
	return []*table{serials, certs, keys, holders, revs, owners, creds, recs, audit}, nil
}

// postpone adds e to the events due later.
func (g *generator) postpone(e *event) {
	g.seq++
	e.seq = g.seq
	heap.Push(&g.later, e)
}

// emit appends the later events due before at, then es at at.
func (g *generator) emit(t *table, at time.Time, es ...*event) error {
	if err := g.flush(t, at); err != nil {
		return err
	}
	for _, e := range es {
		e.at = at
		if err := g.append(t, e); err != nil {
			return err
		}
	}
	return nil
}

// flush appends the later events due before until.
func (g *generator) flush(t *table, until time.Time) error {
	for g.later.Len() > 0 && g.later[0].at.Before(until) {
		if err := g.append(t, heap.Pop(&g.later).(*event)); err != nil {
			return err
		}
	}
	return nil
}

// append chains e after the last event and adds its row.
func (g *generator) append(t *table, e *event) error {
	d, err := json.Marshal(e.details)
	if err != nil {
		return fmt.Errorf("gen: encoding audit details: %w", err)
	}
	g.lastID++
	ae := &store.AuditEvent{ID: g.lastID, Time: e.at.UTC().Truncate(time.Microsecond), Actor: e.actor, Action: e.action, Subject: e.subject,
		Outcome: e.outcome, Details: d}
	h := store.AuditHash(ae, g.prev)
	t.rows = append(t.rows, []any{ae.ID, g.sk.time(ae.Time), ae.Actor, ae.Action, ae.Subject, ae.Outcome, string(d), g.prev, h})
	g.prev = h
	if g.sum.FirstEvent == 0 {
		g.sum.FirstEvent = ae.ID
	}
	g.sum.AuditEvents++
	return nil
}
