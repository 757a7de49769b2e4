package report

import (
	"reflect"
	"regexp"
	"slices"
	"strings"
	"testing"

	"golang.org/x/text/unicode/norm"

	"github.com/kyso-pki/kyso/pkg/verify"
)

// TestMessages checks each language's table: every text filled and in NFC,
// every ETSI sub-indication and indication named, and, in Vietnamese,
// every code verify reports translated with exactly its parameters.
func TestMessages(t *testing.T) {
	for _, m := range []*messages{vi, en} {
		t.Run(m.lang, func(t *testing.T) {
			v := reflect.ValueOf(m).Elem()
			for i := 0; i < v.NumField(); i++ {
				f := v.Field(i)
				name := v.Type().Field(i).Name
				switch f.Kind() {
				case reflect.String:
					if f.String() == "" {
						t.Errorf("%s is empty", name)
					}
					checkNFC(t, name, f.String())
				case reflect.Map:
					for _, k := range f.MapKeys() {
						checkNFC(t, name+"["+k.String()+"]", f.MapIndex(k).String())
					}
				}
			}
			for _, s := range subIndications {
				if m.sub[s] == "" {
					t.Errorf("no text for sub-indication %s", s)
				}
			}
			for _, ind := range []verify.Indication{verify.TotalPassed, verify.TotalFailed, verify.Indeterminate} {
				if m.indications[ind] == "" {
					t.Errorf("no text for indication %s", ind)
				}
			}
		})
	}
	// The sub-indications verify declares are among ETSI's.
	for _, s := range []verify.SubIndication{verify.FormatFailure, verify.HashFailure, verify.SigCryptoFailure, verify.Revoked,
		verify.SigConstraintsFailure, verify.ChainConstraintsFailure, verify.CryptoConstraintsFailureNoPOE, verify.NoSigningCertificateFound,
		verify.NoCertificateChainFound, verify.RevokedNoPOE, verify.OutOfBoundsNoPOE, verify.NotYetValid, verify.TryLater} {
		if vi.sub[s] == "" || en.sub[s] == "" {
			t.Errorf("sub-indication %s has no text", s)
		}
	}
	params := map[verify.Code][]string{
		verify.CodeRevocationUnknown:            {"subject"},
		verify.CodeRevocationUnknownExpired:     {"subject", "expiry"},
		verify.CodeSuspended:                    {"subject", "time"},
		verify.CodeRevoked:                      {"subject", "time", "reason"},
		verify.CodeRevokedAfter:                 {"subject", "time", "reason", "signing_time"},
		verify.CodeNotYetValid:                  {"subject", "time", "from"},
		verify.CodeExpired:                      {"subject", "expiry"},
		verify.CodeExpiredAtTimestamp:           {"subject", "expiry", "time"},
		verify.CodeUntrusted:                    {"subject", "issuer"},
		verify.CodeNoTrustAnchors:               nil,
		verify.CodeNoSigningCertificate:         nil,
		verify.CodeModified:                     nil,
		verify.CodeBadSignature:                 nil,
		verify.CodeChangedAfterSigning:          {"count"},
		verify.CodeWeakDigest:                   {"algorithm"},
		verify.CodeWeakRSAKey:                   {"subject", "bits"},
		verify.CodeWeakECKey:                    {"subject", "bits"},
		verify.CodeUnsupportedKey:               {"subject"},
		verify.CodeWeakCertSignature:            {"subject", "algorithm"},
		verify.CodeRSAPKCS1v15 + "/signature":   {"subject"},
		verify.CodeRSAPKCS1v15 + "/certificate": {"subject"},
		verify.CodeTimestampInvalid:             {"n"},
		verify.CodeDetachedWithContent:          {"subfilter", "bytes"},
		verify.CodeTimestampNoPOE:               {"subject", "expiry"},
		verify.CodeUnsupportedCertificate:       nil,
		verify.CodeTimestampWeakImprint:         {"algorithm", "expiry"},
		verify.CodeNoSignedAttributes:           nil,
		verify.CodeLegacyCertRef:                {"attribute", "algorithm", "expiry"},
	}
	for code, ps := range params {
		tmpl, ok := vi.codes[string(code)]
		if !ok {
			t.Errorf("no Vietnamese text for %s", code)
			continue
		}
		for _, p := range ps {
			if !strings.Contains(tmpl, "{"+p+"}") {
				t.Errorf("the Vietnamese text for %s does not show {%s}", code, p)
			}
		}
		for _, m := range placeholder.FindAllStringSubmatch(tmpl, -1) {
			if !slices.Contains(ps, m[1]) {
				t.Errorf("the Vietnamese text for %s shows {%s}, which %s does not have", code, m[1], code)
			}
		}
	}
	if len(vi.codes) != len(params) {
		t.Errorf("%d Vietnamese code texts, %d codes tested: keep the two lists together", len(vi.codes), len(params))
	}
}

var placeholder = regexp.MustCompile(`\{([a-z_]+)\}`)

func checkNFC(t *testing.T, name, s string) {
	t.Helper()
	if !norm.NFC.IsNormalString(s) {
		t.Errorf("%s is not NFC: %q", name, s)
	}
}

// TestChangeMessages: every kind of change verify reports and every
// object it names has a Vietnamese text, using only the parameters a
// change has.
func TestChangeMessages(t *testing.T) {
	allowed := []string{"target", "arg", "object", "key", "ref", "subtype", "type", "perm", "was", "now", "detail"}
	for _, k := range verify.ChangeKinds() {
		tmpl, ok := vi.changes[k]
		if !ok {
			t.Errorf("no Vietnamese text for the change %s", k)
		}
		for _, m := range placeholder.FindAllStringSubmatch(tmpl, -1) {
			if !slices.Contains(allowed, m[1]) {
				t.Errorf("the Vietnamese text for the change %s shows {%s}", k, m[1])
			}
		}
	}
	if len(vi.changes) != len(verify.ChangeKinds()) {
		t.Errorf("%d Vietnamese change texts for %d kinds", len(vi.changes), len(verify.ChangeKinds()))
	}
	names := verify.TargetNames()
	for k, en := range names {
		if strings.Contains(en, "{arg}") != strings.Contains(vi.targets[k], "{arg}") || vi.targets[k] == "" {
			t.Errorf("target %s: %q in English, %q in Vietnamese", k, en, vi.targets[k])
		}
	}
	rules := verify.ChangeRules()
	for k := range rules {
		if vi.rules[k] == "" {
			t.Errorf("no Vietnamese name for the change rule %s", k)
		}
	}
	if len(vi.rules) != len(rules) {
		t.Errorf("%d Vietnamese rule names for %d", len(vi.rules), len(rules))
	}
	if len(vi.targets) != len(names) {
		t.Errorf("%d Vietnamese target names for %d", len(vi.targets), len(names))
	}
}
