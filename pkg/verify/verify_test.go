package verify_test

import (
	"bytes"
	"context"
	"crypto/x509"
	"encoding/json"
	"errors"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/kyso-pki/kyso/hsm"
	"github.com/kyso-pki/kyso/pkg/ca/catest"
	"github.com/kyso-pki/kyso/pkg/display"
	"github.com/kyso-pki/kyso/pkg/pades"
	"github.com/kyso-pki/kyso/pkg/pdf"
	"github.com/kyso-pki/kyso/pkg/revocation"
	"github.com/kyso-pki/kyso/pkg/store"
	"github.com/kyso-pki/kyso/pkg/verify"
)

func TestValid(t *testing.T) {
	f := getFixture(t)
	for _, alg := range []hsm.Algorithm{hsm.ECDSAP256, hsm.RSA2048} {
		t.Run(string(alg), func(t *testing.T) {
			s := f.citizen(t, alg)
			signed := f.sign(t, s, formPDF(), &pades.SignOptions{Level: pades.LevelBT,
				Options: pades.Options{Reason: "Tôi đồng ý", Location: "Hà Nội"}})
			rep := f.verifyOnline(t, signed)
			if !rep.Valid || len(rep.Signatures) != 1 {
				t.Fatalf("valid=%v with %d signatures", rep.Valid, len(rep.Signatures))
			}
			sig := want(t, rep, 0, verify.TotalPassed, "")
			if sig.Level != verify.LevelBT || !sig.CoversWholeDocument {
				t.Errorf("level %q, whole %v", sig.Level, sig.CoversWholeDocument)
			}
			if sig.Signer.Name != "Nguyễn Văn Đức" || !strings.HasPrefix(sig.Signer.CCCD, "0792030") {
				t.Errorf("signer %+v", sig.Signer)
			}
			// One serial form everywhere: whole octets, as openssl and the
			// CLI print them; kyso's serials start 01, so the leading zero
			// shows. The UID reads as text, not as #-hex DER.
			if want := display.FormatSerialInt(s.cert.SerialNumber); sig.Signer.Serial != want || !strings.HasPrefix(want, "01") {
				t.Errorf("signer serial %q, want %q", sig.Signer.Serial, want)
			}
			if !strings.HasPrefix(sig.Signer.Subject, "UID=CCCD:"+sig.Signer.CCCD+",CN=Nguyễn Văn Đức,") || !strings.HasSuffix(sig.Signer.Subject, ",C=VN") {
				t.Errorf("signer subject %q, want UID=CCCD:%s,CN=Nguyễn Văn Đức,…,C=VN", sig.Signer.Subject, sig.Signer.CCCD)
			}
			if sig.Reason != "Tôi đồng ý" || sig.Location != "Hà Nội" || sig.TimestampTime == nil || sig.ClaimedTime == nil {
				t.Errorf("reason %q location %q timestamp %v claimed %v", sig.Reason, sig.Location, sig.TimestampTime, sig.ClaimedTime)
			}
			if len(sig.Chain) != 3 {
				t.Errorf("chain of %d certificates, want signer, issuing, root", len(sig.Chain))
			}
			var js bytes.Buffer
			if err := json.NewEncoder(&js).Encode(rep); err != nil || !strings.Contains(js.String(), `"indication":"TOTAL-PASSED"`) {
				t.Errorf("JSON: %v\n%s", err, js.String())
			}
		})
	}
}

func TestRevocationNeeded(t *testing.T) {
	f := getFixture(t)
	s := f.citizen(t, hsm.ECDSAP256)
	signed := f.sign(t, s, formPDF(), nil)
	t.Run("offline", func(t *testing.T) {
		sig := want(t, f.verifyWith(t, signed, &verify.Options{Roots: f.roots}), 0, verify.Indeterminate, verify.TryLater)
		if !strings.Contains(strings.Join(sig.Reasons, " "), "revocation status") {
			t.Errorf("reasons %q", sig.Reasons)
		}
	})
	t.Run("online", func(t *testing.T) {
		sig := want(t, f.verifyOnline(t, signed), 0, verify.TotalPassed, "")
		if sig.Level != verify.LevelBB {
			t.Errorf("level %q, want B-B", sig.Level)
		}
	})
	t.Run("untrusted", func(t *testing.T) {
		other := getOtherRoots(t)
		want(t, f.verifyWith(t, signed, &verify.Options{Roots: other}), 0, verify.Indeterminate, verify.NoCertificateChainFound)
	})
}

func TestRevoked(t *testing.T) {
	f := getFixture(t)
	t.Run("before signing", func(t *testing.T) {
		s := f.citizen(t, hsm.ECDSAP256)
		f.revoke(t, s, store.ReasonKeyCompromise)
		time.Sleep(1100 * time.Millisecond) // revocation times have whole seconds
		signed := f.sign(t, s, formPDF(), &pades.SignOptions{Level: pades.LevelBT})
		// The time-stamp after the revocation does not prove the signature
		// was made after it (ETSI EN 319 102-1 clause 5.5.4).
		sig := want(t, f.verifyOnline(t, signed), 0, verify.Indeterminate, verify.RevokedNoPOE)
		if !strings.Contains(sig.Reasons[0], "keyCompromise") {
			t.Errorf("reasons %q", sig.Reasons)
		}
	})
	t.Run("before signing, no time-stamp", func(t *testing.T) {
		s := f.citizen(t, hsm.ECDSAP256)
		f.revoke(t, s, store.ReasonKeyCompromise)
		signed := f.sign(t, s, formPDF(), nil)
		want(t, f.verifyOnline(t, signed), 0, verify.Indeterminate, verify.RevokedNoPOE)
	})
	t.Run("suspended", func(t *testing.T) {
		s := f.citizen(t, hsm.ECDSAP256)
		f.revoke(t, s, store.ReasonCertificateHold)
		time.Sleep(1100 * time.Millisecond)
		signed := f.sign(t, s, formPDF(), &pades.SignOptions{Level: pades.LevelBT})
		sig := want(t, f.verifyOnline(t, signed), 0, verify.Indeterminate, verify.TryLater)
		if !strings.Contains(sig.Reasons[0], "suspended") {
			t.Errorf("reasons %q", sig.Reasons)
		}
	})
	// Decree 23/2025: not valid while suspended; once the suspension is
	// lifted the certificate is good, and a signature made after that is
	// valid.
	t.Run("suspended, then resumed", func(t *testing.T) {
		s := f.citizen(t, hsm.ECDSAP256)
		f.revoke(t, s, store.ReasonCertificateHold)
		time.Sleep(1100 * time.Millisecond)
		during := f.sign(t, s, formPDF(), &pades.SignOptions{Level: pades.LevelBT})
		sig := want(t, f.verifyOnline(t, during), 0, verify.Indeterminate, verify.TryLater)
		if !strings.Contains(sig.Reasons[0], "suspended") {
			t.Errorf("reasons %q", sig.Reasons)
		}
		f.resume(t, s)
		after := f.sign(t, s, formPDF(), &pades.SignOptions{Level: pades.LevelBT})
		sig = want(t, f.verifyOnline(t, after), 0, verify.TotalPassed, "")
		if len(sig.Warnings) != 0 {
			t.Errorf("warnings %q on a signature made after the suspension ended", sig.Warnings)
		}
	})
	t.Run("after signing", func(t *testing.T) {
		s := f.citizen(t, hsm.ECDSAP256)
		signed := f.sign(t, s, formPDF(), &pades.SignOptions{Level: pades.LevelBT})
		time.Sleep(1100 * time.Millisecond)
		f.revoke(t, s, store.ReasonKeyCompromise)
		sig := want(t, f.verifyOnline(t, signed), 0, verify.TotalPassed, "")
		if len(sig.Warnings) == 0 || !strings.Contains(sig.Warnings[0], "after the signature") {
			t.Errorf("warnings %q", sig.Warnings)
		}
	})
}

func (f *fixture) revoke(t *testing.T, s signer, reason int) {
	t.Helper()
	ctx := context.Background()
	if err := f.p.CA.Revoke(ctx, s.cert.SerialNumber.Bytes(), reason, time.Time{}); err != nil {
		t.Fatal(err)
	}
	if err := f.srv.PKI.Tick(ctx); err != nil {
		t.Fatal(err)
	}
}

func (f *fixture) resume(t *testing.T, s signer) {
	t.Helper()
	ctx := context.Background()
	if err := f.p.CA.Resume(ctx, s.cert.SerialNumber.Bytes()); err != nil {
		t.Fatal(err)
	}
	if err := f.srv.PKI.Tick(ctx); err != nil {
		t.Fatal(err)
	}
}

// TestTampering builds the known attacks on PDF signatures from a signed
// document and asserts each is caught.
func TestTampering(t *testing.T) {
	f := getFixture(t)
	s := f.citizen(t, hsm.ECDSAP256)
	signed := f.sign(t, s, formPDF(), &pades.SignOptions{Level: pades.LevelBT})
	br := byteRangeOf(t, signed)

	t.Run("changed byte", func(t *testing.T) {
		doc := bytes.Clone(signed)
		i := bytes.Index(doc, []byte("Nguyen"))
		doc[i] = 'X'
		want(t, f.verifyOnline(t, doc), 0, verify.TotalFailed, verify.HashFailure)
	})
	t.Run("zeroed contents", func(t *testing.T) {
		doc := bytes.Clone(signed)
		for i := br[1] + 1; i < br[2]-1; i++ {
			doc[i] = '0'
		}
		want(t, f.verifyOnline(t, doc), 0, verify.TotalFailed, verify.FormatFailure)
	})
	t.Run("byte range gap moved", func(t *testing.T) {
		// Signature wrapping: the gap no longer is the /Contents string.
		doc := bytes.Clone(signed)
		old := []byte("/ByteRange [0 " + strconv.FormatInt(br[1], 10) + " ")
		i := bytes.Index(doc, old)
		if i < 0 {
			t.Fatalf("no %q", old)
		}
		repl := []byte("/ByteRange [0 " + strconv.FormatInt(br[1]-10, 10))
		repl = append(repl, bytes.Repeat([]byte(" "), len(old)-len(repl))...)
		copy(doc[i:], repl)
		want(t, f.verifyOnline(t, doc), 0, verify.TotalFailed, verify.FormatFailure)
	})
	t.Run("incremental saving attack", func(t *testing.T) {
		// New page content appended after the signature.
		doc := update(t, signed, func(rd *pdf.Reader, w *pdf.Writer) {
			page := resolveDict(t, rd, 3)
			page.Set("Contents", w.Add(&pdf.Stream{Dict: pdf.NewDict(), Data: []byte("BT /F1 24 Tf 72 720 Td (Chuyen 1 ty dong) Tj ET")}))
			w.Update(pdf.Ref{Num: 3}, page)
		})
		sig := want(t, f.verifyOnline(t, doc), 0, verify.TotalFailed, verify.SigConstraintsFailure)
		if sig.CoversWholeDocument || !strings.Contains(strings.Join(sig.Changes, "\n"), "page 1: /Contents was changed") {
			t.Errorf("changes %q", sig.Changes)
		}
	})
	t.Run("shadow hide-and-replace", func(t *testing.T) {
		// The signed revision hid object 9; the update points the page at it.
		doc := update(t, signed, func(rd *pdf.Reader, w *pdf.Writer) {
			page := resolveDict(t, rd, 3)
			page.Set("Contents", pdf.Ref{Num: 9})
			w.Update(pdf.Ref{Num: 3}, page)
		})
		want(t, f.verifyOnline(t, doc), 0, verify.TotalFailed, verify.SigConstraintsFailure)
	})
	t.Run("shadow replace catalog pages", func(t *testing.T) {
		doc := update(t, signed, func(rd *pdf.Reader, w *pdf.Writer) {
			cat, ref, _ := rd.Catalog()
			cat = cat.Clone()
			cat.Set("Pages", pdf.Ref{Num: 8})
			w.Update(ref, cat)
		})
		sig := want(t, f.verifyOnline(t, doc), 0, verify.TotalFailed, verify.SigConstraintsFailure)
		if !strings.Contains(strings.Join(sig.Changes, "\n"), "the catalog: /Pages was changed") {
			t.Errorf("changes %q", sig.Changes)
		}
	})
	t.Run("shadow hide with an annotation", func(t *testing.T) {
		doc := update(t, signed, func(rd *pdf.Reader, w *pdf.Writer) {
			annot := pdf.NewDict()
			annot.Set("Type", pdf.Name("Annot"))
			annot.Set("Subtype", pdf.Name("Square"))
			annot.Set("Rect", pdf.Array{pdf.Int(0), pdf.Int(0), pdf.Int(595), pdf.Int(842)})
			o, _ := rd.Resolve(pdf.Ref{Num: 7})
			arr := append(pdf.Array{}, o.(pdf.Array)...)
			w.Update(pdf.Ref{Num: 7}, append(arr, w.Add(annot)))
		})
		sig := want(t, f.verifyOnline(t, doc), 0, verify.TotalFailed, verify.SigConstraintsFailure)
		if !strings.Contains(strings.Join(sig.Changes, "\n"), "Square annotation was added") {
			t.Errorf("changes %q", sig.Changes)
		}
	})
	t.Run("object deleted", func(t *testing.T) {
		doc := update(t, signed, func(rd *pdf.Reader, w *pdf.Writer) {
			w.Update(pdf.Ref{Num: 4}, pdf.Null{})
		})
		want(t, f.verifyOnline(t, doc), 0, verify.TotalFailed, verify.SigConstraintsFailure)
	})
}

// TestAllowedChanges: what follows a signature legitimately.
func TestAllowedChanges(t *testing.T) {
	f := getFixture(t)
	a, b := f.citizen(t, hsm.ECDSAP256), f.citizen(t, hsm.RSA2048)
	first := f.sign(t, a, formPDF(), &pades.SignOptions{Level: pades.LevelBT})
	t.Run("second signature", func(t *testing.T) {
		both := f.sign(t, b, first, &pades.SignOptions{Level: pades.LevelBT})
		rep := f.verifyOnline(t, both)
		s1 := want(t, rep, 0, verify.TotalPassed, "")
		want(t, rep, 1, verify.TotalPassed, "")
		if s1.CoversWholeDocument || !rep.Valid || rep.Revisions != 3 {
			t.Errorf("first covers whole %v, valid %v, revisions %d", s1.CoversWholeDocument, rep.Valid, rep.Revisions)
		}
	})
	t.Run("form filled", func(t *testing.T) {
		doc := update(t, first, func(rd *pdf.Reader, w *pdf.Writer) {
			field := resolveDict(t, rd, 6)
			field.Set("V", pdf.String{Value: []byte("Tran")})
			w.Update(pdf.Ref{Num: 6}, field)
		})
		want(t, f.verifyOnline(t, doc), 0, verify.TotalPassed, "")
	})
	t.Run("certified P=1 then signed", func(t *testing.T) {
		cert := f.sign(t, a, formPDF(), &pades.SignOptions{Level: pades.LevelBT, Options: pades.Options{Certify: 1}})
		doc := update(t, cert, func(rd *pdf.Reader, w *pdf.Writer) {
			field := resolveDict(t, rd, 6)
			field.Set("V", pdf.String{Value: []byte("Tran")})
			w.Update(pdf.Ref{Num: 6}, field)
		})
		sig := want(t, f.verifyOnline(t, doc), 0, verify.TotalFailed, verify.SigConstraintsFailure)
		if sig.Certification != 1 {
			t.Errorf("certification %d", sig.Certification)
		}
	})
	t.Run("certified P=2 then filled", func(t *testing.T) {
		cert := f.sign(t, a, formPDF(), &pades.SignOptions{Level: pades.LevelBT, Options: pades.Options{Certify: 2}})
		doc := update(t, cert, func(rd *pdf.Reader, w *pdf.Writer) {
			field := resolveDict(t, rd, 6)
			field.Set("V", pdf.String{Value: []byte("Tran")})
			w.Update(pdf.Ref{Num: 6}, field)
		})
		want(t, f.verifyOnline(t, doc), 0, verify.TotalPassed, "")
	})
}

func TestNotSigned(t *testing.T) {
	doc := formPDF()
	_, err := verify.Verify(context.Background(), bytes.NewReader(doc), int64(len(doc)), nil)
	if !errors.Is(err, verify.ErrNoSignatures) {
		t.Fatalf("err = %v, want ErrNoSignatures", err)
	}
	_, err = verify.Verify(context.Background(), strings.NewReader("not a pdf at all"), 16, nil)
	if err == nil || !errors.Is(err, pdf.ErrMalformed) {
		t.Fatalf("err = %v, want pdf.ErrMalformed", err)
	}
}

func byteRangeOf(t *testing.T, doc []byte) [4]int64 {
	t.Helper()
	m := regexp.MustCompile(`/ByteRange\s*\[\s*(\d+)\s+(\d+)\s+(\d+)\s+(\d+)\s*\]`).FindAllSubmatch(doc, -1)
	if len(m) == 0 {
		t.Fatal("no /ByteRange")
	}
	var br [4]int64
	for i := range br {
		br[i], _ = strconv.ParseInt(string(m[len(m)-1][i+1]), 10, 64)
	}
	return br
}

// getOtherRoots is the root of another hierarchy, which did not issue the
// fixture's certificates.
func getOtherRoots(t *testing.T) *x509.CertPool {
	t.Helper()
	p, err := catest.New(context.Background(), t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	defer p.Close()
	pool := x509.NewCertPool()
	pool.AddCert(p.Hierarchy.Root)
	return pool
}

// TestExpired validates after the signer's certificate expired: without a
// time-stamp nothing proves the signature was made in time; with one it
// still passes.
func TestExpired(t *testing.T) {
	f := getFixture(t)
	s := f.citizen(t, hsm.ECDSAP256)
	later := func() time.Time { return s.cert.NotAfter.Add(24 * time.Hour) }
	bb := f.sign(t, s, formPDF(), nil)
	sig := want(t, f.verifyWith(t, bb, &verify.Options{Roots: f.roots, Now: later, Fetcher: &revocation.Fetcher{Client: f.srv.Client}}),
		0, verify.Indeterminate, verify.OutOfBoundsNoPOE)
	if !strings.Contains(sig.Reasons[0], "expired") {
		t.Errorf("reasons %q", sig.Reasons)
	}
	bt := f.sign(t, s, formPDF(), &pades.SignOptions{Level: pades.LevelBT})
	want(t, f.verifyWith(t, bt, &verify.Options{Roots: f.roots, Now: later, Fetcher: &revocation.Fetcher{Client: f.srv.Client}}),
		0, verify.TotalPassed, "")
}
