package ocspbench

import (
	"bufio"
	"bytes"
	"context"
	"fmt"
	"io"
	"net"
	"net/url"
	"strconv"
	"time"
)

// Bounds on an answer read by conn.
const (
	maxBody    = 1 << 20
	maxHeaders = 64
	timeout    = 10 * time.Second
)

// conn is one keep-alive HTTP/1.1 connection to the responder, dialled
// when needed and again after the server closes it (HTTP/1.0 without
// keep-alive, Connection: close, or an error).
type conn struct {
	addr string
	reqs [][]byte // each request's octets: request line, headers, body
	nc   net.Conn
	br   *bufio.Reader
	body []byte
}

func newConn(u *url.URL, ders [][]byte) *conn {
	host := u.Host
	if u.Port() == "" {
		host = net.JoinHostPort(u.Hostname(), "80")
	}
	path := u.EscapedPath()
	if path == "" {
		path = "/"
	}
	c := &conn{addr: host}
	for _, der := range ders {
		head := "POST " + path + " HTTP/1.1\r\nHost: " + u.Host +
			"\r\nContent-Type: application/ocsp-request\r\nContent-Length: " + strconv.Itoa(len(der)) + "\r\n\r\n"
		c.reqs = append(c.reqs, append([]byte(head), der...))
	}
	return c
}

func (c *conn) close() {
	if c.nc != nil {
		c.nc.Close()
		c.nc = nil
	}
}

// do sends request i and reads its answer: nil for HTTP 200 with
// Content-Type application/ocsp-response and a body read whole,
// context.DeadlineExceeded when the run's time ended first.
func (c *conn) do(ctx context.Context, i int) error {
	err := c.try(ctx, i)
	if d, ok := ctx.Deadline(); err != nil && ok && !time.Now().Before(d) {
		return context.DeadlineExceeded
	}
	return err
}

func (c *conn) try(ctx context.Context, i int) error {
	if c.nc == nil {
		var d net.Dialer
		nc, err := d.DialContext(ctx, "tcp", c.addr)
		if err != nil {
			return fmt.Errorf("ocspbench: %w", err)
		}
		c.nc = nc
		c.br = bufio.NewReaderSize(nc, 4096)
	}
	// The run's end interrupts an answer under way.
	deadline := time.Now().Add(timeout)
	if d, ok := ctx.Deadline(); ok && d.Before(deadline) {
		deadline = d
	}
	c.nc.SetDeadline(deadline)
	if _, err := c.nc.Write(c.reqs[i]); err != nil {
		c.close()
		return fmt.Errorf("ocspbench: %w", err)
	}
	code, ctype, keep, err := c.read()
	if err != nil {
		c.close()
		return err
	}
	if !keep {
		c.close()
	}
	if code != 200 || ctype != "application/ocsp-response" {
		return fmt.Errorf("ocspbench: HTTP %d, Content-Type %q", code, ctype)
	}
	return nil
}

// read reads one answer (RFC 9112): its status code, Content-Type,
// whether the connection stays open, and its body into c.body.
func (c *conn) read() (code int, ctype string, keep bool, err error) {
	line, err := c.line()
	if err != nil {
		return 0, "", false, err
	}
	proto, rest, _ := bytes.Cut(line, []byte(" "))
	status, _, _ := bytes.Cut(rest, []byte(" "))
	code, err = strconv.Atoi(string(status))
	if err != nil || len(status) != 3 {
		return 0, "", false, fmt.Errorf("ocspbench: status line %q", line)
	}
	keep = string(proto) == "HTTP/1.1"
	length := -1
	for n := 0; ; n++ {
		if n == maxHeaders {
			return 0, "", false, fmt.Errorf("ocspbench: more than %d header fields", maxHeaders)
		}
		if line, err = c.line(); err != nil {
			return 0, "", false, err
		}
		if len(line) == 0 {
			break
		}
		name, value, ok := bytes.Cut(line, []byte(":"))
		if !ok {
			return 0, "", false, fmt.Errorf("ocspbench: header field %q", line)
		}
		value = bytes.TrimSpace(value)
		switch {
		case bytes.EqualFold(name, []byte("Content-Length")):
			if length, err = strconv.Atoi(string(value)); err != nil || length < 0 || length > maxBody {
				return 0, "", false, fmt.Errorf("ocspbench: Content-Length %q", value)
			}
		case bytes.EqualFold(name, []byte("Content-Type")):
			ctype = string(value)
		case bytes.EqualFold(name, []byte("Transfer-Encoding")):
			return 0, "", false, fmt.Errorf("ocspbench: Transfer-Encoding %q is not read", value)
		case bytes.EqualFold(name, []byte("Connection")):
			switch {
			case bytes.EqualFold(value, []byte("close")):
				keep = false
			case bytes.EqualFold(value, []byte("keep-alive")):
				keep = true
			}
		}
	}
	if length < 0 {
		// Without a length the body ends with the connection.
		keep = false
		c.body, err = io.ReadAll(io.LimitReader(c.br, maxBody))
		return code, ctype, keep, err
	}
	if cap(c.body) < length {
		c.body = make([]byte, length)
	}
	_, err = io.ReadFull(c.br, c.body[:length])
	return code, ctype, keep, err
}

// line reads one line without its CRLF.
func (c *conn) line() ([]byte, error) {
	line, err := c.br.ReadSlice('\n')
	if err != nil {
		return nil, fmt.Errorf("ocspbench: reading an answer: %w", err)
	}
	return bytes.TrimRight(line, "\r\n"), nil
}
