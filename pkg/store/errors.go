package store

import "errors"

// ErrInvalid: the request breaks a rule of the record it describes — a
// serial number that is empty, negative, longer than 20 octets or has a
// leading zero byte (RFC 5280 section 4.1.2.2), a string or DER over its
// bound, audit details that are not a JSON object. Implementations wrap it
// with what was wrong; the HTTP edge turns it into a client error.
var ErrInvalid = errors.New("invalid request")
