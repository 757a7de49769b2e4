package main

import (
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// TestConfigPrecedence: a flag beats KYSO_…, which beats the YAML file,
// which beats the default.
func TestConfigPrecedence(t *testing.T) {
	file := filepath.Join(t.TempDir(), "kysod.yaml")
	os.WriteFile(file, []byte("data: /from/file\nlisten: 10.0.0.1:443\nhttp: 10.0.0.1:80\nlog_level: warn\nshutdown_timeout: 45s\nsigning:\n  pin_attempts: 3\n  sad_lifetime: 2m\n  signer_check_max_age: -1s\n"), 0o600)
	env := map[string]string{"KYSO_CONFIG": file, "KYSO_LISTEN": "10.0.0.2:8443", "KYSO_HTTP": "10.0.0.2:8080"}
	c, _, err := loadConfig([]string{"--http", "10.0.0.3:8080"}, func(k string) string { return env[k] }, io.Discard)
	if err != nil {
		t.Fatal(err)
	}
	want := config{Data: "/from/file", Listen: "10.0.0.2:8443", HTTP: "10.0.0.3:8080", LogLevel: "warn", ShutdownTimeout: 45 * time.Second}
	want.Signing.PINAttempts, want.Signing.SADLifetime, want.Signing.SignerCheckMaxAge = 3, 2*time.Minute, -time.Second
	if *c != want {
		t.Errorf("config %+v\nwant   %+v", *c, want)
	}
	c, _, err = loadConfig(nil, func(string) string { return "" }, io.Discard)
	if err != nil || c.Data != "./kyso-data" || c.Listen != "127.0.0.1:8443" || c.HTTP != "127.0.0.1:8080" || c.LogLevel != "info" || c.ShutdownTimeout != 30*time.Second {
		t.Errorf("defaults: %v %+v", err, c)
	}
	os.WriteFile(file, []byte("listne: 1.2.3.4:1\n"), 0o600)
	if _, _, err := loadConfig([]string{"--config", file}, func(string) string { return "" }, io.Discard); err == nil || !strings.Contains(err.Error(), "listne") {
		t.Errorf("a misspelt key: %v", err)
	}
	if _, _, err := loadConfig([]string{"stray"}, func(string) string { return "" }, io.Discard); err == nil {
		t.Error("a stray argument was accepted")
	}
}
