package datadir

import (
	"context"
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/kyso-pki/kyso/pkg/ca"
)

// TestLock: a second Lock on the same directory waits while the first is
// held, until its context ends, and gets the lock once the first is
// released; releasing twice is harmless.
func TestLock(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "data")
	ctx := context.Background()
	unlock, err := Lock(ctx, dir, nil)
	if err != nil {
		t.Fatal(err)
	}
	if fi, err := os.Stat(filepath.Join(dir, LockFile)); err != nil || fi.Mode().Perm() != 0o600 {
		t.Fatalf("lock file: %v", err)
	}
	short, cancel := context.WithTimeout(ctx, 200*time.Millisecond)
	defer cancel()
	if _, err := Lock(short, dir, nil); !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("Lock while held: %v, want a deadline error", err)
	}
	got := make(chan error, 1)
	go func() {
		u, err := Lock(ctx, dir, nil)
		if err == nil {
			u()
		}
		got <- err
	}()
	select {
	case err := <-got:
		t.Fatalf("Lock returned (%v) while the lock was held", err)
	case <-time.After(200 * time.Millisecond):
	}
	unlock()
	unlock()
	select {
	case err := <-got:
		if err != nil {
			t.Fatal(err)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("Lock did not return after the lock was released")
	}
}

// TestEnsurePassphraseRace: processes making the passphrase at once all end
// up with one whole passphrase, made by one of them.
func TestEnsurePassphraseRace(t *testing.T) {
	path := filepath.Join(t.TempDir(), "passphrase")
	const n = 16
	var wg sync.WaitGroup
	created := make([]bool, n)
	read := make([]string, n)
	for i := range n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			c, err := ensurePassphrase(path)
			if err != nil {
				t.Error(err)
				return
			}
			b, err := os.ReadFile(path)
			if err != nil {
				t.Error(err)
			}
			created[i], read[i] = c, string(b)
		}()
	}
	wg.Wait()
	makers := 0
	for i := range n {
		if created[i] {
			makers++
		}
		if len(read[i]) != 44 || read[i] != read[0] {
			t.Errorf("goroutine %d read %q, goroutine 0 %q", i, read[i], read[0])
		}
	}
	if makers != 1 {
		t.Errorf("%d goroutines made the passphrase, want 1", makers)
	}
	if entries, _ := os.ReadDir(filepath.Dir(path)); len(entries) != 1 {
		t.Errorf("the directory holds %d files, want only the passphrase", len(entries))
	}
}

// TestDevelopmentBaseURL: a fresh development directory takes the base URL
// Open is given and records it in kyso.json; later opens keep it whatever
// they are given; a directory whose kyso.json names a base URL, or that is
// not a development one, keeps its own.
func TestDevelopmentBaseURL(t *testing.T) {
	ctx := context.Background()
	open := func(t *testing.T, path, keystore, base string) *Dir {
		t.Helper()
		d, err := Load(path)
		if err != nil {
			t.Fatal(err)
		}
		if keystore != "" {
			d.Config.Keystore, d.Development = keystore, false
		}
		o, err := d.Open(ctx, &Options{DevelopmentBaseURL: base})
		if err != nil {
			t.Fatal(err)
		}
		defer o.Close()
		if _, err := o.CA.Hierarchy(ctx); errors.Is(err, ca.ErrNoHierarchy) {
			if _, err := o.CA.Init(ctx, nil); err != nil {
				t.Fatal(err)
			}
		}
		return d
	}
	kept := func(t *testing.T, path string) string {
		t.Helper()
		var c Config
		b, err := os.ReadFile(filepath.Join(path, ConfigFile))
		if errors.Is(err, os.ErrNotExist) {
			return ""
		}
		if err != nil || json.Unmarshal(b, &c) != nil {
			t.Fatalf("kyso.json: %v %s", err, b)
		}
		return c.BaseURL
	}
	t.Run("fresh development directory", func(t *testing.T) {
		path := filepath.Join(t.TempDir(), "data")
		if d := open(t, path, "", "http://127.0.0.1:9080"); d.Config.BaseURL != "http://127.0.0.1:9080" {
			t.Errorf("base URL %q", d.Config.BaseURL)
		}
		if got := kept(t, path); got != "http://127.0.0.1:9080" {
			t.Errorf("kyso.json base_url %q", got)
		}
		if d := open(t, path, "", "http://127.0.0.1:9090"); d.Config.BaseURL != "http://127.0.0.1:9080" {
			t.Errorf("reopened with another address: base URL %q, want the recorded one", d.Config.BaseURL)
		}
	})
	t.Run("base URL in kyso.json", func(t *testing.T) {
		path := filepath.Join(t.TempDir(), "data")
		d := &Dir{Path: path, Config: Config{BaseURL: "http://ca.example.vn"}, Development: true}
		if err := d.Save(); err != nil {
			t.Fatal(err)
		}
		if d := open(t, path, "", "http://127.0.0.1:9080"); d.Config.BaseURL != "http://ca.example.vn" {
			t.Errorf("base URL %q", d.Config.BaseURL)
		}
	})
	t.Run("hierarchy made before base URLs were recorded", func(t *testing.T) {
		path := filepath.Join(t.TempDir(), "data")
		open(t, path, "", "")
		if d := open(t, path, "", "http://127.0.0.1:9080"); d.Config.BaseURL != ca.DefaultBaseURL || kept(t, path) != "" {
			t.Errorf("base URL %q, kyso.json %q; want the default its certificates carry", d.Config.BaseURL, kept(t, path))
		}
	})
	t.Run("configured key store", func(t *testing.T) {
		path := filepath.Join(t.TempDir(), "data")
		t.Setenv("KYSO_TEST_PASS", "a long test passphrase")
		ks := "softkey:?dir=" + filepath.Join(path, "own-keys") + "&passphrase-source=env:KYSO_TEST_PASS"
		if d := open(t, path, ks, "http://127.0.0.1:9080"); d.Config.BaseURL != ca.DefaultBaseURL || kept(t, path) != "" {
			t.Errorf("base URL %q, kyso.json %q; want the default", d.Config.BaseURL, kept(t, path))
		}
	})
}

// TestKeystoreSecretRefused: a key store URI that holds its secret is
// refused when given (UseKeystore), when saved and when read back from
// kyso.json; one that names where the secret is kept goes through.
func TestKeystoreSecretRefused(t *testing.T) {
	for _, c := range []struct{ name, uri, want string }{
		{"pin-value", "pkcs11:token=kyso?module-path=/m.so&pin-value=1234", "pin-source=file:PATH or pin-source=env:NAME"},
		{"so-pin-value", "pkcs11:token=kyso?pin-source=env:P&so-pin-value=1234", "leave it out"},
		{"softkey passphrase", "softkey:?dir=/k&passphrase=1234-5678", "passphrase-source=file:PATH"},
		{"vault token", "vault:mount=transit?address=https://v:8200&token=1234", "token-source=file:PATH"},
	} {
		t.Run(c.name, func(t *testing.T) {
			check := func(what string, err error) {
				t.Helper()
				if err == nil || !strings.Contains(err.Error(), c.want) || strings.Contains(err.Error(), "1234") {
					t.Errorf("%s: %v; want an error saying %q, without the secret", what, err, c.want)
				}
			}
			dir := t.TempDir()
			d, err := Load(dir)
			if err != nil {
				t.Fatal(err)
			}
			check("UseKeystore", d.UseKeystore(c.uri))
			if !d.Development || d.Config.Keystore == c.uri {
				t.Errorf("a refused URI was taken: %+v", d)
			}
			d.Config.Keystore, d.Development = c.uri, false
			check("Save", d.Save())
			if _, err := os.Stat(filepath.Join(dir, ConfigFile)); err == nil {
				t.Errorf("%s was written", ConfigFile)
			}
			// A kyso.json written by hand, or by an older kyso.
			if err := os.WriteFile(filepath.Join(dir, ConfigFile), []byte(`{"keystore":"`+c.uri+`"}`), 0o600); err != nil {
				t.Fatal(err)
			}
			_, err = Load(dir)
			check("Load", err)
		})
	}
	t.Run("pin-source is kept", func(t *testing.T) {
		dir := t.TempDir()
		d, err := Load(dir)
		if err != nil {
			t.Fatal(err)
		}
		const uri = "pkcs11:token=kyso?module-path=/m.so&pin-source=file:/etc/kyso/pin"
		if err := d.UseKeystore(uri); err != nil {
			t.Fatal(err)
		}
		if err := d.Save(); err != nil {
			t.Fatal(err)
		}
		d, err = Load(dir)
		if err != nil || d.Config.Keystore != uri || d.Development {
			t.Errorf("Load after Save = %+v, %v", d, err)
		}
	})
}
