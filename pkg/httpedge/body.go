package httpedge

// The JSON request bodies of kyso's HTTP APIs (CSC, SmartCA, owners,
// officers) are read the same way everywhere — the media type, a size
// bound, one JSON object and nothing after it — and what was wrong is
// said, for each API to answer in its own error form.

import (
	"bufio"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"mime"
	"net/http"
	"strings"
)

// BodyError says why a request body was refused: Status is the HTTP
// status to answer with (400, 413 or 415), Message a description safe to
// show.
type BodyError struct {
	Status  int
	Message string
}

func (e *BodyError) Error() string { return e.Message }

// BodyOptions bound and shape the reading of a body.
type BodyOptions struct {
	// Max is the largest body accepted, in bytes. Required.
	Max int64
	// DisallowUnknownFields refuses members v does not have.
	DisallowUnknownFields bool
}

// Decode reads r's body, which must be application/json holding exactly
// one JSON object of at most opts.Max bytes, into v: every API reads its
// JSON bodies this way. Anything but an object is malformed: null above
// all would decode into nothing.
func Decode(w http.ResponseWriter, r *http.Request, v any, opts BodyOptions) *BodyError {
	if mt, _, err := mime.ParseMediaType(r.Header.Get("Content-Type")); err != nil || mt != "application/json" {
		return &BodyError{http.StatusUnsupportedMediaType, "the body must be application/json"}
	}
	body := bufio.NewReader(http.MaxBytesReader(w, r.Body, opts.Max))
	dec := json.NewDecoder(body)
	if opts.DisallowUnknownFields {
		dec.DisallowUnknownFields()
	}
	err := startsObject(body)
	if err == nil {
		err = dec.Decode(v)
	}
	if err != nil {
		var mbe *http.MaxBytesError
		if errors.As(err, &mbe) {
			return &BodyError{http.StatusRequestEntityTooLarge, fmt.Sprintf("the body is larger than %d bytes", opts.Max)}
		}
		return &BodyError{http.StatusBadRequest, "malformed JSON body: " + err.Error()}
	}
	if _, err := dec.Token(); err != io.EOF {
		return &BodyError{http.StatusBadRequest, "the body has data after the JSON object"}
	}
	return nil
}

// startsObject checks that the next byte after white space is "{",
// without copying the body.
func startsObject(r *bufio.Reader) error {
	for {
		b, err := r.ReadByte()
		if err != nil {
			return err
		}
		switch b {
		case ' ', '\t', '\r', '\n':
			continue
		case '{':
			return r.UnreadByte()
		}
		return errors.New("the body is not a JSON object")
	}
}

// Allowed lists the methods (GET, POST) mux serves r's path with, other
// than through its catch-all pattern, so that a known path asked with
// another method gets 405 and an Allow header (RFC 9110 section 15.5.6)
// rather than 404.
func Allowed(mux *http.ServeMux, r *http.Request, catchAll string) string {
	var methods []string
	for _, m := range []string{http.MethodGet, http.MethodPost} {
		if _, pattern := mux.Handler(&http.Request{Method: m, URL: r.URL, Host: r.Host}); pattern != "" && pattern != catchAll {
			methods = append(methods, m)
		}
	}
	return strings.Join(methods, ", ")
}

// WriteJSON answers with v as JSON and status.
func WriteJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	json.NewEncoder(w).Encode(v)
}
