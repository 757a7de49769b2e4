package main

import (
	"archive/tar"
	"compress/gzip"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path"
	"path/filepath"
	"slices"
	"strings"
	"time"

	"github.com/kyso-pki/kyso/cmd/internal/datadir"
	"github.com/kyso-pki/kyso/hsm"
	"github.com/kyso-pki/kyso/internal/version"
	"github.com/kyso-pki/kyso/pkg/store/sqlite"
)

// backupManifest is the first entry of a backup, kyso-backup.json: what
// it holds, and what it could not (a database or keys that live outside
// the data directory), with how to back those up.
type backupManifest struct {
	Format  string    `json:"format"` // "kyso-backup/1"
	Created time.Time `json:"created"`
	Version string    `json:"kyso_version"`
	// Files are the archive's other entries, in order.
	Files []string `json:"files"`
	// Elsewhere says what the backup does not hold and where it is.
	Elsewhere []string `json:"not_included,omitempty"`
}

const (
	backupFormat   = "kyso-backup/1"
	manifestName   = "kyso-backup.json"
	backupDB       = "kyso.db"
	maxManifest    = 1 << 20
	maxBackupEntry = 64 << 30 // a database may be large; a key file is not
)

// backupFiles are the data directory's own files a backup carries beside
// the database (the lock and SQLite's -wal and -shm are not: the
// snapshot holds what they did).
var backupFiles = []string{datadir.ConfigFile, "secrets.key", "passphrase"}

func backupCmd(ctx context.Context, e *env, args []string) error {
	fl := newFlags(e, "backup", "backup --data DIR --out FILE.tar.gz")
	dir := fl.String("data", envOrDefault("KYSO_DATA", "./kyso-data"), "data directory (env KYSO_DATA)")
	out := fl.String("out", "", "the backup file to write (must not exist): a gzip'd tar")
	if err := parse(fl, args); err != nil {
		return err
	}
	if *out == "" {
		return usagef("--out is required")
	}
	if _, err := os.Lstat(*out); !errors.Is(err, fs.ErrNotExist) {
		return usagef("--out %s exists; a backup never overwrites a file", *out)
	}
	d, err := datadir.Load(*dir)
	if err != nil {
		return err
	}
	if _, err := os.Stat(d.Path); err != nil {
		return fmt.Errorf("the data directory: %w", err)
	}
	work, err := os.MkdirTemp(filepath.Dir(*out), ".kyso-backup-*")
	if err != nil {
		return err
	}
	defer os.RemoveAll(work)
	m := &backupManifest{Format: backupFormat, Created: time.Now().UTC(), Version: version.String()}
	type entry struct{ name, path string }
	var entries []entry

	// The database: a snapshot taken while kysod may be writing.
	if dbPath, ok := strings.CutPrefix(d.Config.DB, "sqlite:"); ok {
		snap := filepath.Join(work, backupDB)
		if err := sqlite.Snapshot(ctx, dbPath, snap); err != nil {
			return err
		}
		entries = append(entries, entry{backupDB, snap})
	} else {
		m.Elsewhere = append(m.Elsewhere, "the database (PostgreSQL): back it up with pg_dump --format=custom, restore with pg_restore (docs/OPERATING.md)")
	}
	for _, name := range backupFiles {
		p := filepath.Join(d.Path, name)
		if fi, err := os.Lstat(p); err == nil && fi.Mode().IsRegular() {
			entries = append(entries, entry{name, p})
		}
	}
	if d.Config.SecretsKey != "" {
		m.Elsewhere = append(m.Elsewhere, "the secrets key ("+d.Config.SecretsKey+"): keep a copy with the backup, apart from it")
	}
	// Keys: softkey files under the data directory travel with it (they
	// are encrypted under the passphrase); an HSM's or Vault's keys never
	// leave it, and are backed up by its own means.
	u, err := hsm.ParseURI(d.Config.Keystore)
	if err != nil {
		return err
	}
	keysDir := filepath.Join(d.Path, "keys")
	switch {
	case u.Scheme == "softkey" && filepath.Clean(u.Query["dir"]) == filepath.Clean(keysDir):
		list, err := os.ReadDir(keysDir)
		if err != nil && !errors.Is(err, fs.ErrNotExist) {
			return err
		}
		for _, f := range list {
			if f.Type().IsRegular() {
				entries = append(entries, entry{"keys/" + f.Name(), filepath.Join(keysDir, f.Name())})
			}
		}
	case u.Scheme == "softkey":
		m.Elsewhere = append(m.Elsewhere, "the softkey files in "+u.Query["dir"]+": copy that directory")
	default:
		m.Elsewhere = append(m.Elsewhere, "the keys, in the "+u.Scheme+" key store: back them up by its own means (an HSM's backup, Vault's snapshots); they never leave it")
	}
	for _, en := range entries {
		m.Files = append(m.Files, en.name)
	}

	tmp, err := os.CreateTemp(filepath.Dir(*out), ".kyso-backup-*.tar.gz")
	if err != nil {
		return err
	}
	defer os.Remove(tmp.Name())
	gz := gzip.NewWriter(tmp)
	tw := tar.NewWriter(gz)
	mb, _ := json.MarshalIndent(m, "", "  ")
	if err := writeTarFile(tw, manifestName, m.Created, mb); err != nil {
		return err
	}
	for _, en := range entries {
		if err := copyIntoTar(tw, en.name, en.path); err != nil {
			return err
		}
	}
	if err := tw.Close(); err != nil {
		return err
	}
	if err := gz.Close(); err != nil {
		return err
	}
	if err := tmp.Sync(); err != nil {
		return err
	}
	if err := tmp.Close(); err != nil {
		return err
	}
	if err := os.Chmod(tmp.Name(), 0o600); err != nil {
		return err
	}
	if err := os.Link(tmp.Name(), *out); err != nil {
		return fmt.Errorf("writing %s: %w", *out, err)
	}
	fmt.Fprintf(e.stdout, "backup: %s (%d files: %s)\n", *out, len(m.Files), strings.Join(m.Files, ", "))
	for _, s := range m.Elsewhere {
		fmt.Fprintf(e.stdout, "not in this backup: %s\n", s)
	}
	return nil
}

func writeTarFile(tw *tar.Writer, name string, mod time.Time, b []byte) error {
	if err := tw.WriteHeader(&tar.Header{Name: name, Mode: 0o600, Size: int64(len(b)), ModTime: mod, Typeflag: tar.TypeReg}); err != nil {
		return err
	}
	_, err := tw.Write(b)
	return err
}

func copyIntoTar(tw *tar.Writer, name, p string) error {
	f, err := os.Open(p)
	if err != nil {
		return err
	}
	defer f.Close()
	fi, err := f.Stat()
	if err != nil {
		return err
	}
	if err := tw.WriteHeader(&tar.Header{Name: name, Mode: 0o600, Size: fi.Size(), ModTime: fi.ModTime(), Typeflag: tar.TypeReg}); err != nil {
		return err
	}
	if _, err := io.CopyN(tw, f, fi.Size()); err != nil {
		return fmt.Errorf("backing up %s: %w", p, err)
	}
	return nil
}

// restoreName checks an entry's name against what a backup may hold: the
// manifest, the data directory's own files, the database, and key files
// directly under keys/. Anything else — a path out of the directory, a
// subdirectory, a link — refuses the whole archive.
func restoreName(name string) bool {
	if name == manifestName || name == backupDB {
		return true
	}
	for _, f := range backupFiles {
		if name == f {
			return true
		}
	}
	if k, ok := strings.CutPrefix(name, "keys/"); ok {
		return k != "" && k == path.Base(k) && k != "." && k != ".." && !strings.ContainsAny(k, "\\\x00")
	}
	return false
}

func restoreCmd(ctx context.Context, e *env, args []string) error {
	fl := newFlags(e, "restore", "restore --from FILE.tar.gz --data DIR")
	from := fl.String("from", "", "a backup made by kyso backup")
	dir := fl.String("data", "", "the data directory to restore into: new, or empty")
	if err := parse(fl, args); err != nil {
		return err
	}
	if *from == "" || *dir == "" {
		return usagef("--from and --data are required")
	}
	if list, err := os.ReadDir(*dir); err == nil && len(list) > 0 {
		return usagef("--data %s is not empty; restore into a new directory", *dir)
	} else if err != nil && !errors.Is(err, fs.ErrNotExist) {
		return err
	}
	f, err := os.Open(*from)
	if err != nil {
		return err
	}
	defer f.Close()
	gz, err := gzip.NewReader(f)
	if err != nil {
		return fmt.Errorf("%s is not a kyso backup (gzip: %v)", *from, err)
	}
	tr := tar.NewReader(gz)
	hdr, err := tr.Next()
	if err != nil || hdr.Name != manifestName || hdr.Size > maxManifest {
		return fmt.Errorf("%s is not a kyso backup: its first entry is not %s", *from, manifestName)
	}
	var m backupManifest
	if err := json.NewDecoder(io.LimitReader(tr, maxManifest)).Decode(&m); err != nil || m.Format != backupFormat {
		return fmt.Errorf("%s is not a kyso backup of format %s (%v)", *from, backupFormat, err)
	}
	// Into a directory beside the target, renamed into place when whole:
	// a refused archive leaves nothing behind.
	parent := filepath.Dir(filepath.Clean(*dir))
	if err := os.MkdirAll(parent, 0o700); err != nil {
		return err
	}
	work, err := os.MkdirTemp(parent, ".kyso-restore-*")
	if err != nil {
		return err
	}
	defer os.RemoveAll(work)
	var restored []string
	for {
		hdr, err := tr.Next()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			return fmt.Errorf("reading %s: %w", *from, err)
		}
		if hdr.Typeflag != tar.TypeReg || !restoreName(hdr.Name) || hdr.Size < 0 || hdr.Size > maxBackupEntry {
			return fmt.Errorf("%s holds %q, which is not a file a kyso backup holds: nothing was restored", *from, hdr.Name)
		}
		p := filepath.Join(work, filepath.FromSlash(hdr.Name))
		if err := os.MkdirAll(filepath.Dir(p), 0o700); err != nil {
			return err
		}
		out, err := os.OpenFile(p, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o600)
		if err != nil {
			return fmt.Errorf("restoring %s: %w", hdr.Name, err)
		}
		_, err = io.CopyN(out, tr, hdr.Size)
		if err == nil {
			err = out.Sync()
		}
		if cerr := out.Close(); err == nil {
			err = cerr
		}
		if err != nil {
			return fmt.Errorf("restoring %s: %w", hdr.Name, err)
		}
		restored = append(restored, hdr.Name)
	}
	// The restored database must open and be sound before it is used.
	if _, err := os.Stat(filepath.Join(work, backupDB)); err == nil {
		st, err := sqlite.Open(ctx, filepath.Join(work, backupDB), nil)
		if err != nil {
			return fmt.Errorf("the restored database does not open: %w", err)
		}
		err = st.CheckIntegrity(ctx)
		st.Close()
		if err != nil {
			return err
		}
	}
	os.Remove(*dir) // empty, or absent
	if err := os.Rename(work, *dir); err != nil {
		return fmt.Errorf("moving the restored files to %s: %w", *dir, err)
	}
	fmt.Fprintf(e.stdout, "restored %s (made %s by kyso %s) into %s: %s\n", *from, m.Created.Format(time.RFC3339), m.Version, *dir, strings.Join(restored, ", "))
	if d, err := datadir.Load(*dir); err == nil && d.Config.DB != "sqlite:"+filepath.Join(*dir, backupDB) && slices.Contains(restored, backupDB) {
		fmt.Fprintf(e.stdout, "kyso.json names the database %s; the restored one is %s: point kyso.json's db at it\n", d.Config.DB, filepath.Join(*dir, backupDB))
	}
	for _, s := range m.Elsewhere {
		fmt.Fprintf(e.stdout, "not in the backup, restore it yourself: %s\n", s)
	}
	return nil
}
