package datadir

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

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
