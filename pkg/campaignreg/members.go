package campaignreg

import (
	"bytes"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"os"
	"sync"
	"time"

	"go.yaml.in/yaml/v3"
)

// MemberEntry is a provider in the served registry's members file, as
// `kyso registry member` prints it for the registry's operator.
type MemberEntry struct {
	ID   string `yaml:"id" json:"id"`
	Name string `yaml:"name" json:"name"`
	// TLSKeySHA256 is the hex SHA-256 of the TLS client key's
	// SubjectPublicKeyInfo; SigningKey the registry signing key, PEM.
	TLSKeySHA256 string `yaml:"tls_key_sha256" json:"tls_key_sha256"`
	SigningKey   string `yaml:"signing_key" json:"signing_key"`
}

// membersFile is the members file: YAML, `members:` and a list of
// MemberEntry.
type membersFile struct {
	Members []MemberEntry `yaml:"members"`
}

// MaxMembersFile bounds the members file.
const MaxMembersFile = 1 << 20

// ParseMembers reads a members file: unknown keys, a bad key or pin, a
// hostile name and a provider or key named twice are refused.
func ParseMembers(b []byte) ([]Member, error) {
	if len(b) > MaxMembersFile {
		return nil, fmt.Errorf("campaignreg: the members file is larger than %d bytes", MaxMembersFile)
	}
	var f membersFile
	dec := yaml.NewDecoder(bytes.NewReader(b))
	dec.KnownFields(true)
	if err := dec.Decode(&f); err != nil && !errors.Is(err, io.EOF) {
		return nil, fmt.Errorf("campaignreg: the members file: %w", err)
	}
	out := make([]Member, 0, len(f.Members))
	for i, e := range f.Members {
		m := Member{Provider: Provider{ID: e.ID, Name: e.Name}}
		if err := m.Check(); err != nil {
			return nil, fmt.Errorf("campaignreg: member %d: %w", i+1, err)
		}
		pin, err := hex.DecodeString(e.TLSKeySHA256)
		if err != nil || len(pin) != 32 {
			return nil, fmt.Errorf("campaignreg: member %s: tls_key_sha256 is not 64 hexadecimal digits", e.ID)
		}
		copy(m.TLSKeySHA256[:], pin)
		if m.SigningKey, err = ParseSigningKey([]byte(e.SigningKey)); err != nil {
			return nil, fmt.Errorf("campaignreg: member %s: %w", e.ID, err)
		}
		out = append(out, m)
	}
	if _, err := newMemberSet(out); err != nil {
		return nil, err
	}
	return out, nil
}

// Entry returns a member file's text holding e alone.
func (e *MemberEntry) Entry() ([]byte, error) {
	return yaml.Marshal(membersFile{Members: []MemberEntry{*e}})
}

// membersFromFile keeps a members file's members, read again when the
// file changes (its size or time): a provider is added without a
// restart. A file that no longer parses keeps the members before, and
// says so in the error.
type membersFromFile struct {
	path string
	mu   sync.Mutex
	mod  time.Time
	size int64
	set  *memberSet
}

func (f *membersFromFile) get() (*memberSet, error) {
	fi, err := os.Stat(f.path)
	f.mu.Lock()
	defer f.mu.Unlock()
	if err != nil {
		return f.set, fmt.Errorf("campaignreg: the members file: %w", err)
	}
	if f.set != nil && fi.ModTime().Equal(f.mod) && fi.Size() == f.size {
		return f.set, nil
	}
	b, err := os.ReadFile(f.path)
	if err != nil {
		return f.set, fmt.Errorf("campaignreg: the members file: %w", err)
	}
	ms, err := ParseMembers(b)
	if err != nil {
		return f.set, err
	}
	set, err := newMemberSet(ms)
	if err != nil {
		return f.set, err
	}
	f.set, f.mod, f.size = set, fi.ModTime(), fi.Size()
	return set, nil
}

// memberSet is the members by their TLS key's pin.
type memberSet struct {
	byTLS map[[32]byte]*Member
}

func newMemberSet(ms []Member) (*memberSet, error) {
	s := &memberSet{byTLS: map[[32]byte]*Member{}}
	ids := map[string]bool{}
	for i := range ms {
		m := &ms[i]
		if err := m.Check(); err != nil {
			return nil, err
		}
		if m.SigningKey == nil {
			return nil, fmt.Errorf("campaignreg: member %s has no signing key", m.ID)
		}
		if ids[m.ID] || s.byTLS[m.TLSKeySHA256] != nil {
			return nil, fmt.Errorf("campaignreg: member %s: its ID or TLS key is another member's", m.ID)
		}
		ids[m.ID] = true
		s.byTLS[m.TLSKeySHA256] = m
	}
	return s, nil
}
