package ca_test

import (
	"context"
	"crypto/x509"
	"fmt"
	"log"
	"os"
	"path/filepath"

	"github.com/kyso-pki/kyso/hsm"
	"github.com/kyso-pki/kyso/hsm/softkey"
	"github.com/kyso-pki/kyso/pkg/ca"
	"github.com/kyso-pki/kyso/pkg/display"
	"github.com/kyso-pki/kyso/pkg/store/sqlite"
)

// An Authority over a store and a key store: Init makes the hierarchy
// (root, issuing CA, OCSP and TSA certificates, keys in the key store),
// and IssueCitizen a citizen's signing certificate in the Vietnamese
// profile, its key made in the key store first.
func ExampleAuthority_IssueCitizen() {
	dir, err := os.MkdirTemp("", "ca-example-")
	if err != nil {
		log.Fatal(err)
	}
	defer os.RemoveAll(dir)
	ctx := context.Background()
	st, err := sqlite.Open(ctx, filepath.Join(dir, "kyso.db"), nil)
	if err != nil {
		log.Fatal(err)
	}
	defer st.Close()
	// A provider keeps its keys in an HSM (hsm/pkcs11); softkey stands in.
	// The inline passphrase and the small KDF cost are for examples only.
	u, err := hsm.ParseURI("softkey:?dir=" + filepath.Join(dir, "keys") + "&passphrase=example-only")
	if err != nil {
		log.Fatal(err)
	}
	ks, err := softkey.Open(ctx, u, &softkey.Options{KDF: softkey.KDFParams{Time: 1, MemoryKiB: 1024, Threads: 1}})
	if err != nil {
		log.Fatal(err)
	}
	defer ks.Close()

	a, err := ca.New(st, ks, &ca.Options{BaseURL: "http://pki.example.vn"})
	if err != nil {
		log.Fatal(err)
	}
	h, err := a.Init(ctx, &ca.InitRequest{Name: "Nhà cung cấp Ký số"})
	if err != nil {
		log.Fatal(err)
	}
	cert, err := a.IssueCitizen(ctx, &ca.CitizenRequest{Name: "Nguyễn Văn Đức", CCCD: "079203001234", Province: "Hồ Chí Minh",
		Key: ca.KeySource{KeyLabel: "citizen-079203001234", KeyAlgorithm: hsm.ECDSAP256}})
	if err != nil {
		log.Fatal(err)
	}

	roots, intermediates := x509.NewCertPool(), x509.NewCertPool()
	roots.AddCert(h.Root)
	intermediates.AddCert(h.Issuing)
	_, err = cert.Verify(x509.VerifyOptions{Roots: roots, Intermediates: intermediates, KeyUsages: []x509.ExtKeyUsage{x509.ExtKeyUsageAny}})
	fmt.Println(display.SubjectDN(cert))
	fmt.Println("issued by:", cert.Issuer.CommonName)
	fmt.Println("OCSP:", cert.OCSPServer)
	fmt.Println("chains to the root:", err == nil)
	// Output:
	// UID=CCCD:079203001234,CN=Nguyễn Văn Đức,ST=Hồ Chí Minh,C=VN
	// issued by: Nhà cung cấp Ký số Issuing CA
	// OCSP: [http://pki.example.vn/ocsp]
	// chains to the root: true
}
