// Command smartca-portal shows a portal written against the SmartCA-style
// dialect (pkg/smartca's wire types): it sends a whole PDF to
// signatures/sign, where it waits for the owner's approval, and learns the
// outcome from kysod's webhook. The webhook is trusted only when its
// X-Kyso-Signature header is "sha256=" and the lowercase hex HMAC-SHA256 of
// the raw body under the portal's webhook key (the hex-decoded
// webhook_key_hex that `kyso client create --webhook` printed); anything
// else is answered 401 and ignored.
//
// With a kysod, a citizen enrolled with `kyso enroll` and a portal
// registered with `kyso client create --webhook http://127.0.0.1:9000/kyso`
// (see README.md):
//
//	export KYSO_CLIENT_SECRET="$(jq -r .client_secret portal.json)" KYSO_WEBHOOK_KEY_HEX="$(jq -r .webhook_key_hex portal.json)"
//	go run ./examples/smartca-portal --url https://localhost:8443 --ca-file root.pem \
//	    --sp-id "$(jq -r .client_id portal.json)" --user-id 079203001234 --listen 127.0.0.1:9000 \
//	    --in form.pdf --out signed.pdf
//
// and, while it waits, the owner approves (in the provider's app, or with
// `kyso approve`). It prints the transaction's code, each webhook it
// refused, and the verified outcome.
package main

import (
	"bytes"
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"crypto/tls"
	"crypto/x509"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"time"

	"github.com/kyso-pki/kyso/pkg/signing"
	"github.com/kyso-pki/kyso/pkg/smartca"
)

func main() {
	url := flag.String("url", "https://localhost:8443", "kysod's HTTPS base URL")
	caFile := flag.String("ca-file", "", "PEM roots for kysod's TLS certificate")
	spID := flag.String("sp-id", "", "the portal's client_id (sp_password: $KYSO_CLIENT_SECRET; webhook key: $KYSO_WEBHOOK_KEY_HEX)")
	userID := flag.String("user-id", "", "the owner's national ID (CCCD)")
	listen := flag.String("listen", "127.0.0.1:9000", "where the webhook receiver listens: the host:port of the webhook URL registered for the portal")
	in := flag.String("in", "", "the PDF to sign")
	out := flag.String("out", "", "where to write the signed PDF")
	wait := flag.Duration("wait", 5*time.Minute, "how long to wait for the outcome")
	flag.Parse()
	if *caFile == "" || *spID == "" || *userID == "" || *in == "" || *out == "" {
		fmt.Fprintln(os.Stderr, "usage: smartca-portal --url URL --ca-file root.pem --sp-id ID --user-id CCCD --listen HOST:PORT --in IN.pdf --out OUT.pdf")
		os.Exit(2)
	}
	key, err := hex.DecodeString(os.Getenv("KYSO_WEBHOOK_KEY_HEX"))
	if err != nil || len(key) == 0 {
		fmt.Fprintln(os.Stderr, "smartca-portal: $KYSO_WEBHOOK_KEY_HEX must hold the portal's webhook key, hex")
		os.Exit(2)
	}
	ctx, cancel := context.WithTimeout(context.Background(), *wait)
	defer cancel()
	sp := smartca.SP{SPID: *spID, SPPassword: os.Getenv("KYSO_CLIENT_SECRET")}
	if err := run(ctx, *url, *caFile, sp, key, *userID, *listen, *in, *out); err != nil {
		fmt.Fprintln(os.Stderr, "smartca-portal:", err)
		os.Exit(1)
	}
}

func run(ctx context.Context, url, caFile string, sp smartca.SP, key []byte, userID, listen, in, out string) error {
	client, err := httpsClient(caFile)
	if err != nil {
		return err
	}
	pdf, err := os.ReadFile(in)
	if err != nil {
		return err
	}

	// The receiver listens before the request is sent, so that no webhook
	// finds it closed.
	ln, err := net.Listen("tcp", listen)
	if err != nil {
		return err
	}
	outcomes := make(chan *smartca.StatusData, 1)
	srv := &http.Server{Handler: webhookReceiver(key, outcomes), ReadHeaderTimeout: 10 * time.Second}
	go srv.Serve(ln)
	defer srv.Close()

	req := &smartca.SignRequest{SP: sp, UserID: userID,
		TransactionID:   fmt.Sprintf("portal-%d", time.Now().UnixNano()),
		TransactionDesc: "Tờ khai đăng ký thường trú",
		SignFiles: []smartca.SignFile{{DocID: filepath.Base(in), FileType: "pdf", SignType: "pdf",
			FileData: base64.StdEncoding.EncodeToString(pdf)}}}
	var sd smartca.SignData
	if err := call(ctx, client, url+"/smartca/v1/signatures/sign", req, &sd); err != nil {
		return err
	}
	fmt.Printf("submitted: tran_code=%s, waiting for the owner's approval\n", sd.TranCode)

	for {
		select {
		case <-ctx.Done():
			return fmt.Errorf("no outcome for %s: %w", sd.TranCode, ctx.Err())
		case d := <-outcomes:
			if d.TranCode != sd.TranCode {
				continue // another transaction of this portal
			}
			fmt.Printf("webhook verified: transaction %s is %s\n", d.TranCode, d.Status)
			if d.Status != "signed" || len(d.Signatures) != 1 {
				return fmt.Errorf("transaction %s ended %s", d.TranCode, d.Status)
			}
			signed, err := base64.StdEncoding.DecodeString(d.Signatures[0].SignedFile)
			if err != nil {
				return fmt.Errorf("signed_file: %w", err)
			}
			if err := os.WriteFile(out, signed, 0o644); err != nil {
				return err
			}
			fmt.Printf("signed PDF: %s\n", out)
			return nil
		}
	}
}

// webhookReceiver answers kysod's webhooks: it checks each one's HMAC
// before reading anything from it, refuses a forged one with 401, and
// hands an ended transaction to outcomes.
func webhookReceiver(key []byte, outcomes chan<- *smartca.StatusData) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, err := io.ReadAll(io.LimitReader(r.Body, 64<<20))
		if err != nil || r.Method != http.MethodPost {
			http.Error(w, "bad request", http.StatusBadRequest)
			return
		}
		mac := hmac.New(sha256.New, key)
		mac.Write(body)
		want := "sha256=" + hex.EncodeToString(mac.Sum(nil))
		// Constant time: the comparison tells a forger nothing.
		if !hmac.Equal([]byte(want), []byte(r.Header.Get(signing.HeaderSignature))) {
			fmt.Printf("refused a webhook: its %s is not the HMAC of its body\n", signing.HeaderSignature)
			http.Error(w, "bad signature", http.StatusUnauthorized)
			return
		}
		var n smartca.Notification
		if err := json.Unmarshal(body, &n); err != nil || n.Data == nil {
			http.Error(w, "bad body", http.StatusBadRequest)
			return
		}
		w.WriteHeader(http.StatusNoContent)
		if n.Data.Status != "pending" {
			select {
			case outcomes <- n.Data:
			default: // a repeated delivery (at least once) while the last is handled
			}
		}
	})
}

// call posts in as JSON to url and decodes the envelope's data into out.
func call(ctx context.Context, client *http.Client, url string, in, out any) error {
	b, err := json.Marshal(in)
	if err != nil {
		return err
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, url, bytes.NewReader(b))
	if err != nil {
		return err
	}
	req.Header.Set("Content-Type", "application/json")
	resp, err := client.Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	env := smartca.Envelope{Data: out}
	if err := json.NewDecoder(io.LimitReader(resp.Body, 64<<20)).Decode(&env); err != nil {
		return fmt.Errorf("%s: %d, %w", url, resp.StatusCode, err)
	}
	if resp.StatusCode != http.StatusOK {
		return fmt.Errorf("%s: %d %s", url, resp.StatusCode, env.Message)
	}
	return nil
}

// httpsClient trusts the PEM roots in caFile, TLS 1.2 and up.
func httpsClient(caFile string) (*http.Client, error) {
	b, err := os.ReadFile(caFile)
	if err != nil {
		return nil, err
	}
	roots := x509.NewCertPool()
	if !roots.AppendCertsFromPEM(b) {
		return nil, errors.New(caFile + ": no PEM certificate")
	}
	return &http.Client{Timeout: time.Minute, Transport: &http.Transport{TLSClientConfig: &tls.Config{RootCAs: roots, MinVersion: tls.VersionTLS12}}}, nil
}
