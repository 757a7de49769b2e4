package verify_test

import (
	"bytes"
	"encoding/asn1"
	"encoding/hex"
	"testing"

	"github.com/kyso-pki/kyso/internal/testenv"
	"github.com/kyso-pki/kyso/pkg/algid"
	"github.com/kyso-pki/kyso/pkg/cms"
	"github.com/kyso-pki/kyso/pkg/verify"
)

// lastCMS parses doc's last /Contents.
func lastCMS(t *testing.T, doc []byte) *cms.SignedData {
	t.Helper()
	br := byteRangeOf(t, doc)
	raw, err := hex.DecodeString(string(doc[br[1]+1 : br[2]-1])) // Parse ignores the zero padding
	if err != nil {
		t.Fatal(err)
	}
	sd, err := cms.Parse(raw)
	if err != nil {
		t.Fatal(err)
	}
	return sd
}

// signatureValueAt returns where, in doc's last /Contents, the hex of the
// CMS signature value starts.
func signatureValueAt(t *testing.T, doc []byte) int {
	t.Helper()
	br := byteRangeOf(t, doc)
	i := bytes.Index(bytes.ToLower(doc[br[1]:br[2]]), []byte(hex.EncodeToString(lastCMS(t, doc).Signature)))
	if i < 0 {
		t.Fatal("the signature value is not in /Contents")
	}
	return int(br[1]) + i
}

// TestEdDSA: PDFs that pyHanko signs with Ed25519 and Ed448 keys (RFC
// 8419: the value over the signed attributes themselves; the digest
// SHA-512 and SHAKE256/512), whose certificates openssl made, are intact
// and valid for kyso, as for pyHanko's validate (INDETERMINATE for want
// of revocation data, which openssl's throwaway CA does not publish and
// pyHanko does not ask for: the agreement table's
// pyhankoNoRevocationPointer; the message was "the key type <nil> is not
// accepted" for Ed448); a changed byte of the document, and of the
// signature value, fails them for both.
func TestEdDSA(t *testing.T) {
	f := getFixture(t)
	testenv.PyHankoPython(t)
	o := newOpensslPKI(t)
	roots := f.roots.Clone()
	roots.AddCert(o.root)
	dir := t.TempDir()

	type file struct {
		name string
		doc  []byte
		want verify.Indication
		py   verdict
	}
	var files []file
	for _, c := range []struct {
		name   string
		digest asn1.ObjectIdentifier
	}{{osslEd25519, algid.SHA512}, {osslEd448, algid.SHAKE256Len}} {
		name := c.name
		doc := o.signers[name].sign(t, formPDF(), "EdDSA", true)
		if sd := lastCMS(t, doc); !sd.DigestAlgorithm.Equal(c.digest) {
			t.Fatalf("%s: pyHanko's digest algorithm is %v, want %v", name, sd.DigestAlgorithm, c.digest)
		}
		files = append(files, file{name, doc, verify.Indeterminate, vPass})
		changed := bytes.Clone(doc)
		changed[bytes.Index(changed, []byte("/Type /Catalog"))+1] = 'X'
		files = append(files, file{name + "-changed-byte", changed, verify.TotalFailed, vFail})
		badValue := bytes.Clone(doc)
		i := signatureValueAt(t, badValue)
		if badValue[i] == '0' {
			badValue[i] = '1'
		} else {
			badValue[i] = '0'
		}
		files = append(files, file{name + "-bad-value", badValue, verify.TotalFailed, vFail})
	}
	var paths []string
	for _, c := range files {
		paths = append(paths, writeFile(t, dir, c.name+".pdf", c.doc))
	}
	py := runPyhanko(t, []string{o.rootPath}, []string{}, []string{}, paths)
	for i, c := range files {
		rep := f.verifyWith(t, c.doc, &verify.Options{Roots: roots})
		if len(rep.Signatures) != 1 {
			t.Fatalf("%s: %d signatures", c.name, len(rep.Signatures))
		}
		s := rep.Signatures[0]
		if len(py[i].Signatures) != 1 {
			t.Fatalf("%s: pyHanko found %d signatures (%s)", c.name, len(py[i].Signatures), py[i].Error)
		}
		pv, why := pyhankoVerdict(py[i].Signatures[0])
		t.Logf("%s: kyso %s %s (%q), pyHanko %s (%s)", c.name, s.Indication, s.SubIndication, s.Reasons, pv, why)
		if pv != c.py {
			t.Errorf("%s: pyHanko says %s (%s), want %s", c.name, pv, why, c.py)
		}
		if s.Indication != c.want {
			t.Errorf("%s: kyso says %s %s (%q), want %s", c.name, s.Indication, s.SubIndication, s.Reasons, c.want)
			continue
		}
		switch c.want {
		case verify.Indeterminate:
			// Intact, valid, the chain built; only revocation is missing.
			if s.SubIndication != verify.TryLater || s.Intact == nil || !*s.Intact || s.Signer == nil || len(s.Chain) != 2 {
				t.Errorf("%s: %s, intact %v, signer %+v, chain of %d: %q", c.name, s.SubIndication, s.Intact, s.Signer, len(s.Chain), s.Reasons)
			}
		case verify.TotalFailed:
			if s.SubIndication != verify.HashFailure && s.SubIndication != verify.SigCryptoFailure {
				t.Errorf("%s: %s: %q", c.name, s.SubIndication, s.Reasons)
			}
		}
	}
}
