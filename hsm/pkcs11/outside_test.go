//go:build cgo

package pkcs11

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/kyso-pki/kyso/hsm"
	"github.com/kyso-pki/kyso/internal/testenv"
)

// toolObject is one object as pkcs11-tool -O (OpenSC 0.23) prints it:
//
//	Private Key Object; EC
//	  label:      k1
//	  ID:         fe1abcc6881bedb1d351835058b632e9
//	  Usage:      sign
//	  Access:     sensitive, always sensitive, never extractable, local
type toolObject struct {
	kind   string // "Private Key Object; EC", ...
	fields map[string]string
}

func parseToolObjects(out string) []toolObject {
	var objs []toolObject
	for _, line := range strings.Split(out, "\n") {
		switch {
		case strings.Contains(line, " Object;") && !strings.HasPrefix(line, " "):
			objs = append(objs, toolObject{kind: strings.TrimSpace(line), fields: map[string]string{}})
		case strings.HasPrefix(line, "  ") && len(objs) > 0:
			k, v, ok := strings.Cut(strings.TrimSpace(line), ":")
			if ok {
				objs[len(objs)-1].fields[k] = strings.TrimSpace(v)
			}
		}
	}
	return objs
}

func (o toolObject) access() map[string]bool {
	m := map[string]bool{}
	for _, a := range strings.Split(o.fields["Access"], ",") {
		m[strings.TrimSpace(a)] = true
	}
	return m
}

// TestOutsideChecker has OpenSC's pkcs11-tool, not kyso, list the token and
// read the attributes of the keys kyso made.
func TestOutsideChecker(t *testing.T) {
	tool := testenv.LookPath(t, "pkcs11-tool", "apt-get install opensc")
	s, sh := openStore(t)
	ctx := context.Background()
	for _, k := range []struct {
		label string
		alg   hsm.Algorithm
	}{{"outside-ec", hsm.ECDSAP256}, {"outside-rsa", hsm.RSA2048}} {
		if _, err := s.CreateKey(ctx, &hsm.CreateKeyRequest{Label: k.label, Algorithm: k.alg}); err != nil {
			t.Fatal(err)
		}
	}
	if err := s.CreateMasterKey(ctx, ""); err != nil {
		t.Fatal(err)
	}
	run := func(args ...string) (string, error) {
		cmd := exec.Command(tool, append([]string{"--module", sh.Module, "--token-label", sh.TokenLabel, "--login", "--pin", sh.PIN}, args...)...)
		cmd.Env = sh.Env()
		out, errOut, err := testenv.Run(cmd)
		if err != nil {
			err = fmt.Errorf("%w\nstderr: %s", err, errOut)
		}
		return out, err
	}
	out, err := run("-O")
	if err != nil {
		t.Fatalf("pkcs11-tool -O: %v\n%s", err, out)
	}
	objs := parseToolObjects(out)
	find := func(kindPrefix, label string) *toolObject {
		for i := range objs {
			if strings.HasPrefix(objs[i].kind, kindPrefix) && objs[i].fields["label"] == label {
				return &objs[i]
			}
		}
		return nil
	}
	for _, label := range []string{"outside-ec", "outside-rsa"} {
		priv := find("Private Key Object", label)
		if priv == nil {
			t.Fatalf("pkcs11-tool does not list private key %q on token %s:\n%s", label, sh.TokenLabel, out)
		}
		a := priv.access()
		if !a["sensitive"] || !a["never extractable"] || a["extractable"] {
			t.Errorf("pkcs11-tool shows %q with access %q, want sensitive and never extractable", label, priv.fields["Access"])
		}
		if priv.fields["Usage"] != "sign" {
			t.Errorf("pkcs11-tool shows %q with usage %q, want sign only", label, priv.fields["Usage"])
		}
		pub := find("Public Key Object", label)
		if pub == nil || pub.fields["ID"] != priv.fields["ID"] || len(priv.fields["ID"]) != 32 {
			t.Errorf("public key of %q missing or with another ID", label)
		}
		// pkcs11-tool 0.23 refuses to read private keys outright; the
		// token would refuse too (CKA_VALUE is sensitive). Either way
		// nothing may come out.
		file := filepath.Join(t.TempDir(), label+".der")
		out, err := run("--read-object", "--type", "privkey", "--label", label, "--output-file", file)
		if data, _ := os.ReadFile(file); len(data) > 0 {
			t.Errorf("pkcs11-tool read %d bytes of private key %q (%v):\n%s", len(data), label, err, out)
		}
	}
	mk := find("Secret Key Object", DefaultMasterKey)
	if mk == nil {
		t.Fatalf("pkcs11-tool does not list the master key:\n%s", out)
	}
	if a := mk.access(); !a["sensitive"] || !a["never extractable"] {
		t.Errorf("pkcs11-tool shows the master key with access %q, want sensitive and never extractable", mk.fields["Access"])
	}
	if !strings.Contains(mk.kind, "AES length 32") {
		t.Errorf("master key is %q, want AES-256", mk.kind)
	}
}
