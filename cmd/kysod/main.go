// Command kysod is kyso's daemon. With no configuration it starts on the
// embedded defaults — data under ./kyso-data, keys in passphrase-encrypted
// files (softkey) with a passphrase generated on first start, HTTPS on
// 127.0.0.1:8443 — and prints every default, so nobody mistakes a laptop
// setup for production.
//
// This first version serves /livez and /readyz; the CA, signing and CSC
// endpoints arrive with their issues.
package main

import (
	"context"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/base64"
	"errors"
	"flag"
	"fmt"
	"io"
	"io/fs"
	"log/slog"
	"math/big"
	"net"
	"net/http"
	"os"
	"os/signal"
	"path/filepath"
	"syscall"
	"time"

	"github.com/kyso-pki/kyso/hsm"
	"github.com/kyso-pki/kyso/hsm/keystore"
	"github.com/kyso-pki/kyso/internal/version"
)

// config is kysod's configuration after flags and environment.
type config struct {
	dataDir  string
	listen   string
	keystore string
}

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	err := run(ctx, os.Args[1:], os.Stderr)
	stop()
	if err != nil {
		fmt.Fprintf(os.Stderr, "kysod: %v\n", err)
		os.Exit(1)
	}
}

func envOr(name, def string) string {
	if v := os.Getenv(name); v != "" {
		return v
	}
	return def
}

func run(ctx context.Context, args []string, stderr io.Writer) error {
	fset := flag.NewFlagSet("kysod", flag.ContinueOnError)
	fset.SetOutput(stderr)
	var cfg config
	fset.StringVar(&cfg.dataDir, "data", envOr("KYSO_DATA", "./kyso-data"), "data directory (env KYSO_DATA)")
	fset.StringVar(&cfg.listen, "listen", envOr("KYSO_LISTEN", "127.0.0.1:8443"), "HTTPS listen address (env KYSO_LISTEN)")
	fset.StringVar(&cfg.keystore, "keystore", os.Getenv("KYSO_KEYSTORE"), "key store URI (env KYSO_KEYSTORE); default: softkey files under the data directory")
	showVersion := fset.Bool("version", false, "print the version and exit")
	if err := fset.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return nil
		}
		return err
	}
	if *showVersion {
		fmt.Fprintf(stderr, "kysod %s\n", version.String())
		return nil
	}
	log := slog.New(slog.NewJSONHandler(stderr, nil))

	if err := os.MkdirAll(cfg.dataDir, 0o700); err != nil {
		return fmt.Errorf("creating data directory: %w", err)
	}
	development := cfg.keystore == ""
	if development {
		passFile := filepath.Join(cfg.dataDir, "passphrase")
		created, err := ensurePassphrase(passFile)
		if err != nil {
			return err
		}
		if created {
			log.Warn("generated a key store passphrase on first start; it sits next to the keys and is for DEVELOPMENT ONLY", "file", passFile)
		}
		cfg.keystore = (&hsm.URI{Scheme: "softkey", Path: map[string]string{}, Query: map[string]string{
			"dir": filepath.Join(cfg.dataDir, "keys"), "passphrase-source": "file:" + passFile}}).String()
	}
	ks, _, err := keystore.Open(ctx, cfg.keystore, &keystore.Options{Logger: log})
	if err != nil {
		return fmt.Errorf("opening key store: %w", err)
	}
	defer ks.Close()
	ksURI, _ := hsm.ParseURI(cfg.keystore)

	tlsCert, err := serverCertificate(ctx, ks)
	if err != nil {
		return err
	}
	printDefaults(stderr, cfg, ksURI, development)

	mux := http.NewServeMux()
	mux.HandleFunc("GET /livez", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/plain; charset=utf-8")
		io.WriteString(w, "ok\n")
	})
	mux.HandleFunc("GET /readyz", func(w http.ResponseWriter, r *http.Request) {
		cctx, cancel := context.WithTimeout(r.Context(), 3*time.Second)
		defer cancel()
		w.Header().Set("Content-Type", "text/plain; charset=utf-8")
		if _, err := ks.PublicKey(cctx, &hsm.PublicKeyRequest{Label: tlsKeyLabel}); err != nil {
			log.Error("readiness: key store unreachable", "err", err)
			w.WriteHeader(http.StatusServiceUnavailable)
			io.WriteString(w, "key store unreachable\n")
			return
		}
		io.WriteString(w, "ok\n")
	})
	srv := &http.Server{
		Addr:              cfg.listen,
		Handler:           mux,
		ReadHeaderTimeout: 10 * time.Second,
		ReadTimeout:       30 * time.Second,
		WriteTimeout:      60 * time.Second,
		IdleTimeout:       120 * time.Second,
		MaxHeaderBytes:    64 << 10,
		TLSConfig:         &tls.Config{MinVersion: tls.VersionTLS12, Certificates: []tls.Certificate{tlsCert}},
		ErrorLog:          slog.NewLogLogger(log.Handler(), slog.LevelWarn),
	}
	ln, err := net.Listen("tcp", cfg.listen)
	if err != nil {
		return fmt.Errorf("listening on %s: %w", cfg.listen, err)
	}
	log.Info("kysod serving", "version", version.String(), "addr", "https://"+ln.Addr().String())
	errc := make(chan error, 1)
	go func() { errc <- srv.ServeTLS(ln, "", "") }()
	select {
	case err := <-errc:
		return err
	case <-ctx.Done():
	}
	log.Info("kysod shutting down")
	sctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	return srv.Shutdown(sctx)
}

func printDefaults(w io.Writer, cfg config, ks *hsm.URI, development bool) {
	fmt.Fprintf(w, "kysod %s\n", version.String())
	fmt.Fprintf(w, "  data directory  %s\n", cfg.dataDir)
	fmt.Fprintf(w, "  key store       %s\n", ks.Redacted())
	fmt.Fprintf(w, "  HTTPS           https://%s (TLS 1.2+, certificate from the key store's %q key)\n", cfg.listen, tlsKeyLabel)
	fmt.Fprintf(w, "  health          https://%s/livez, /readyz\n", cfg.listen)
	if development {
		fmt.Fprintln(w, "  WARNING: embedded development defaults — software keys protected by a generated passphrase")
		fmt.Fprintln(w, "           stored beside them. Use --keystore pkcs11:… or vault:… in production.")
	}
}

// ensurePassphrase makes a random passphrase file unless one exists. It
// reports whether it made one.
func ensurePassphrase(path string) (bool, error) {
	if _, err := os.Stat(path); err == nil {
		return false, nil
	} else if !errors.Is(err, fs.ErrNotExist) {
		return false, fmt.Errorf("reading %s: %w", path, err)
	}
	b := make([]byte, 32)
	if _, err := rand.Read(b); err != nil {
		return false, err
	}
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o600)
	if err != nil {
		if errors.Is(err, fs.ErrExist) {
			return false, nil
		}
		return false, fmt.Errorf("creating %s: %w", path, err)
	}
	_, err = f.WriteString(base64.RawURLEncoding.EncodeToString(b) + "\n")
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return false, fmt.Errorf("writing %s: %w", path, err)
	}
	return true, nil
}

// tlsKeyLabel is the key store label of the daemon's TLS key.
const tlsKeyLabel = "kysod-tls"

// serverCertificate returns a TLS certificate for the daemon whose key lives
// in the key store (made on first start). Until the CA issue lands it is
// self-signed and renewed at every start.
func serverCertificate(ctx context.Context, ks hsm.KeyStore) (tls.Certificate, error) {
	if _, err := ks.PublicKey(ctx, &hsm.PublicKeyRequest{Label: tlsKeyLabel}); errors.Is(err, hsm.ErrKeyNotFound) {
		if _, err := ks.CreateKey(ctx, &hsm.CreateKeyRequest{Label: tlsKeyLabel, Algorithm: hsm.ECDSAP256}); err != nil {
			return tls.Certificate{}, fmt.Errorf("creating TLS key: %w", err)
		}
	} else if err != nil {
		return tls.Certificate{}, fmt.Errorf("reading TLS key: %w", err)
	}
	signer, err := ks.Signer(ctx, &hsm.SignerRequest{Label: tlsKeyLabel})
	if err != nil {
		return tls.Certificate{}, fmt.Errorf("TLS key: %w", err)
	}
	serial, err := rand.Int(rand.Reader, new(big.Int).Lsh(big.NewInt(1), 127))
	if err != nil {
		return tls.Certificate{}, err
	}
	now := time.Now()
	tmpl := &x509.Certificate{
		SerialNumber: serial.Add(serial, big.NewInt(1)),
		Subject:      pkix.Name{CommonName: "kysod development", Organization: []string{"kyso"}},
		NotBefore:    now.Add(-5 * time.Minute),
		NotAfter:     now.Add(30 * 24 * time.Hour),
		KeyUsage:     x509.KeyUsageDigitalSignature,
		ExtKeyUsage:  []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
		DNSNames:     []string{"localhost"},
		IPAddresses:  []net.IP{net.IPv4(127, 0, 0, 1), net.IPv6loopback},
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, signer.Public(), signer)
	if err != nil {
		return tls.Certificate{}, fmt.Errorf("making TLS certificate: %w", err)
	}
	return tls.Certificate{Certificate: [][]byte{der}, PrivateKey: signer}, nil
}
