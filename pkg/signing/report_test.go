package signing_test

import (
	"strings"
	"testing"

	"github.com/kyso-pki/kyso/pkg/signing"
)

// TestParsePopulation: the population table is read strictly — its
// header, positive counts, each province once, displayable text, bounded
// size.
func TestParsePopulation(t *testing.T) {
	for _, c := range []struct{ name, csv, says string }{
		{"no header", "Huế,10,x\n", "header"},
		{"no rows", "province,adults,source\n", "header"},
		{"a zero", "province,adults,source\nHuế,0,x\n", "positive"},
		{"a word", "province,adults,source\nHuế,many,x\n", "positive"},
		{"twice", "province,adults,source\nHuế,1,x\nHuế,2,x\n", "twice"},
		{"a control character", "province,adults,source\nHu\x1be,1,x\n", "province"},
		{"too big", "province,adults,source\n" + strings.Repeat("a", signing.MaxPopulationFile), "bytes"},
	} {
		if _, err := signing.ParsePopulation([]byte(c.csv)); err == nil || !strings.Contains(err.Error(), c.says) {
			t.Errorf("%s: %v, want an error saying %q", c.name, err, c.says)
		}
	}
}
