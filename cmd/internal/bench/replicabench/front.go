package replicabench

import (
	"crypto/tls"
	"crypto/x509"
	"errors"
	"io"
	"net"
	"net/http"
	"sync"
	"sync/atomic"
	"time"
)

// Front is the one address in front of the replicas: a round-robin TCP
// proxy inside the bench (no balancer is installed for it). Each
// connection accepted goes to the next backend in turn; one that refuses
// (a replica killed) is skipped for the next. TLS passes through: the
// client speaks to kysod. It stands for a layer-4 balancer (haproxy in
// mode tcp, a cloud load balancer) that, like this one, notices a dead
// backend by a refused connection; its own cost is a copy per byte on
// the same CPUs.
type Front struct {
	ln   net.Listener
	mu   sync.Mutex
	back []string
	next int
	// conns counts connections per backend address.
	conns map[string]*atomic.Int64
	wg    sync.WaitGroup
}

// NewFront listens on a free loopback port.
func NewFront() (*Front, error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, err
	}
	f := &Front{ln: ln, conns: map[string]*atomic.Int64{}}
	f.wg.Add(1)
	go f.serve()
	return f, nil
}

// Addr is the address clients connect to.
func (f *Front) Addr() string { return f.ln.Addr().String() }

// SetBackends replaces the backends (host:port) new connections go to;
// connections already made stay where they are.
func (f *Front) SetBackends(addrs ...string) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.back = append([]string(nil), addrs...)
	for _, a := range addrs {
		if f.conns[a] == nil {
			f.conns[a] = new(atomic.Int64)
		}
	}
}

// Connections returns how many connections went to each backend so far.
func (f *Front) Connections() map[string]int64 {
	f.mu.Lock()
	defer f.mu.Unlock()
	out := map[string]int64{}
	for a, n := range f.conns {
		out[a] = n.Load()
	}
	return out
}

// Close stops accepting; connections in flight end with their peers.
func (f *Front) Close() error {
	err := f.ln.Close()
	f.wg.Wait()
	return err
}

func (f *Front) serve() {
	defer f.wg.Done()
	for {
		c, err := f.ln.Accept()
		if errors.Is(err, net.ErrClosed) {
			return
		}
		if err != nil {
			time.Sleep(10 * time.Millisecond)
			continue
		}
		go f.pipe(c)
	}
}

// dial connects to the next backend that accepts, trying each at most
// once.
func (f *Front) dial() (net.Conn, string) {
	f.mu.Lock()
	back := f.back
	start := f.next
	f.next++
	f.mu.Unlock()
	for i := range back {
		a := back[(start+i)%len(back)]
		c, err := net.DialTimeout("tcp", a, 2*time.Second)
		if err == nil {
			return c, a
		}
	}
	return nil, ""
}

func (f *Front) pipe(c net.Conn) {
	b, addr := f.dial()
	if b == nil {
		c.Close()
		return
	}
	f.mu.Lock()
	n := f.conns[addr]
	f.mu.Unlock()
	if n != nil {
		n.Add(1)
	}
	done := make(chan struct{}, 2)
	cp := func(dst, src net.Conn) {
		io.Copy(dst, src)
		// Half-close so the other direction drains, then both end.
		if tc, ok := dst.(*net.TCPConn); ok {
			tc.CloseWrite()
		}
		done <- struct{}{}
	}
	go cp(b, c)
	go cp(c, b)
	<-done
	<-done
	c.Close()
	b.Close()
}

// rotating is the clients' transport: keep-alive connections, replaced
// by a fresh set at each rotate, so that a client's requests reach the
// replicas in turn through the front instead of staying on the
// connection they first made (a restarted replica would get nothing).
type rotating struct {
	roots *x509.CertPool
	mu    sync.Mutex
	cur   *http.Transport
	old   []*http.Transport
}

func newRotating(roots *x509.CertPool) *rotating {
	r := &rotating{roots: roots}
	r.cur = r.fresh()
	return r
}

func (r *rotating) fresh() *http.Transport {
	return &http.Transport{TLSClientConfig: &tls.Config{RootCAs: r.roots}, MaxIdleConns: 256, MaxIdleConnsPerHost: 256, IdleConnTimeout: time.Minute}
}

// RoundTrip sends req on the current transport.
func (r *rotating) RoundTrip(req *http.Request) (*http.Response, error) {
	r.mu.Lock()
	t := r.cur
	r.mu.Unlock()
	return t.RoundTrip(req)
}

// rotate puts a fresh transport in place; the last one's connections
// close once idle (their requests in flight finish), the one before's
// now.
func (r *rotating) rotate() {
	r.mu.Lock()
	defer r.mu.Unlock()
	for _, t := range r.old {
		t.CloseIdleConnections()
	}
	r.old = []*http.Transport{r.cur}
	r.cur.CloseIdleConnections()
	r.cur = r.fresh()
}

func (r *rotating) close() {
	r.mu.Lock()
	defer r.mu.Unlock()
	for _, t := range append(r.old, r.cur) {
		t.CloseIdleConnections()
	}
}
