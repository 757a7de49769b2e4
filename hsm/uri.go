package hsm

import (
	"errors"
	"fmt"
	"io"
	"net/url"
	"os"
	"sort"
	"strings"
)

// URI names a key store, and optionally one key in it, in the attribute syntax
// of RFC 7512 (section 2.3): "scheme:" then path attributes separated by ';',
// then optionally '?' and query attributes separated by '&'. Values are
// percent-decoded. kyso uses the same syntax for all its schemes:
//
//	pkcs11:token=kyso;object=ca-root?module-path=/usr/lib/softhsm/libsofthsm2.so&pin-source=file:/etc/kyso/pin
//	vault:mount=transit;name=ca-root?address=https://vault:8200&token-source=env:VAULT_TOKEN
//	softkey:name=ca-root?dir=./kyso-data/keys&passphrase-source=file:./kyso-data/passphrase
//
// What identifies the store and its secrets comes in the query; what names one
// key comes in the path.
type URI struct {
	// Scheme is "pkcs11", "vault" or "softkey".
	Scheme string
	// Path holds the path attributes.
	Path map[string]string
	// Query holds the query attributes.
	Query map[string]string
}

// maxURILength bounds what ParseURI reads.
const maxURILength = 4096

// ParseURI parses s. Attribute names are compared case-sensitively, as RFC
// 7512 requires; an attribute given twice is an error.
func ParseURI(s string) (*URI, error) {
	if len(s) > maxURILength {
		return nil, fmt.Errorf("hsm: key URI is %d bytes long, at most %d allowed", len(s), maxURILength)
	}
	scheme, rest, ok := strings.Cut(s, ":")
	if !ok || scheme == "" {
		return nil, fmt.Errorf("hsm: key URI %q has no scheme (want pkcs11:, vault: or softkey:)", redactURI(s))
	}
	u := &URI{Scheme: strings.ToLower(scheme), Path: map[string]string{}, Query: map[string]string{}}
	path, query, _ := strings.Cut(rest, "?")
	if err := parseAttrs(path, ";", u.Path); err != nil {
		return nil, fmt.Errorf("hsm: key URI %q: %w", redactURI(s), err)
	}
	if err := parseAttrs(query, "&", u.Query); err != nil {
		return nil, fmt.Errorf("hsm: key URI %q: %w", redactURI(s), err)
	}
	return u, nil
}

func parseAttrs(s, sep string, into map[string]string) error {
	if s == "" {
		return nil
	}
	for _, part := range strings.Split(s, sep) {
		if part == "" {
			continue
		}
		k, v, ok := strings.Cut(part, "=")
		if !ok || k == "" {
			return fmt.Errorf("attribute %q is not name=value", part)
		}
		dv, err := url.PathUnescape(v)
		if err != nil {
			return fmt.Errorf("attribute %q: bad percent-encoding", k)
		}
		if _, dup := into[k]; dup {
			return fmt.Errorf("attribute %q given twice", k)
		}
		into[k] = dv
	}
	return nil
}

// Get returns the attribute name from the path, else from the query.
func (u *URI) Get(name string) string {
	if v, ok := u.Path[name]; ok {
		return v
	}
	return u.Query[name]
}

// String encodes u, attributes in sorted order. Secret values (pin-value,
// passphrase, token) are included: use Redacted for logs.
func (u *URI) String() string {
	var b strings.Builder
	b.WriteString(u.Scheme)
	b.WriteByte(':')
	writeAttrs(&b, u.Scheme, u.Path, ";", false)
	if len(u.Query) > 0 {
		b.WriteByte('?')
		writeAttrs(&b, u.Scheme, u.Query, "&", false)
	}
	return b.String()
}

// Redacted is String with secret values replaced by "REDACTED".
func (u *URI) Redacted() string {
	var b strings.Builder
	b.WriteString(u.Scheme)
	b.WriteByte(':')
	writeAttrs(&b, u.Scheme, u.Path, ";", true)
	if len(u.Query) > 0 {
		b.WriteByte('?')
		writeAttrs(&b, u.Scheme, u.Query, "&", true)
	}
	return b.String()
}

// WithKey returns a copy of u whose path attribute attr names key label.
func (u *URI) WithKey(attr, label string) *URI {
	c := &URI{Scheme: u.Scheme, Path: map[string]string{}, Query: map[string]string{}}
	for k, v := range u.Path {
		c.Path[k] = v
	}
	for k, v := range u.Query {
		c.Query[k] = v
	}
	c.Path[attr] = label
	return c
}

// secretAttrs are attribute names whose values must never be logged.
var secretAttrs = map[string]bool{"pin-value": true, "passphrase": true, "so-pin-value": true}

// isSecret reports whether attribute name holds a secret in scheme's URIs:
// "token" is a label in pkcs11: URIs and a credential in vault: ones.
func isSecret(scheme, name string) bool {
	return secretAttrs[name] || (name == "token" && scheme != "pkcs11")
}

// sourceAttrs names, for each attribute that holds a secret, the one that
// says where the secret is kept instead.
var sourceAttrs = map[string]string{"pin-value": "pin-source", "passphrase": "passphrase-source", "token": "token-source"}

// CheckKept returns an error when u holds a secret itself — pin-value or
// so-pin-value (RFC 7512 section 2.3), a softkey passphrase, a Vault
// token — instead of naming where the secret is kept. A URI that is kept
// (kyso.json, kysod's configuration, a flag that shows in the process
// list) never holds a secret: check it with CheckKept before keeping it
// and after reading it. The error names the attribute, never its value,
// and says what to write instead: pin-source=file:PATH or
// pin-source=env:NAME, and so on (see ReadSecret).
func (u *URI) CheckKept() error {
	var found []string
	for _, m := range []map[string]string{u.Path, u.Query} {
		for k := range m {
			if isSecret(u.Scheme, k) {
				found = append(found, k)
			}
		}
	}
	if len(found) == 0 {
		return nil
	}
	sort.Strings(found)
	k := found[0]
	if src, ok := sourceAttrs[k]; ok {
		return fmt.Errorf("hsm: key URI %s holds a secret in %s; a URI that is kept never does: name where it is kept with %s=file:PATH or %s=env:NAME",
			u.Redacted(), k, src, src)
	}
	return fmt.Errorf("hsm: key URI %s holds a secret in %s; a URI that is kept never does, and kyso never needs it: leave it out", u.Redacted(), k)
}

// CheckKeptURI parses s and checks it with CheckKept.
func CheckKeptURI(s string) error {
	u, err := ParseURI(s)
	if err != nil {
		return err
	}
	return u.CheckKept()
}

func writeAttrs(b *strings.Builder, scheme string, m map[string]string, sep string, redact bool) {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	for i, k := range keys {
		if i > 0 {
			b.WriteString(sep)
		}
		v := m[k]
		if redact && isSecret(scheme, k) {
			v = "REDACTED"
		}
		b.WriteString(k)
		b.WriteByte('=')
		b.WriteString(escapeAttr(v))
	}
}

// escapeAttr percent-encodes what would break the attribute syntax, leaving
// '/' and ':' readable.
func escapeAttr(v string) string {
	var b strings.Builder
	for i := 0; i < len(v); i++ {
		c := v[i]
		switch {
		case c >= 'a' && c <= 'z', c >= 'A' && c <= 'Z', c >= '0' && c <= '9',
			strings.IndexByte("-._~:/@!$'()*+,=", c) >= 0:
			b.WriteByte(c)
		default:
			fmt.Fprintf(&b, "%%%02X", c)
		}
	}
	return b.String()
}

// redactURI hides secret attributes of a URI that may not parse.
func redactURI(s string) string {
	if u, err := parseLoose(s); err == nil {
		return u.Redacted()
	}
	for _, name := range []string{"pin-value", "passphrase", "so-pin-value", "token"} {
		if strings.Contains(s, name+"=") {
			return "(URI with a secret, not shown)"
		}
	}
	return s
}

func parseLoose(s string) (*URI, error) {
	scheme, rest, ok := strings.Cut(s, ":")
	if !ok {
		return nil, errors.New("no scheme")
	}
	u := &URI{Scheme: scheme, Path: map[string]string{}, Query: map[string]string{}}
	path, query, _ := strings.Cut(rest, "?")
	if err := parseAttrs(path, ";", u.Path); err != nil {
		return nil, err
	}
	if err := parseAttrs(query, "&", u.Query); err != nil {
		return nil, err
	}
	return u, nil
}

// maxSecretSize bounds secrets read from files.
const maxSecretSize = 4096

// ReadSecret resolves a secret source: "env:NAME" reads an environment
// variable, "file:PATH" (or a bare path) reads a file and trims one trailing
// newline. The secret itself never appears in an error.
func ReadSecret(source string) ([]byte, error) {
	switch {
	case source == "":
		return nil, errors.New("hsm: secret source is empty")
	case strings.HasPrefix(source, "env:"):
		name := strings.TrimPrefix(source, "env:")
		v, ok := os.LookupEnv(name)
		if !ok {
			return nil, fmt.Errorf("hsm: secret source %q: environment variable %s is not set", source, name)
		}
		return []byte(v), nil
	default:
		path := strings.TrimPrefix(source, "file:")
		path = strings.TrimPrefix(path, "//") // file:///abs → /abs
		f, err := os.Open(path)
		if err != nil {
			return nil, fmt.Errorf("hsm: secret source %q: %w", source, err)
		}
		defer f.Close()
		buf, err := io.ReadAll(io.LimitReader(f, maxSecretSize+1))
		if err != nil {
			return nil, fmt.Errorf("hsm: secret source %q: %w", source, err)
		}
		if len(buf) > maxSecretSize {
			return nil, fmt.Errorf("hsm: secret source %q: file is larger than %d bytes", source, maxSecretSize)
		}
		s := strings.TrimSuffix(strings.TrimSuffix(string(buf), "\n"), "\r")
		if s == "" {
			return nil, fmt.Errorf("hsm: secret source %q: file is empty", source)
		}
		return []byte(s), nil
	}
}
