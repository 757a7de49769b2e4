package server

import (
	_ "embed"
	"net/http"
	"strconv"
)

// openAPI is kysod's OpenAPI 3 document. It describes every route of both
// listeners in one document: the HTTPS APIs under the top-level server, and
// the PKI routes each naming the plain-HTTP listener as their server
// (OpenAPI 3 path-level servers), so a reader sees all that kysod serves
// in one place and a client still knows where to send each request.
//
//go:embed openapi.json
var openAPI []byte

// OpenAPI returns a copy of kysod's OpenAPI 3 document, JSON.
func OpenAPI() []byte { return append([]byte(nil), openAPI...) }

// OpenAPIHandler serves the OpenAPI document (GET /openapi.json on the
// HTTPS listener).
func OpenAPIHandler() http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		h := w.Header()
		h.Set("Content-Type", "application/json")
		h.Set("Content-Length", strconv.Itoa(len(openAPI)))
		h.Set("Cache-Control", "no-cache")
		w.Write(openAPI)
	})
}
