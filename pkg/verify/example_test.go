package verify_test

import (
	"bytes"
	"context"
	"crypto/x509"
	"fmt"
	"log"
	"time"

	"github.com/kyso-pki/kyso/pkg/verify"
	"github.com/kyso-pki/kyso/testvectors"
)

// Verify validates every signature of a PDF against the trust anchors
// given; the report says, for each, the verdict of ETSI EN 319 102-1, the
// signer, the claimed signing time and the PAdES level. The document here
// carries its validation data (B-LT), so it validates offline; Now pins
// the validation time for the example's sake. A copy changed by one byte
// after signing fails.
func ExampleVerify() {
	roots := x509.NewCertPool()
	roots.AppendCertsFromPEM(testvectors.Read(testvectors.ThrowawayRoot)) // your CA's root, e.g. /ca/root.crt
	signed := testvectors.Read(testvectors.FormSigned)                    // e.g. os.ReadFile("signed.pdf")
	opts := &verify.Options{Roots: roots, Now: func() time.Time { return testvectors.FormSignedAt.Add(time.Hour) }}

	tampered := bytes.Replace(signed, []byte("Nguyen Van Duc"), []byte("Nguyen Van Dux"), 1)
	for _, doc := range [][]byte{signed, tampered} {
		r, err := verify.Verify(context.Background(), bytes.NewReader(doc), int64(len(doc)), opts)
		if err != nil {
			log.Fatal(err)
		}
		fmt.Println("valid:", r.Valid)
		for _, s := range r.Signatures {
			verdict := string(s.Indication)
			if s.SubIndication != "" {
				verdict += "/" + string(s.SubIndication)
			}
			fmt.Printf("  %s: %s, level %q\n", s.Field, verdict, s.Level)
			fmt.Printf("  signed by %s (CCCD %s), claimed time %s\n", s.Signer.Name, s.Signer.CCCD, s.ClaimedTime.Format(time.RFC3339))
		}
	}
	// Output:
	// valid: true
	//   Signature1: TOTAL-PASSED, level "PAdES-BASELINE-LT"
	//   signed by Nguyễn Văn Đức (CCCD 079203001234), claimed time 2026-12-07T10:00:00+07:00
	// valid: false
	//   Signature1: TOTAL-FAILED/HASH_FAILURE, level ""
	//   signed by Nguyễn Văn Đức (CCCD 079203001234), claimed time 2026-12-07T10:00:00+07:00
}
