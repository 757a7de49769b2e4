package httpedge

import (
	"context"
	"net/http"
	"strconv"

	"github.com/kyso-pki/kyso/pkg/clientaddr"
	"github.com/kyso-pki/kyso/pkg/signing"
)

// ApprovalContext is r's context carrying the approval's origin for its
// consent receipt (signing.WithApprovalOrigin): the request's User-Agent
// and its source address (clientaddr.Of: behind a trusted proxy, the
// client it names); pagesShown says the front end showed the owner the pages
// of the request's PDFs. signing bounds both texts.
func ApprovalContext(r *http.Request, pagesShown bool) context.Context {
	return signing.WithApprovalOrigin(r.Context(), signing.ApprovalOrigin{UserAgent: r.UserAgent(), Address: clientaddr.Of(r), PagesShown: pagesShown})
}

// WriteReceipt answers with a consent receipt to download: the DER CMS
// SignedData as application/pkcs7-mime (RFC 8551), an attachment named
// kyso-receipt-<ID>.p7m, never sniffed as anything else.
func WriteReceipt(w http.ResponseWriter, f *signing.ReceiptFile) {
	h := w.Header()
	h.Set("Content-Type", signing.ReceiptContentType)
	h.Set("Content-Disposition", `attachment; filename="`+f.FileName()+`"`)
	h.Set("Content-Length", strconv.Itoa(len(f.DER)))
	h.Set("X-Content-Type-Options", "nosniff")
	w.WriteHeader(http.StatusOK)
	_, _ = w.Write(f.DER)
}
