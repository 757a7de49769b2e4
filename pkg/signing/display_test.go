package signing_test

import (
	"context"
	"fmt"
	"strings"
	"testing"

	"github.com/kyso-pki/kyso/hsm"
	"github.com/kyso-pki/kyso/pkg/signing"
)

// The strings of issue 13's review.
const (
	hostileDesc  = "Ký\x1b[2J\x1b[1;1H\x1b[32mAPPROVED SAFE\x1b[0m\nfake line"
	hostileDocID = "invoice\u202efdp.exe"
)

// TestWhatIsShownIsWhatIsMeant: whatever front end calls it, the service
// keeps no description, document ID or client name that would show the
// owner something else, and enrols neither a look-alike name nor a PIN
// an attacker tries first.
func TestWhatIsShownIsWhatIsMeant(t *testing.T) {
	e := newEnv(t)
	ctx := context.Background()
	en := e.enrol(t, hsm.ECDSAP256)
	cl, err := e.svc.CreateClient(ctx, "Cổng dịch vụ công", "", "test")
	if err != nil {
		t.Fatal(err)
	}
	doc := func(id string) []signing.Document { return []signing.Document{{DocID: id, Hash: digest("a")}} }
	for _, c := range []struct {
		name, desc, docID, want string
	}{
		{"ANSI escapes and a newline", hostileDesc, "a.pdf", "description: control character U+001B at position 3"},
		{"right-to-left override", "Hồ sơ", hostileDocID, "document 1: doc_id: bidirectional control U+202E at position 8"},
		{"zero-width space", "Hợp\u200bđồng", "a.pdf", "description: invisible character U+200B at position 4"},
	} {
		t.Run(c.name, func(t *testing.T) {
			_, _, err := e.svc.Submit(ctx, &signing.SubmitRequest{ClientID: cl.ID, ClientRef: c.name, NationalID: en.NationalID, Description: c.desc, Documents: doc(c.docID)})
			if !isCode(err, signing.KindInvalid) || !strings.Contains(err.Error(), c.want) {
				t.Errorf("Submit: %v; want %q", err, c.want)
			}
		})
	}
	if pending, err := e.svc.OwnerTransactions(ctx, en.OwnerID, true); err != nil || len(pending) != 0 {
		t.Errorf("stored: %d, %v", len(pending), err)
	}
	if _, err := e.svc.CreateClient(ctx, "Cổng\x1b[2J", "", "test"); !isCode(err, signing.KindInvalid) || !strings.Contains(err.Error(), "client name: control character U+001B") {
		t.Errorf("client named with an escape: %v", err)
	}

	enrol := func(cccd, name, pin string) error {
		_, err := e.svc.Enrol(ctx, &signing.EnrolRequest{CCCD: cccd, Name: name, Province: "Hà Nội", PIN: pin, Algorithm: hsm.ECDSAP256, Actor: "test"})
		return err
	}
	for i, c := range []struct{ name, pin, full, want string }{
		{"PIN 000000", "000000", "Nguyễn Văn An", "one digit repeated"},
		{"PIN 123456", "123456", "Nguyễn Văn An", "ascending"},
		{"PIN of the CCCD's digits", "203005", "Nguyễn Văn An", "CCCD"}, // 0012030051…
		{"Cyrillic а in Văn", "271828", "Nguyễn V\u0430n An", "mixes scripts"},
		{"Greek ο in a Latin name", "271828", "Tr\u03bfng Văn An", "mixes scripts"},
		{"a wholly Cyrillic name", "271828", "Иван Петров", "Cyrillic letter"},
		{"fullwidth letter", "271828", "Ｖăn An", "compatibility form"},
	} {
		t.Run(c.name, func(t *testing.T) {
			if err := enrol(fmt.Sprintf("0012030051%02d", i), c.full, c.pin); !isCode(err, signing.KindInvalid) || !strings.Contains(err.Error(), c.want) {
				t.Errorf("Enrol: %v; want %q", err, c.want)
			}
		})
	}
	if err := enrol("001203005199", "Nguyễn Thị Ánh Nguyệt", "271828"); err != nil {
		t.Errorf("a Vietnamese name with a PIN of no pattern: %v", err)
	}
}
