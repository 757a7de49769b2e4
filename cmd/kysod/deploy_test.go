package main

import (
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"

	"github.com/kyso-pki/kyso/internal/testenv"
)

// TestSystemdUnit: deploy/systemd/kysod.service passes systemd-analyze
// verify, its hardening leaves an exposure of at most 2.0 of 10
// (systemd-analyze security, offline), and its ExecStart's flags are
// kysod's.
func TestSystemdUnit(t *testing.T) {
	analyze := testenv.LookPath(t, "systemd-analyze", "apt-get install systemd")
	unit, err := os.ReadFile(filepath.Join("..", "..", "deploy", "systemd", "kysod.service"))
	if err != nil {
		t.Fatal(err)
	}
	start := regexp.MustCompile(`(?m)^ExecStart=(\S+)(.*)$`).FindSubmatch(unit)
	if start == nil || string(start[1]) != "/usr/local/bin/kysod" {
		t.Fatalf("no ExecStart=/usr/local/bin/kysod in the unit")
	}
	// The flags: kysod's, and a configuration file that parses (the
	// README's example stands in for /etc/kyso/kysod.yaml).
	dir := t.TempDir()
	args := strings.Fields(string(start[2]))
	for i, a := range args {
		if a == "/etc/kyso/kysod.yaml" {
			args[i] = filepath.Join(dir, "kysod.yaml")
			if err := os.WriteFile(args[i], []byte("log_level: info\nshutdown_timeout: 30s\n"), 0o600); err != nil {
				t.Fatal(err)
			}
		}
	}
	if _, _, err := loadConfig(args, func(string) string { return "" }, io.Discard); err != nil {
		t.Fatalf("kysod refuses the unit's ExecStart flags %q: %v", args, err)
	}
	// systemd-analyze checks that the program exists and runs: this
	// test's binary stands in for /usr/local/bin/kysod.
	self, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(dir, "kysod.service")
	if err := os.WriteFile(path, []byte(strings.Replace(string(unit), "ExecStart=/usr/local/bin/kysod", "ExecStart="+self, 1)), 0o644); err != nil {
		t.Fatal(err)
	}
	if out, err := exec.Command(analyze, "verify", path).CombinedOutput(); err != nil || len(out) > 0 {
		t.Errorf("systemd-analyze verify: %v\n%s", err, out)
	}
	out, err := exec.Command(analyze, "security", "--offline=true", "--no-pager", path).CombinedOutput()
	if err != nil {
		t.Fatalf("systemd-analyze security: %v\n%s", err, out)
	}
	m := regexp.MustCompile(`Overall exposure level for kysod\.service: ([0-9.]+)`).FindSubmatch(out)
	if m == nil {
		t.Fatalf("no exposure level in:\n%s", out)
	}
	if level, _ := strconv.ParseFloat(string(m[1]), 64); level > 2.0 {
		t.Errorf("exposure %.1f, want at most 2.0 (of 10):\n%s", level, out)
	}
}

// TestContainerfile: deploy/container/Containerfile's environment is
// kysod's (each variable read, listening on the ports it exposes) and
// its entry point is kysod. No container engine runs on the test machine:
// the image itself is built where one does.
func TestContainerfile(t *testing.T) {
	b, err := os.ReadFile(filepath.Join("..", "..", "deploy", "container", "Containerfile"))
	if err != nil {
		t.Fatal(err)
	}
	file := string(b)
	envLine := regexp.MustCompile(`(?m)^ENV (.*)$`).FindStringSubmatch(file)
	if envLine == nil {
		t.Fatal("no ENV line")
	}
	env := map[string]string{}
	for _, kv := range strings.Fields(envLine[1]) {
		k, v, _ := strings.Cut(kv, "=")
		env[k] = v
	}
	c, _, err := loadConfig(nil, func(k string) string { return env[k] }, io.Discard)
	if err != nil {
		t.Fatalf("kysod refuses the image's environment %v: %v", env, err)
	}
	if c.Data != "/var/lib/kyso" || c.Listen != "0.0.0.0:8443" || c.HTTP != "0.0.0.0:8080" {
		t.Errorf("kysod reads data %q, listen %q, http %q from the image's environment", c.Data, c.Listen, c.HTTP)
	}
	if !strings.Contains(file, "\nEXPOSE 8443 8080\n") || !strings.Contains(file, `ENTRYPOINT ["/usr/local/bin/kysod"]`) {
		t.Error("the image exposes other ports than kysod listens on, or does not start kysod")
	}
	if !strings.Contains(file, "VOLUME /var/lib/kyso") || !strings.Contains(file, "USER kyso") {
		t.Error("the data directory is not a volume, or kysod runs as root")
	}
}
