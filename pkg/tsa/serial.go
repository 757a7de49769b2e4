package tsa

import (
	"context"
	"crypto/rand"
	"encoding/binary"
	"fmt"
	"io"
	"math/big"
	"sync"
	"time"
)

// SerialSource hands out TSTInfo serial numbers, which RFC 3161 section
// 2.4.2 requires to be unique for each token a TSA issues. kyso's serials
// also increase, so that tokens can be ordered by serial within one TSA.
//
// Implementations are safe for concurrent use.
type SerialSource interface {
	// Next returns a positive serial greater than every serial it returned
	// before.
	Next(ctx context.Context) (*big.Int, error)
}

// MemorySerials is a SerialSource for a single process: serials are
// nanoseconds since the Unix epoch times 2^16, plus 16 random bits chosen at
// start, and each one is at least the previous one plus one. Successive runs
// of one process on one clock therefore continue to increase.
//
// WARNING: two processes sharing a TSA key must not use MemorySerials; kysod
// backs its SerialSource by the database so that every replica draws from one
// sequence.
type MemorySerials struct {
	now func() time.Time

	mu   sync.Mutex
	last *big.Int
}

var _ SerialSource = (*MemorySerials)(nil)

// NewMemorySerials returns an in-memory SerialSource seeded from now (nil
// means time.Now) and rnd (nil means crypto/rand.Reader).
func NewMemorySerials(now func() time.Time, rnd io.Reader) (*MemorySerials, error) {
	if now == nil {
		now = time.Now
	}
	if rnd == nil {
		rnd = rand.Reader
	}
	var r [2]byte
	if _, err := io.ReadFull(rnd, r[:]); err != nil {
		return nil, fmt.Errorf("tsa: seeding serials: %w", err)
	}
	m := &MemorySerials{now: now}
	m.last = m.fromClock()
	m.last.Add(m.last, big.NewInt(int64(binary.BigEndian.Uint16(r[:]))))
	return m, nil
}

func (m *MemorySerials) fromClock() *big.Int {
	n := new(big.Int).SetInt64(max(m.now().UnixNano(), 1))
	return n.Lsh(n, 16)
}

// Next returns the next serial.
func (m *MemorySerials) Next(ctx context.Context) (*big.Int, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	next := new(big.Int).Add(m.last, big.NewInt(1))
	if c := m.fromClock(); c.Cmp(next) > 0 {
		next = c
	}
	m.last = next
	return new(big.Int).Set(next), nil
}
