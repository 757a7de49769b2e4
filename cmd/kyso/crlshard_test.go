package main

import (
	"encoding/json"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
)

// TestCRLShardsCLI: ca init --crl-shards keeps the setting in kyso.json;
// a citizen's certificate then names its shard's CRL, and crl generate
// makes and lists that shard's CRL by its file name, beside the issuing
// CA's original one (which -o still writes). A bad count is a usage error.
func TestCRLShardsCLI(t *testing.T) {
	dir := t.TempDir()
	data := filepath.Join(dir, "data")
	t.Setenv("KYSO_DATA", data)
	t.Setenv("KYSO_KEYSTORE", "")
	if _, errOut, code := kyso(t, "ca", "init", "--crl-shards", "5000"); code != 2 || !strings.Contains(errOut, "--crl-shards 5000 is outside") {
		t.Errorf("ca init --crl-shards 5000: exit %d, %s", code, errOut)
	}
	kysoOK(t, "ca", "init", "--base-url", "http://pki.example.vn", "--crl-shards", "8")
	cfg, _ := os.ReadFile(filepath.Join(data, "kyso.json"))
	if !strings.Contains(string(cfg), `"crl_shards": 8`) {
		t.Errorf("kyso.json does not keep crl_shards:\n%s", cfg)
	}
	var issued certJSON
	json.Unmarshal([]byte(kysoOK(t, "cert", "issue", "--cccd", "079203001234", "--name", "Nguyễn Văn Đức", "--province", "Hồ Chí Minh",
		"--keygen", "ecdsa-p256", "--label", "shard-citizen", "--output", "json")), &issued)
	c := parsePEM(t, issued.PEM)
	m := regexp.MustCompile(`^http://pki\.example\.vn/crl/(issuing-[1-8])\.crl$`).FindStringSubmatch(strings.Join(c.CRLDistributionPoints, " "))
	if m == nil {
		t.Fatalf("the certificate names %v, not a shard of 8", c.CRLDistributionPoints)
	}
	out := kysoOK(t, "crl", "generate", "-o", filepath.Join(dir, "issuing.crl"))
	for _, name := range []string{"root", "issuing", m[1]} {
		if !regexp.MustCompile(`(?m)^` + name + `\tCRL number \d+\t`).MatchString(out) {
			t.Errorf("crl generate does not list %s:\n%s", name, out)
		}
	}
	if b, err := os.ReadFile(filepath.Join(dir, "issuing.crl")); err != nil || len(b) == 0 {
		t.Errorf("crl generate -o wrote nothing: %v", err)
	}
}
