package main

import (
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/kyso-pki/kyso/pkg/campaignreg"
)

// TestRegistryMemberAndFailClosed: `kyso registry member` needs the
// provider's ID in kyso.json and prints an entry the registry's members
// file accepts, named as kyso.json says or else as the CA's organisation; enrolling with a shared registry that does not answer
// fails, issuing nothing; a malformed --switch-consent is a usage error.
func TestRegistryMemberAndFailClosed(t *testing.T) {
	dir, data, run := initData(t)
	if _, errOut := run(1, "registry", "member", "--data", data); !strings.Contains(errOut, "provider_id") {
		t.Fatalf("registry member without a provider: %s", errOut)
	}
	setRegistry := func(reg map[string]string) {
		t.Helper()
		path := filepath.Join(data, "kyso.json")
		b, err := os.ReadFile(path)
		if err != nil {
			t.Fatal(err)
		}
		var c map[string]any
		if err := json.Unmarshal(b, &c); err != nil {
			t.Fatal(err)
		}
		c["campaign_registry"] = reg
		b, _ = json.Marshal(c)
		if err := os.WriteFile(path, b, 0o600); err != nil {
			t.Fatal(err)
		}
	}
	// Without a provider_name, the name is the CA's organisation.
	setRegistry(map[string]string{"provider_id": "prov-b"})
	if out, _ := run(0, "registry", "member", "--data", data); !strings.Contains(out, "Kyso Development") {
		t.Fatalf("the entry of a provider named by its CA: %s", out)
	}
	setRegistry(map[string]string{"provider_id": "prov-b", "provider_name": "Nhà cung cấp B"})
	out, _ := run(0, "registry", "member", "--data", data)
	ms, err := campaignreg.ParseMembers([]byte(out))
	if err != nil || len(ms) != 1 || ms[0].ID != "prov-b" || ms[0].Name != "Nhà cung cấp B" {
		t.Fatalf("the entry %q does not parse as one member: %v", out, err)
	}
	again, _ := run(0, "registry", "member", "--data", data)
	if again != out {
		t.Fatalf("the keys changed between two runs:\n%s\n%s", out, again)
	}

	pin := filepath.Join(dir, "pin")
	os.WriteFile(pin, []byte("135790\n"), 0o600)
	enrol := []string{"enroll", "--data", data, "--cccd", "079203008181", "--name", "Trần Thị Bình", "--province", "Đà Nẵng", "--pin-source", "file:" + pin}
	if _, errOut := run(2, append(enrol, "--switch-consent", "no-reference")...); !strings.Contains(errOut, "KIND:REFERENCE") {
		t.Fatalf("a malformed --switch-consent: %s", errOut)
	}
	setRegistry(map[string]string{"provider_id": "prov-b", "provider_name": "Nhà cung cấp B", "url": "https://127.0.0.1:1"})
	if _, errOut := run(1, enrol...); !strings.Contains(errOut, "campaign registry") {
		t.Fatalf("enrolling with an unreachable registry: %s", errOut)
	}
	if out, _ := run(0, "cert", "list", "--data", data, "--cccd", "079203008181", "--output", "json"); strings.Contains(out, "serial") {
		t.Fatalf("a certificate was issued though the registry did not answer: %s", out)
	}
}

// TestRegistryBackfill: `kyso registry backfill` walks the campaign
// certificates in force and registers what the registry lacks; with the
// embedded registry, which every enrolment consulted, each is held here
// already. The dry run and JSON say the same.
func TestRegistryBackfill(t *testing.T) {
	dir, data, run := initData(t)
	pin := filepath.Join(dir, "pin")
	os.WriteFile(pin, []byte("135790\n"), 0o600)
	for _, cccd := range []string{"079203008282", "079203008383"} {
		run(0, "enroll", "--data", data, "--cccd", cccd, "--name", "Trần Thị Bình", "--province", "Đà Nẵng", "--pin-source", "file:"+pin)
	}
	if out, _ := run(0, "registry", "backfill", "--data", data, "--dry-run"); !strings.Contains(out, "0 to register (dry run), 2 held here already, 0 held by another provider") {
		t.Fatalf("registry backfill --dry-run: %q", out)
	}
	out, _ := run(0, "registry", "backfill", "--data", data, "--output", "json")
	var b struct {
		Registered, Held int
		Elsewhere        []any
	}
	if err := json.Unmarshal([]byte(out), &b); err != nil || b.Registered != 0 || b.Held != 2 || b.Elsewhere == nil {
		t.Fatalf("registry backfill --output json: %q, %v", out, err)
	}
	if _, errOut := run(2, "registry", "backfill", "--data", data, "extra"); errOut == "" {
		t.Fatal("registry backfill with an argument: no usage error")
	}
}
