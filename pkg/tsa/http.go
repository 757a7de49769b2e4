package tsa

import (
	"errors"
	"io"
	"mime"
	"net/http"
	"strconv"
)

// Media types of RFC 3161 section 3.4.
const (
	ContentTypeQuery = "application/timestamp-query"
	ContentTypeReply = "application/timestamp-reply"
)

// ServeHTTP is the time-stamp protocol over HTTP (RFC 3161 section 3.4): a
// POST with Content-Type application/timestamp-query and a DER TimeStampReq
// as body, answered with application/timestamp-reply.
//
// Every request that reaches the protocol gets HTTP 200 and a TimeStampResp,
// refusals included, as clients expect. Other methods get 405, other content
// types 415 (plain text, the client did not speak the protocol), and a body
// over Config.MaxRequestBytes 413 with a badDataFormat TimeStampResp.
func (s *Server) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if r.Method != http.MethodPost {
		w.Header().Set("Allow", http.MethodPost)
		http.Error(w, "tsa: method not allowed; POST an application/timestamp-query (RFC 3161 section 3.4)", http.StatusMethodNotAllowed)
		return
	}
	if mt, _, err := mime.ParseMediaType(r.Header.Get("Content-Type")); err != nil || mt != ContentTypeQuery {
		http.Error(w, "tsa: unsupported media type; send application/timestamp-query (RFC 3161 section 3.4)", http.StatusUnsupportedMediaType)
		return
	}
	body, err := io.ReadAll(http.MaxBytesReader(w, r.Body, s.maxReq))
	if err != nil {
		if _, ok := errors.AsType[*http.MaxBytesError](err); ok {
			writeReply(w, http.StatusRequestEntityTooLarge, rejection(&RefusedError{Status: StatusRejection, FailInfo: BadDataFormat, Text: "tsa: request too large"}))
			return
		}
		writeReply(w, http.StatusOK, rejection(&RefusedError{Status: StatusRejection, FailInfo: BadDataFormat, Text: "tsa: reading request"}))
		return
	}
	q, err := ParseQuery(body)
	if err != nil {
		re, ok := errors.AsType[*RefusedError](err)
		if !ok {
			re = &RefusedError{Status: StatusRejection, FailInfo: BadDataFormat, Text: "tsa: malformed request"}
		}
		s.log.DebugContext(r.Context(), "tsa: request refused", "failure", re.FailInfo.String(), "reason", re.Text)
		writeReply(w, http.StatusOK, rejection(re))
		return
	}
	resp, _ := s.Timestamp(r.Context(), q)
	writeReply(w, http.StatusOK, resp.DER)
}

func writeReply(w http.ResponseWriter, code int, der []byte) {
	h := w.Header()
	h.Set("Content-Type", ContentTypeReply)
	h.Set("Content-Length", strconv.Itoa(len(der)))
	h.Set("Cache-Control", "no-store")
	w.WriteHeader(code)
	w.Write(der)
}
