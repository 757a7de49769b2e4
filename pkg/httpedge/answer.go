package httpedge

import (
	"encoding/json"
	"net/http"
	"strconv"
	"strings"
	"time"
)

// ReadError reads an error answer of kyso's APIs as their clients do: the
// {error, error_description} body — a body of another form is
// "http_error" with the body as its description — and Retry-After (RFC
// 9110 section 10.2.3) in whole seconds, zero when the answer has none.
func ReadError(h http.Header, body []byte) (ErrorBody, time.Duration) {
	var eb ErrorBody
	if json.Unmarshal(body, &eb) != nil || eb.Error == "" {
		eb = ErrorBody{Error: "http_error", Description: strings.TrimSpace(string(body))}
	}
	var retry time.Duration
	if s, err := strconv.Atoi(h.Get("Retry-After")); err == nil && s > 0 {
		retry = time.Duration(s) * time.Second
	}
	return eb, retry
}
