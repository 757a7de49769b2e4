package smartca

import (
	"crypto"
	"encoding/base64"
	"encoding/hex"
	"fmt"
	"net/http"
	"strings"

	"github.com/kyso-pki/kyso/pkg/pades"
	"github.com/kyso-pki/kyso/pkg/signing"
)

// sign is signatures/sign: it records a transaction pending the owner's
// approval (signing.Service.Submit, implicit authorisation) and answers at
// once; the signatures come from the status call or a webhook. The same
// transaction_id with the same request answers with the same tran_code.
func (h *Handler) sign(w http.ResponseWriter, r *http.Request) {
	var req SignRequest
	if !h.decodeMax(w, r, &req, MaxSignBody) {
		return
	}
	sub, err := submitRequest(&req)
	if err != nil {
		h.fail(w, r, err)
		return
	}
	serial, err := serialFilter(req.SerialNumber)
	if err != nil {
		h.fail(w, r, err)
		return
	}
	clientID, ok := h.authenticate(w, r, &req.SP)
	if !ok {
		return
	}
	sub.ClientID = clientID
	if serial != nil {
		if sub.CredentialID, err = h.credentialBySerial(r.Context(), sub.NationalID, serial); err != nil {
			h.fail(w, r, err)
			return
		}
	}
	t, _, err := h.svc.Submit(r.Context(), sub)
	if err != nil {
		h.fail(w, r, err)
		return
	}
	writeOK(w, NewNotification(t).Message, SignData{TransactionID: t.ClientRef, TranCode: t.ID})
}

// submitRequest checks the body and turns it into the service's request
// (without the client).
func submitRequest(req *SignRequest) (*signing.SubmitRequest, error) {
	bad := func(format string, args ...any) error {
		return &signing.Error{Kind: signing.KindInvalid, Description: fmt.Sprintf(format, args...)}
	}
	uid, err := nationalID(req.UserID)
	if err != nil {
		return nil, err
	}
	if err := text("transaction_id", req.TransactionID, signing.MaxClientRef, false); err != nil {
		return nil, err
	}
	if err := text("transaction_desc", req.TransactionDesc, 4*signing.MaxDescription, true); err != nil {
		return nil, err
	}
	if len(req.SignFiles) == 0 || len(req.SignFiles) > signing.MaxHashes {
		return nil, bad("sign_files must list 1 to %d files", signing.MaxHashes)
	}
	sub := &signing.SubmitRequest{ClientRef: req.TransactionID, NationalID: uid, Description: req.TransactionDesc,
		HashAlgorithm: crypto.SHA256, Documents: make([]signing.Document, len(req.SignFiles))}
	for i, f := range req.SignFiles {
		st := strings.ToLower(f.SignType)
		if st != "" && st != "hash" && st != "pdf" {
			return nil, bad("sign_files[%d]: sign_type %q is not supported: \"hash\" (data_to_be_signed) or \"pdf\" (file_data)", i, f.SignType)
		}
		if err := text(fmt.Sprintf("sign_files[%d].doc_id", i), f.DocID, signing.MaxDocID, false); err != nil {
			return nil, err
		}
		if err := text(fmt.Sprintf("sign_files[%d].file_type", i), f.FileType, 32, true); err != nil {
			return nil, err
		}
		if st == "pdf" {
			pdf, err := base64.StdEncoding.DecodeString(f.FileData)
			if err != nil || len(pdf) == 0 {
				return nil, bad("sign_files[%d]: file_data must be the PDF, base64", i)
			}
			sub.Documents[i] = signing.Document{DocID: f.DocID, PDF: pdf, Level: pades.Level(f.Level)}
			continue
		}
		d, err := hex.DecodeString(f.DataToBeSigned)
		if err != nil || len(d) != crypto.SHA256.Size() {
			return nil, bad("sign_files[%d]: data_to_be_signed must be a SHA-256 hash in hex (64 hex digits)", i)
		}
		sub.Documents[i] = signing.Document{DocID: f.DocID, Hash: d}
	}
	return sub, nil
}
