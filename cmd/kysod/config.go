package main

import (
	"bytes"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"time"

	"go.yaml.in/yaml/v3"
)

// config is kysod's configuration. Each setting comes from, in order of
// precedence: a command-line flag, a KYSO_… environment variable, the
// YAML file named by --config (or KYSO_CONFIG), and the default.
type config struct {
	// Data is the data directory (its kyso.json holds the key store,
	// database and CA settings).
	Data string `yaml:"data"`
	// Listen is the HTTPS address; HTTP the plain-HTTP PKI address.
	Listen string `yaml:"listen"`
	HTTP   string `yaml:"http"`
	// Keystore and DB override the data directory's kyso.json.
	Keystore string `yaml:"keystore"`
	DB       string `yaml:"db"`
	// LogLevel is debug, info, warn or error.
	LogLevel string `yaml:"log_level"`
	// ShutdownTimeout bounds how long in-flight requests may finish after
	// SIGTERM.
	ShutdownTimeout time.Duration `yaml:"shutdown_timeout"`
	// Signing tunes the remote-signing core; zero values keep its
	// defaults.
	Signing signingConfig `yaml:"signing"`
}

type signingConfig struct {
	PINAttempts         int           `yaml:"pin_attempts"`
	PINLockout          time.Duration `yaml:"pin_lockout"`
	SADLifetime         time.Duration `yaml:"sad_lifetime"`
	TransactionLifetime time.Duration `yaml:"transaction_lifetime"`
	TokenLifetime       time.Duration `yaml:"token_lifetime"`
	// SignerCheckMaxAge is how long a passed pre-signing check of a
	// certificate is reused (default 1m; negative: before every
	// signature). Revocations by kyso's own CA refuse at once regardless.
	SignerCheckMaxAge time.Duration `yaml:"signer_check_max_age"`
}

// maxConfigFile bounds the YAML file.
const maxConfigFile = 1 << 20

// setting is one flag with its environment variable and default.
type setting struct {
	name, env, def, usage string
	dst                   *string
}

// loadConfig parses args and the environment (getenv) into a config.
func loadConfig(args []string, getenv func(string) string, stderr io.Writer) (*config, bool, error) {
	c := &config{}
	fs := flag.NewFlagSet("kysod", flag.ContinueOnError)
	fs.SetOutput(stderr)
	settings := []setting{
		{"data", "KYSO_DATA", "./kyso-data", "data directory", &c.Data},
		{"listen", "KYSO_LISTEN", "127.0.0.1:8443", "HTTPS listen address", &c.Listen},
		{"http", "KYSO_HTTP", "127.0.0.1:8080", "plain-HTTP listen address of the PKI routes: CA certificates, CRLs, OCSP, TSA; a development CA made on first start writes it into its certificates", &c.HTTP},
		{"keystore", "KYSO_KEYSTORE", "", "key store URI; default: the data directory's kyso.json, else softkey files in it", &c.Keystore},
		{"db", "KYSO_DB", "", "database, sqlite:PATH or postgres://…; default: kyso.json, else DIR/kyso.db", &c.DB},
		{"log-level", "KYSO_LOG_LEVEL", "info", "log level: debug, info, warn or error", &c.LogLevel},
	}
	flagVals := make([]*string, len(settings))
	for i, s := range settings {
		flagVals[i] = fs.String(s.name, "", fmt.Sprintf("%s (env %s; default %q)", s.usage, s.env, s.def))
	}
	configFile := fs.String("config", "", "YAML configuration file (env KYSO_CONFIG); flags and KYSO_… variables override it")
	showVersion := fs.Bool("version", false, "print the version and exit")
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return nil, true, nil
		}
		return nil, false, err
	}
	if fs.NArg() > 0 {
		return nil, false, fmt.Errorf("unexpected argument %q", fs.Arg(0))
	}
	if *showVersion {
		return nil, true, errVersion
	}
	path := *configFile
	if path == "" {
		path = getenv("KYSO_CONFIG")
	}
	if path != "" {
		if err := readConfigFile(path, c); err != nil {
			return nil, false, err
		}
	}
	set := map[string]bool{}
	fs.Visit(func(f *flag.Flag) { set[f.Name] = true })
	for i, s := range settings {
		switch {
		case set[s.name]:
			*s.dst = *flagVals[i]
		case getenv(s.env) != "":
			*s.dst = getenv(s.env)
		case *s.dst == "":
			*s.dst = s.def
		}
	}
	if c.ShutdownTimeout <= 0 {
		c.ShutdownTimeout = 30 * time.Second
	}
	return c, false, nil
}

// errVersion asks run to print the version.
var errVersion = errors.New("version")

// readConfigFile reads YAML into c, refusing unknown keys so a typo does
// not silently fall back to a default.
func readConfigFile(path string, c *config) error {
	f, err := os.Open(path)
	if err != nil {
		return fmt.Errorf("config: %w", err)
	}
	defer f.Close()
	b, err := io.ReadAll(io.LimitReader(f, maxConfigFile+1))
	if err != nil {
		return fmt.Errorf("config: %w", err)
	}
	if len(b) > maxConfigFile {
		return fmt.Errorf("config: %s is larger than %d bytes", path, maxConfigFile)
	}
	dec := yaml.NewDecoder(bytes.NewReader(b))
	dec.KnownFields(true)
	if err := dec.Decode(c); err != nil && !errors.Is(err, io.EOF) {
		return fmt.Errorf("config: %s: %w", path, err)
	}
	return nil
}
