package ocsp

import (
	"container/list"
	"crypto"
	"time"
)

// cacheKey names one cached response: one octet, the CertID hash
// algorithm the client used (the response's CertID must match the
// request's, RFC 6960 section 4.2.2.3), then the DER INTEGER of the serial
// number. It is a string so that a request's key, built in a buffer of its
// own, finds its entry without being copied to the heap.
type cacheKey string

// maxKeyLen is the longest cacheKey: the hash's octet and a serial
// INTEGER's tag, length and at most maxSerialLen+2 further octets.
const maxKeyLen = 1 + maxSerialLen + 4

// appendKey appends the cacheKey of the serial INTEGER serialDER asked
// about with CertID hash h to dst.
func appendKey(dst []byte, h crypto.Hash, serialDER []byte) []byte {
	return append(append(dst, byte(h)), serialDER...)
}

// entry is a signed response and when it stops being served.
type entry struct {
	key  cacheKey
	der  []byte
	etag string
	// hdr holds the HTTP header values every answer with der carries
	// (RFC 5019 section 6.2), formatted once: Last-Modified, Expires,
	// ETag and Content-Length.
	hdr        [4]string
	status     Status
	signer     *signerState
	thisUpdate time.Time
	nextUpdate time.Time
	// refreshAt is thisUpdate plus half the validity: after it the
	// response is signed anew.
	refreshAt time.Time
}

// entryOverhead is what an entry costs besides its bytes (the DER, the
// ETag, the serial in its key): the entry struct with its header values
// (two HTTP dates and a length, about 140 octets), its list element and
// its map slot, rounded up. lru counts it so that its byte bound holds
// for many small responses as for few large ones (BenchmarkCacheMemory:
// the heap kept is about the bytes counted).
const entryOverhead = 448

// cost is the memory an entry of key k is counted at.
func cost(k cacheKey, e *entry) int64 {
	return int64(len(e.der)+len(e.etag)+len(k)) + entryOverhead
}

// lru is a map of responses bounded in bytes (and, if maxEntries > 0, in
// entries) that drops the least recently used. It is not safe for
// concurrent use; Responder.mu guards it.
type lru struct {
	maxEntries int
	maxBytes   int64
	bytes      int64
	ll         *list.List
	m          map[cacheKey]*list.Element
}

func newLRU(maxEntries int, maxBytes int64) *lru {
	return &lru{maxEntries: maxEntries, maxBytes: maxBytes, ll: list.New(), m: make(map[cacheKey]*list.Element)}
}

// get returns the entry of the key kb (a cacheKey's octets) and makes it
// the most recently used.
func (c *lru) get(kb []byte) *entry {
	el, ok := c.m[cacheKey(kb)]
	if !ok {
		return nil
	}
	c.ll.MoveToFront(el)
	return el.Value.(*entry)
}

func (c *lru) put(k cacheKey, e *entry) {
	if c.maxBytes <= 0 || cost(k, e) > c.maxBytes {
		return
	}
	e.key = k
	if el, ok := c.m[k]; ok {
		c.bytes += cost(k, e) - cost(k, el.Value.(*entry))
		el.Value = e
		c.ll.MoveToFront(el)
	} else {
		c.m[k] = c.ll.PushFront(e)
		c.bytes += cost(k, e)
	}
	for c.bytes > c.maxBytes || (c.maxEntries > 0 && c.ll.Len() > c.maxEntries) {
		c.drop(c.ll.Back())
	}
}

// drop removes el.
func (c *lru) drop(el *list.Element) {
	e := el.Value.(*entry)
	c.ll.Remove(el)
	delete(c.m, e.key)
	c.bytes -= cost(e.key, e)
}

func (c *lru) remove(k cacheKey) {
	if el, ok := c.m[k]; ok {
		c.drop(el)
	}
}

func (c *lru) clear() {
	c.ll.Init()
	clear(c.m)
	c.bytes = 0
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
