//go:build cgo

package pkcs11

import (
	"container/list"
	"context"
	"crypto/sha256"
	"sync"
	"time"

	"github.com/miekg/pkcs11"
)

// Defaults of the unwrapped-key cache (URI attributes key-cache and
// key-cache-idle).
const (
	DefaultKeyCache     = 1024
	DefaultKeyCacheIdle = 2 * time.Minute
	maxKeyCache         = 1 << 20
)

// keyCache keeps wrapped keys unwrapped on the token, as session objects
// (CKA_TOKEN false, sensitive, not extractable, sign only), so that a key
// that signs again soon is not unwrapped again: on SoftHSM C_UnwrapKey costs
// about ten ECDSA signatures.
//
// Nothing leaves the token, and the cache gives the process no power it does
// not have already: whoever holds a session of this store can unwrap any
// blob under the master key at any time. What decides whether a key signs
// is the caller (pkg/signing's unlock checks the owner's approval), not
// whether its object happens to exist. The cache holds at most max objects,
// least recently used first out, and destroys an object idle for longer
// than idle. Objects of an older recovery generation are forgotten without
// being destroyed: their sessions are gone, and their handles may name
// other objects now.
type keyCache struct {
	max  int
	idle time.Duration
	now  func() time.Time

	mu  sync.Mutex
	m   map[[32]byte]*list.Element // of *cachedKey, by SHA-256 of the blob
	lru *list.List                 // front: most recently used
}

// cachedKey is one unwrapped key.
type cachedKey struct {
	id   [32]byte
	gen  uint64
	h    pkcs11.ObjectHandle
	used time.Time
	// refs counts signers using the object now; an evicted object is
	// destroyed when the last lets go.
	refs    int
	evicted bool
	// verified: a signature the object made was verified under the blob's
	// public key, so the object is that key.
	verified bool
}

func newKeyCache(max int, idle time.Duration) *keyCache {
	return &keyCache{max: max, idle: idle, now: time.Now, m: map[[32]byte]*list.Element{}, lru: list.New()}
}

// id names a blob in the cache: all of it, so that an object verified
// under one blob's public key never signs for a blob that differs in any
// byte.
func (b *wrappedBlob) id() [32]byte {
	h := sha256.New()
	h.Write([]byte{byte(len(b.masterID))})
	h.Write(b.masterID)
	h.Write([]byte(b.alg))
	h.Write([]byte{0})
	h.Write(b.spki)
	h.Write(b.wrapped)
	var id [32]byte
	h.Sum(id[:0])
	return id
}

// key returns b's key unwrapped on ss's token: a cached object, or one
// unwrapped now (and cached when the cache is on). The caller signs with
// k.h on ss and then calls release.
func (s *Store) key(ss session, mh pkcs11.ObjectHandle, b *wrappedBlob) (*cachedKey, error) {
	c := s.keys
	if c == nil {
		h, err := s.unwrap(ss, mh, b)
		if err != nil {
			return nil, err
		}
		return &cachedKey{gen: ss.gen, h: h, refs: 1, evicted: true}, nil
	}
	id := b.id()
	c.mu.Lock()
	if e, ok := c.m[id]; ok {
		k := e.Value.(*cachedKey)
		if k.gen == ss.gen {
			k.refs++
			k.used = c.now()
			c.lru.MoveToFront(e)
			c.mu.Unlock()
			return k, nil
		}
		// Of an older generation: forget it, do not destroy it.
		c.lru.Remove(e)
		delete(c.m, id)
		k.evicted = true
	}
	c.mu.Unlock()

	h, err := s.unwrap(ss, mh, b)
	if err != nil {
		return nil, err
	}
	k := &cachedKey{id: id, gen: ss.gen, h: h, refs: 1, used: c.now()}
	var drop []pkcs11.ObjectHandle
	c.mu.Lock()
	if e, ok := c.m[id]; ok && e.Value.(*cachedKey).gen == ss.gen {
		// Another signer unwrapped it meanwhile: keep theirs.
		other := e.Value.(*cachedKey)
		other.refs++
		other.used = k.used
		c.lru.MoveToFront(e)
		c.mu.Unlock()
		s.p.DestroyObject(ss.h, h)
		return other, nil
	}
	c.m[id] = c.lru.PushFront(k)
	for c.lru.Len() > c.max {
		old := c.lru.Back().Value.(*cachedKey)
		drop = append(drop, c.evict(old)...)
	}
	c.mu.Unlock()
	s.destroy(ss, drop)
	return k, nil
}

// evict takes k out of the cache and returns its handle when it can be
// destroyed now (no signer uses it, and it is of the current generation as
// far as the caller knows). The caller holds c.mu.
func (c *keyCache) evict(k *cachedKey) []pkcs11.ObjectHandle {
	if e, ok := c.m[k.id]; ok && e.Value.(*cachedKey) == k {
		c.lru.Remove(e)
		delete(c.m, k.id)
	}
	k.evicted = true
	if k.refs == 0 {
		return []pkcs11.ObjectHandle{k.h}
	}
	return nil
}

// keyVerified reports whether a signature k made was verified.
func (s *Store) keyVerified(k *cachedKey) bool {
	if s.keys == nil {
		return false
	}
	s.keys.mu.Lock()
	defer s.keys.mu.Unlock()
	return k.verified
}

// releaseKey ends a signer's use of k, on ss: an object no longer cached is
// destroyed by its last user. verified records that a signature k made was
// verified; bad, that one failed to verify, which takes k out of the cache.
func (s *Store) releaseKey(k *cachedKey, ss session, verified, bad bool) {
	if s.keys == nil {
		s.p.DestroyObject(ss.h, k.h)
		return
	}
	c := s.keys
	c.mu.Lock()
	k.refs--
	if verified && !bad {
		k.verified = true
	}
	if bad {
		c.evict(k)
	}
	destroy := k.evicted && k.refs == 0 && k.gen == ss.gen
	c.mu.Unlock()
	if destroy && k.gen == s.generation() {
		s.p.DestroyObject(ss.h, k.h)
	}
}

// destroy destroys objects on ss, ignoring errors: an object that is gone
// already is what was wanted.
func (s *Store) destroy(ss session, hs []pkcs11.ObjectHandle) {
	for _, h := range hs {
		s.p.DestroyObject(ss.h, h)
	}
}

// sweep destroys the cached objects idle for longer than the cache's idle
// time.
func (s *Store) sweep(ctx context.Context) {
	c := s.keys
	cutoff := c.now().Add(-c.idle)
	gen := s.generation()
	var drop []pkcs11.ObjectHandle
	c.mu.Lock()
	for e := c.lru.Back(); e != nil; {
		k := e.Value.(*cachedKey)
		prev := e.Prev()
		if k.gen != gen {
			c.lru.Remove(e)
			delete(c.m, k.id)
			k.evicted = true
		} else if k.used.Before(cutoff) {
			drop = append(drop, c.evict(k)...)
		} else {
			break
		}
		e = prev
	}
	c.mu.Unlock()
	if len(drop) == 0 {
		return
	}
	_ = s.do(ctx, func(ss session) error {
		if ss.gen == gen {
			s.destroy(ss, drop)
		}
		return nil
	})
}

// sweeper runs sweep every quarter of the idle time until stop is closed.
func (s *Store) sweeper(stop <-chan struct{}) {
	t := time.NewTicker(max(s.keys.idle/4, time.Second))
	defer t.Stop()
	for {
		select {
		case <-stop:
			return
		case <-t.C:
			s.sweep(context.Background())
		}
	}
}

// cachedKeys returns how many unwrapped keys the cache holds.
func (s *Store) cachedKeys() int {
	if s.keys == nil {
		return 0
	}
	s.keys.mu.Lock()
	defer s.keys.mu.Unlock()
	return s.keys.lru.Len()
}
