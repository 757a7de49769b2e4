// Package testvectors holds the test corpora that more than one package's
// tests, fuzzers and examples read: files under pdf/, each described in
// README.md (who made it, how, which tests use it). Tests load them from
// FS, compiled in, so that no test depends on its working directory.
package testvectors

import (
	"embed"
	"io/fs"
	"path"
	"time"
)

// FS holds the vectors, by their paths under testvectors/ ("pdf/form.pdf").
//
//go:embed pdf certs
var FS embed.FS

// Form is pdf/form.pdf: a one-page A4 form, an AcroForm with one filled
// text field, "ten", and no signature field (README.md says more).
const Form = "pdf/form.pdf"

// FormSigned is pdf/form-signed.pdf: Form signed at PAdES B-LT, at
// FormSignedAt, by a citizen's certificate from a throwaway kyso CA whose
// root is ThrowawayRoot; its DSS carries the CA's CRLs, so it validates
// offline.
const FormSigned = "pdf/form-signed.pdf"

// FormSignedAt is when FormSigned was signed and time-stamped: every clock
// of the CA, the TSA and the signer was set to it.
var FormSignedAt = time.Date(2026, 12, 7, 10, 0, 0, 0, time.FixedZone("", 7*3600))

// ThrowawayRoot is certs/throwaway-root.pem, the root FormSigned chains to.
const ThrowawayRoot = "certs/throwaway-root.pem"

// Read returns the vector at name, e.g. Form. It panics when there is none:
// the names are constants of this package, and a missing vector is a
// broken checkout.
func Read(name string) []byte {
	b, err := FS.ReadFile(name)
	if err != nil {
		panic("testvectors: " + err.Error())
	}
	return b
}

// Names lists the vectors in dir ("pdf"), sorted, as paths Read takes.
func Names(dir string) []string {
	entries, err := fs.ReadDir(FS, dir)
	if err != nil {
		panic("testvectors: " + err.Error())
	}
	var names []string
	for _, e := range entries {
		if !e.IsDir() {
			names = append(names, path.Join(dir, e.Name()))
		}
	}
	return names
}
