package ocsp

import (
	"container/list"
	"crypto"
	"time"
)

// cacheKey names one cached response: the CertID hash algorithm the client
// used (the response's CertID must match the request's, RFC 6960 section
// 4.2.2.3) and the DER INTEGER of the serial number.
type cacheKey struct {
	hash   crypto.Hash
	serial string
}

// entry is a signed response and when it stops being served.
type entry struct {
	key        cacheKey
	der        []byte
	etag       string
	status     Status
	signer     *signerState
	thisUpdate time.Time
	nextUpdate time.Time
	// refreshAt is thisUpdate plus half the validity: after it the
	// response is signed anew.
	refreshAt time.Time
}

// lru is a bounded map of responses that drops the least recently used. It
// is not safe for concurrent use; Responder.mu guards it.
type lru struct {
	max int
	ll  *list.List
	m   map[cacheKey]*list.Element
}

func newLRU(max int) *lru {
	return &lru{max: max, ll: list.New(), m: make(map[cacheKey]*list.Element)}
}

func (c *lru) get(k cacheKey) *entry {
	el, ok := c.m[k]
	if !ok {
		return nil
	}
	c.ll.MoveToFront(el)
	return el.Value.(*entry)
}

func (c *lru) put(k cacheKey, e *entry) {
	if c.max <= 0 {
		return
	}
	e.key = k
	if el, ok := c.m[k]; ok {
		el.Value = e
		c.ll.MoveToFront(el)
		return
	}
	c.m[k] = c.ll.PushFront(e)
	for c.ll.Len() > c.max {
		old := c.ll.Back()
		c.ll.Remove(old)
		delete(c.m, old.Value.(*entry).key)
	}
}

func (c *lru) remove(k cacheKey) {
	if el, ok := c.m[k]; ok {
		c.ll.Remove(el)
		delete(c.m, k)
	}
}

func (c *lru) clear() {
	c.ll.Init()
	clear(c.m)
}

func (c *lru) len() int { return c.ll.Len() }

// oldest returns the earliest thisUpdate of the entries, walking them all.
func (c *lru) oldest() (time.Time, bool) {
	var t time.Time
	for el := c.ll.Front(); el != nil; el = el.Next() {
		if u := el.Value.(*entry).thisUpdate; t.IsZero() || u.Before(t) {
			t = u
		}
	}
	return t, !t.IsZero()
}
