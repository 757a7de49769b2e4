package smartca_test

import (
	"testing"

	"github.com/kyso-pki/kyso/pkg/signing"
	"github.com/kyso-pki/kyso/pkg/smartca"
	"github.com/kyso-pki/kyso/pkg/store"
)

// TestEncodeNotification: the webhook body, byte for byte, as portals
// parse it: an approved transaction is still "pending", a whole PDF comes
// back in signed_file with an empty signature_value, and an ended one
// without signatures has an empty list, not null. An ended one carries its
// idempotency key ("<tran_code>:<status>"); a pending one none.
func TestEncodeNotification(t *testing.T) {
	for _, tc := range []struct {
		name string
		tx   *signing.Transaction
		want string
	}{
		{"signed", &signing.Transaction{Transaction: &store.Transaction{ID: "tc-1", ClientRef: "portal-1", Status: store.TxSigned},
			Signatures: []signing.Signature{{DocID: "a", Signature: []byte{1, 2, 3}}, {DocID: "b.pdf", SignedPDF: []byte("%PDF")}}},
			`{"status_code":200,"message":"Ký số thành công","data":{"transaction_id":"portal-1","tran_code":"tc-1","status":"signed","signatures":[` +
				`{"doc_id":"a","signature_value":"AQID","timestamp_signature":""},{"doc_id":"b.pdf","signature_value":"","timestamp_signature":"","signed_file":"JVBERg=="}],"idempotency_key":"tc-1:signed"}}`},
		{"approved", &signing.Transaction{Transaction: &store.Transaction{ID: "tc-2", ClientRef: "portal-2", Status: store.TxApproved}},
			`{"status_code":200,"message":"Đang chờ người dùng xác nhận","data":{"transaction_id":"portal-2","tran_code":"tc-2","status":"pending","signatures":[]}}`},
		{"expired", &signing.Transaction{Transaction: &store.Transaction{ID: "tc-3", ClientRef: "portal-3", Status: store.TxExpired}},
			`{"status_code":200,"message":"Giao dịch đã hết hạn do người dùng không xác nhận","data":{"transaction_id":"portal-3","tran_code":"tc-3","status":"expired","signatures":[],"idempotency_key":"tc-3:expired"}}`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got, err := smartca.EncodeNotification(tc.tx)
			if err != nil || string(got) != tc.want {
				t.Errorf("EncodeNotification = %s (%v)\nwant %s", got, err, tc.want)
			}
		})
	}
}
