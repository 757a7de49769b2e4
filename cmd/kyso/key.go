package main

import (
	"context"
	"crypto/x509"
	"encoding/pem"
	"fmt"
	"os"
	"text/tabwriter"

	"github.com/kyso-pki/kyso/cmd/internal/datadir"
	"github.com/kyso-pki/kyso/hsm"
	"github.com/kyso-pki/kyso/hsm/keystore"
	"github.com/kyso-pki/kyso/pkg/signing"
)

// keyJSON is how a key is printed with --output json.
type keyJSON struct {
	Label        string `json:"label"`
	URI          string `json:"uri"`
	Algorithm    string `json:"algorithm"`
	PublicKeyPEM string `json:"public_key_pem"`
}

func toKeyJSON(k *hsm.KeyInfo) (keyJSON, error) {
	der, err := x509.MarshalPKIXPublicKey(k.PublicKey)
	if err != nil {
		return keyJSON{}, fmt.Errorf("encoding public key of %q: %w", k.Label, err)
	}
	return keyJSON{
		Label:        k.Label,
		URI:          k.URI,
		Algorithm:    string(k.Algorithm),
		PublicKeyPEM: string(pem.EncodeToMemory(&pem.Block{Type: "PUBLIC KEY", Bytes: der})),
	}, nil
}

// keystoreFlag adds --keystore, defaulting to $KYSO_KEYSTORE.
func keystoreFlag(fs interface {
	String(string, string, string) *string
}) *string {
	return fs.String("keystore", os.Getenv("KYSO_KEYSTORE"), "key store URI (pkcs11:, vault: or softkey:); default $KYSO_KEYSTORE")
}

func openKeystore(ctx context.Context, uri string) (hsm.KeyStore, string, error) {
	if uri == "" {
		return nil, "", usagef("--keystore is required (or set KYSO_KEYSTORE)")
	}
	return keystore.Open(ctx, uri, nil)
}

func keyCreate(ctx context.Context, e *env, args []string) error {
	fs := newFlags(e, "key create", "key create --keystore URI --label NAME --alg ecdsa-p256|ecdsa-p384|rsa-2048|rsa-3072|rsa-4096|ed25519 [--output json]")
	ksURI := keystoreFlag(fs)
	label := fs.String("label", "", "label of the new key (letters, digits, '.', '_', '-')")
	algName := fs.String("alg", "ecdsa-p256", "key algorithm: ecdsa-p256, ecdsa-p384, rsa-2048, rsa-3072, rsa-4096, ed25519")
	out := outputFlag(fs)
	if err := parse(fs, args); err != nil {
		return err
	}
	if err := checkOutput(*out); err != nil {
		return err
	}
	alg, err := hsm.ParseAlgorithm(*algName)
	if err != nil {
		return usagef("%v", err)
	}
	ks, uriLabel, err := openKeystore(ctx, *ksURI)
	if err != nil {
		return err
	}
	defer ks.Close()
	if *label == "" {
		*label = uriLabel
	}
	if *label == "" {
		return usagef("--label is required")
	}
	if signing.IsCredentialKey(*label) {
		return usagef("%s", reservedLabel(*label))
	}
	info, err := ks.CreateKey(ctx, &hsm.CreateKeyRequest{Label: *label, Algorithm: alg})
	if err != nil {
		return err
	}
	kj, err := toKeyJSON(info)
	if err != nil {
		return err
	}
	if *out == "json" {
		return writeJSON(e.stdout, kj)
	}
	fmt.Fprintf(e.stdout, "%s\n%s", kj.URI, kj.PublicKeyPEM)
	return nil
}

func keyList(ctx context.Context, e *env, args []string) error {
	fs := newFlags(e, "key list", "key list --keystore URI [--output json]")
	ksURI := keystoreFlag(fs)
	out := outputFlag(fs)
	if err := parse(fs, args); err != nil {
		return err
	}
	if err := checkOutput(*out); err != nil {
		return err
	}
	ks, _, err := openKeystore(ctx, *ksURI)
	if err != nil {
		return err
	}
	defer ks.Close()
	keys, err := ks.ListKeys(ctx, &hsm.ListKeysRequest{})
	if err != nil {
		return err
	}
	list := make([]keyJSON, 0, len(keys))
	for _, k := range keys {
		kj, err := toKeyJSON(k)
		if err != nil {
			return err
		}
		list = append(list, kj)
	}
	if *out == "json" {
		return writeJSON(e.stdout, list)
	}
	tw := tabwriter.NewWriter(e.stdout, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "LABEL\tALGORITHM\tURI")
	for _, k := range list {
		fmt.Fprintf(tw, "%s\t%s\t%s\n", k.Label, k.Algorithm, k.URI)
	}
	return tw.Flush()
}

func keyDelete(ctx context.Context, e *env, args []string) error {
	fs := newFlags(e, "key delete", "key delete --keystore URI --label NAME")
	ksURI := keystoreFlag(fs)
	label := fs.String("label", "", "label of the key to destroy")
	if err := parse(fs, args); err != nil {
		return err
	}
	ks, uriLabel, err := openKeystore(ctx, *ksURI)
	if err != nil {
		return err
	}
	defer ks.Close()
	if *label == "" {
		*label = uriLabel
	}
	if *label == "" {
		return usagef("--label is required")
	}
	del, ok := ks.(hsm.KeyDeleter)
	if !ok {
		return fmt.Errorf("this key store cannot delete keys")
	}
	if err := del.DeleteKey(ctx, &hsm.DeleteKeyRequest{Label: *label}); err != nil {
		return err
	}
	fmt.Fprintf(e.stderr, "deleted key %q\n", *label)
	return nil
}

// reservedLabel says why a label starting signing.CredentialKeyPrefix is
// refused outside enrolment.
func reservedLabel(label string) string {
	return fmt.Sprintf("label %q: labels starting %q are kept for enrolled citizens' keys (kyso enroll), which sign only with their owner's approval", label, signing.CredentialKeyPrefix)
}

// masterKeyCreator is a key store that can make a master wrapping key.
type masterKeyCreator interface {
	CreateMasterKey(ctx context.Context, label string) error
}

func keyCreateMaster(ctx context.Context, e *env, args []string) error {
	fs := newFlags(e, "key create-master", "key create-master (--keystore pkcs11:URI | --data DIR) [--label NAME]")
	ksURI := keystoreFlag(fs)
	dataDir := fs.String("data", envOrDefault("KYSO_DATA", "./kyso-data"), "data directory whose key store (kyso.json) to use when --keystore is not given")
	label := fs.String("label", "", "label of the master key (default: the URI's master-key attribute, else kyso-master)")
	if err := parse(fs, args); err != nil {
		return err
	}
	if *ksURI == "" {
		dir, err := datadir.Load(*dataDir)
		if err != nil {
			return err
		}
		if dir.Development {
			return fmt.Errorf("%s uses the development softkey store, which needs no master key (only PKCS#11 key stores wrap citizens' keys)", *dataDir)
		}
		*ksURI = dir.Config.Keystore
	}
	ks, _, err := openKeystore(ctx, *ksURI)
	if err != nil {
		return err
	}
	defer ks.Close()
	mk, ok := ks.(masterKeyCreator)
	if !ok {
		return fmt.Errorf("only PKCS#11 key stores hold a master wrapping key (Vault and softkey keep every key themselves)")
	}
	if err := mk.CreateMasterKey(ctx, *label); err != nil {
		return err
	}
	fmt.Fprintln(e.stderr, "created the master wrapping key: AES-256, sensitive, not extractable, wrap/unwrap only")
	return nil
}
