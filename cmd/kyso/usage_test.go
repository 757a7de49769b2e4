package main

import (
	"context"
	"encoding/json"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/kyso-pki/kyso/hsm"
	"github.com/kyso-pki/kyso/pkg/signing"
	"github.com/kyso-pki/kyso/pkg/store"
)

// TestUsageCommand: portals registered with --category public-service and
// by default (commercial) each get a signature; kyso usage counts them per
// citizen and per portal, free and metered, and refuses bad periods.
func TestUsageCommand(t *testing.T) {
	ctx := context.Background()
	dir := filepath.Join(t.TempDir(), "data")
	if _, stderr, code := kyso(t, "ca", "init", "--data", dir); code != 0 {
		t.Fatalf("ca init: %s", stderr)
	}
	create := func(args ...string) (id, category string) {
		t.Helper()
		out, stderr, code := kyso(t, append([]string{"client", "create", "--data", dir, "--output", "json"}, args...)...)
		var cl struct {
			ID       string `json:"client_id"`
			Category string `json:"category"`
		}
		if code != 0 || json.Unmarshal([]byte(out), &cl) != nil {
			t.Fatalf("client create %v: %d %s%s", args, code, out, stderr)
		}
		return cl.ID, cl.Category
	}
	pub, cat := create("--name", "Cổng Dịch vụ công", "--category", "public-service")
	if cat != store.CategoryPublicService {
		t.Fatalf("--category public-service made a %q client", cat)
	}
	com, cat := create("--name", "Ứng dụng hợp đồng")
	if cat != store.CategoryCommercial {
		t.Fatalf("the default category is %q, want commercial", cat)
	}
	if _, stderr, code := kyso(t, "client", "create", "--data", dir, "--name", "X", "--category", "free"); code != 2 || !strings.Contains(stderr, "public-service or commercial") {
		t.Errorf("client create --category free: %d %s", code, stderr)
	}

	svc, o := openService(t, dir)
	defer o.Close()
	en, err := svc.Enrol(ctx, &signing.EnrolRequest{CCCD: "079203004444", Name: "Trần Thị Bình", Province: "Đà Nẵng", PIN: "271828",
		Algorithm: hsm.ECDSAP256, Actor: "test"})
	if err != nil {
		t.Fatal(err)
	}
	now := time.Now()
	signOnce(t, svc, pub, en, "to-khai", now.Add(-30*time.Second))
	signOnce(t, svc, com, en, "hop-dong", now)
	today := now.UTC().Format(time.DateOnly)

	out, stderr, code := kyso(t, "usage", "--data", dir, "--from", today, "--to", today, "--cccd", "079203004444", "--output", "json")
	var u signing.Usage
	if code != 0 || json.Unmarshal([]byte(out), &u) != nil {
		t.Fatalf("usage --output json: %d %s%s", code, out, stderr)
	}
	if len(u.Citizens) != 1 || u.Citizens[0].ID != en.NationalID ||
		u.Citizens[0].ByCategory[store.CategoryPublicService] != (signing.UsageCount{Free: 1}) ||
		u.Citizens[0].ByCategory[store.CategoryCommercial] != (signing.UsageCount{Metered: 1}) || len(u.Portals) != 2 {
		t.Fatalf("usage: %s", out)
	}
	out, _, code = kyso(t, "usage", "--data", dir, "--from", today, "--to", today, "--client", com)
	if code != 0 || !strings.Contains(out, "per portal:") || !strings.Contains(out, com+"  commercial  0     1") || strings.Contains(out, pub) {
		t.Errorf("usage --client: %d\n%s", code, out)
	}
	// The commercial app becomes a public service: its next signature is
	// free, the one before stays metered.
	if out, stderr, code := kyso(t, "client", "set-category", com, "--data", dir, "--category", "public-service"); code != 0 || !strings.Contains(out, "public-service") {
		t.Fatalf("client set-category: %d %s%s", code, out, stderr)
	}
	if _, stderr, code := kyso(t, "client", "set-category", com, "--data", dir, "--category", "public-service"); code != 0 {
		t.Errorf("the same category again: %d %s, want no error", code, stderr)
	}
	signOnce(t, svc, com, en, "hop-dong-2", now.Add(30*time.Second))
	out, _, _ = kyso(t, "usage", "--data", dir, "--from", today, "--to", today, "--cccd", "079203004444", "--output", "json")
	if json.Unmarshal([]byte(out), &u) != nil || u.Citizens[0].ByCategory[store.CategoryPublicService] != (signing.UsageCount{Free: 2}) ||
		u.Citizens[0].ByCategory[store.CategoryCommercial] != (signing.UsageCount{Metered: 1}) {
		t.Errorf("after the move: %s, want 2 free and the earlier 1 metered", out)
	}
	for _, c := range []struct {
		args []string
		code int
		says string
	}{
		{[]string{"nobody", "--category", "commercial"}, 1, "no such client"},
		{[]string{com, "--category", "free"}, 2, "public-service or commercial"},
		{[]string{com}, 2, "--category is required"},
		{[]string{"--category", "commercial"}, 2, "client ID"},
	} {
		if _, stderr, code := kyso(t, append([]string{"client", "set-category", "--data", dir}, c.args...)...); code != c.code || !strings.Contains(stderr, c.says) {
			t.Errorf("client set-category %v: %d %q, want %d and %q", c.args, code, stderr, c.code, c.says)
		}
	}
	for _, c := range []struct {
		args []string
		code int
		says string
	}{
		{[]string{"--from", today}, 2, "--from and --to are required"},
		{[]string{"--from", "7/12/2026", "--to", today}, 2, "not a date"},
		{[]string{"--from", today, "--to", "2026-13-01"}, 2, "not a date"},
		{[]string{"--from", "2024-01-01", "--to", "2026-01-01"}, 1, "longer than 366 days"},
		{[]string{"--from", today, "--to", "2000-01-01"}, 1, "before it starts"},
		{[]string{"--from", today, "--to", today, "--cccd", "12"}, 1, "cccd"},
		{[]string{"--from", today, "--to", today, "--cccd", "079203000000"}, 1, "no citizen with that CCCD"},
		{[]string{"--from", today, "--to", today, "--client", "nobody"}, 1, "no such client"},
	} {
		_, stderr, code := kyso(t, append([]string{"usage", "--data", dir}, c.args...)...)
		if code != c.code || !strings.Contains(stderr, c.says) {
			t.Errorf("usage %v: %d %q, want %d and %q", c.args, code, stderr, c.code, c.says)
		}
	}
}
