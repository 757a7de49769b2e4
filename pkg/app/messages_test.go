package app

import (
	"testing"

	"golang.org/x/text/unicode/norm"
)

// TestMessages: every word the app says exists in both languages, in NFC
// (Vietnamese precomposed, as people type and search it).
func TestMessages(t *testing.T) {
	for lang, m := range messages {
		for other, om := range messages {
			for k := range om {
				if m[k] == "" {
					t.Errorf("%q is in %s but not in %s", k, other, lang)
				}
			}
		}
		for k, v := range m {
			if !norm.NFC.IsNormalString(v) {
				t.Errorf("%s %q is not NFC", lang, k)
			}
		}
	}
}
