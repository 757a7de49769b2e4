package ocspbench

import (
	"bufio"
	"context"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"sync/atomic"
	"testing"
	"time"
)

func TestRun(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		io.Copy(io.Discard, r.Body)
		if r.URL.Path == "/bad" {
			http.Error(w, "no", http.StatusInternalServerError)
			return
		}
		w.Header().Set("Content-Type", "application/ocsp-response")
		w.Write([]byte{0x30, 0x03, 0x0a, 0x01, 0x03})
	}))
	defer srv.Close()

	res, err := Run(context.Background(), Options{URL: srv.URL, Requests: [][]byte{{0x30, 0x00}}, Concurrency: 4, Duration: 200 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	if res.Responses == 0 || res.Errors != 0 || res.PerSecond() <= 0 || res.Elapsed < 200*time.Millisecond {
		t.Errorf("result %+v", res)
	}
	res, _ = Run(context.Background(), Options{URL: srv.URL + "/bad", Requests: [][]byte{{0x30, 0x00}}, Duration: 100 * time.Millisecond})
	if res.Responses != 0 || res.Errors == 0 || res.FirstError == nil {
		t.Errorf("result against a failing server %+v", res)
	}
	if _, err := Run(context.Background(), Options{URL: srv.URL}); err == nil {
		t.Error("Run without requests succeeded")
	}
}

// TestRunConnections checks the default client against the ways servers
// end an answer: HTTP/1.0 that closes (as openssl ocsp does without
// keep-alive), HTTP/1.0 with Connection: keep-alive, a body delimited by
// the connection's end, and HTTP/1.1 with Connection: close; and that
// net/http's client is still used when given.
func TestRunConnections(t *testing.T) {
	for _, tc := range []struct {
		name, head string
		keep       bool
	}{
		{"http10-close", "HTTP/1.0 200 OK\r\nContent-type: application/ocsp-response\r\nContent-Length: 5\r\n\r\n", false},
		{"http10-keep-alive", "HTTP/1.0 200 OK\r\nConnection: keep-alive\r\nContent-type: application/ocsp-response\r\nContent-Length: 5\r\n\r\n", true},
		{"no-length", "HTTP/1.1 200 OK\r\nContent-Type: application/ocsp-response\r\n\r\n", false},
		{"http11-close", "HTTP/1.1 200 OK\r\nConnection: close\r\nContent-Type: application/ocsp-response\r\nContent-Length: 5\r\n\r\n", false},
		{"wrong-type", "HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nContent-Length: 5\r\n\r\n", true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			l, err := net.Listen("tcp", "127.0.0.1:0")
			if err != nil {
				t.Fatal(err)
			}
			defer l.Close()
			var conns, answers atomic.Int64
			go func() {
				for {
					c, err := l.Accept()
					if err != nil {
						return
					}
					conns.Add(1)
					go func() {
						defer c.Close()
						br := bufio.NewReader(c)
						for {
							req, err := http.ReadRequest(br)
							if err != nil {
								return
							}
							io.Copy(io.Discard, req.Body)
							if _, err := io.WriteString(c, tc.head+"\x30\x03\x0a\x01\x03"); err != nil {
								return
							}
							answers.Add(1)
							if !tc.keep {
								return
							}
						}
					}()
				}
			}()
			res, err := Run(context.Background(), Options{URL: "http://" + l.Addr().String() + "/ocsp", Requests: [][]byte{{0x30, 0x00}}, Concurrency: 2, Duration: 200 * time.Millisecond})
			if err != nil {
				t.Fatal(err)
			}
			if tc.name == "wrong-type" {
				if res.Responses != 0 || res.Errors == 0 {
					t.Errorf("result %+v, want only errors", res)
				}
				return
			}
			if res.Responses == 0 || res.Errors != 0 {
				t.Fatalf("result %+v", res)
			}
			// Kept connections serve many answers; closed ones one each.
			if c, a := conns.Load(), answers.Load(); tc.keep != (c <= 2 && a > 2) || !tc.keep && c < a {
				t.Errorf("%d connections for %d answers", c, a)
			}
		})
	}
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/ocsp-response")
		w.Write([]byte{0x30, 0x03, 0x0a, 0x01, 0x03})
	}))
	defer srv.Close()
	var used atomic.Bool
	client := &http.Client{Transport: roundTripper(func(r *http.Request) (*http.Response, error) {
		used.Store(true)
		return http.DefaultTransport.RoundTrip(r)
	})}
	res, err := Run(context.Background(), Options{URL: srv.URL, Requests: [][]byte{{0x30, 0x00}}, Duration: 100 * time.Millisecond, Client: client})
	if err != nil || res.Responses == 0 || !used.Load() {
		t.Errorf("with Options.Client: %+v, %v, client used %v", res, err, used.Load())
	}
}

type roundTripper func(*http.Request) (*http.Response, error)

func (f roundTripper) RoundTrip(r *http.Request) (*http.Response, error) { return f(r) }
