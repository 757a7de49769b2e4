package testenv

import (
	"context"
	"fmt"
	"net"
	"os"
	"os/exec"
	"os/user"
	"path/filepath"
	"runtime"
	"sort"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
)

// postgresServer is the one throwaway PostgreSQL server of a test binary.
type postgresServer struct {
	once sync.Once
	// bin, data and cred are how it was started, for RestartPostgres.
	bin, data string
	cred      *syscall.Credential
	restarts  int
	err       error // why it could not start; reported to every caller
	hint      bool  // err is a missing dependency, not a failure
	dir       string
	port      int
	cmd       *exec.Cmd
	exited    chan error
	logf      string
	nextDB    atomic.Int64
}

var pg postgresServer

// postgresStartTimeout bounds how long the server may take to accept
// connections.
const postgresStartTimeout = 30 * time.Second

// NewPostgres returns the DSN of a new, empty database on this test
// binary's throwaway PostgreSQL server, started on first use: initdb into
// a temporary directory, listening on 127.0.0.1 at a free port and on a
// unix socket in that directory, trust authentication for local and
// loopback connections only, fsync off. Each call creates its own database
// (kyso_test_N), dropped when t ends.
//
// Under root the server runs as the postgres user (Debian's package creates
// it), since PostgreSQL refuses to run as root. The server is started with
// a parent-death signal, so it ends with the test binary even if that is
// killed; packages that use NewPostgres should still stop it cleanly from
// TestMain:
//
//	func TestMain(m *testing.M) {
//		code := m.Run()
//		testenv.StopPostgres()
//		os.Exit(code)
//	}
//
// Without PostgreSQL's binaries (apt-get install postgresql-15) the
// dependency is reported Missing.
func NewPostgres(t testing.TB) string {
	t.Helper()
	pg.once.Do(pg.start)
	if pg.err != nil {
		if pg.hint {
			Missing(t, "%v", pg.err)
		}
		t.Fatalf("testenv: starting PostgreSQL: %v", pg.err)
	}
	name := fmt.Sprintf("kyso_test_%d", pg.nextDB.Add(1))
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if err := pg.exec(ctx, "CREATE DATABASE "+name); err != nil {
		t.Fatalf("testenv: creating database %s: %v", name, err)
	}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		if err := pg.exec(ctx, "DROP DATABASE IF EXISTS "+name+" WITH (FORCE)"); err != nil {
			t.Errorf("testenv: dropping database %s: %v", name, err)
		}
	})
	return pg.dsn(name)
}

// StopPostgres stops the server NewPostgres started, if any, and removes
// its directory. Call it from TestMain after m.Run.
func StopPostgres() {
	if pg.cmd == nil {
		return
	}
	pg.stop()
	os.RemoveAll(pg.dir)
}

// stop shuts the server down: SIGINT, PostgreSQL's fast shutdown
// (disconnect clients, stop), then SIGKILL after 15 s.
func (p *postgresServer) stop() {
	_ = p.cmd.Process.Signal(syscall.SIGINT)
	select {
	case <-p.exited:
	case <-time.After(15 * time.Second):
		_ = p.cmd.Process.Kill()
		<-p.exited
	}
	p.cmd = nil
}

// RestartPostgres stops the server NewPostgres started, as an operator's
// restart or a failover does (every connection dropped), keeps it down for
// down, and starts it again on the same port and data: the databases and
// DSNs NewPostgres gave stay good. The test fails if it does not come
// back.
func RestartPostgres(t testing.TB, down time.Duration) {
	t.Helper()
	if pg.cmd == nil {
		t.Fatal("testenv: RestartPostgres before NewPostgres")
	}
	pg.stop()
	time.Sleep(down)
	pg.restarts++
	if err := pg.run(pg.bin, pg.data, pg.cred, 100+pg.restarts, pg.port); err != nil {
		t.Fatalf("testenv: restarting PostgreSQL: %v", err)
	}
}

func (p *postgresServer) dsn(db string) string {
	return fmt.Sprintf("postgres://postgres@127.0.0.1:%d/%s?sslmode=disable", p.port, db)
}

func (p *postgresServer) exec(ctx context.Context, sql string) error {
	conn, err := pgx.Connect(ctx, p.dsn("postgres"))
	if err != nil {
		return err
	}
	defer conn.Close(context.Background())
	_, err = conn.Exec(ctx, sql)
	return err
}

// postgresBin returns the directory of the newest PostgreSQL under
// /usr/lib/postgresql, or the directory of initdb in PATH.
func postgresBin() (string, error) {
	dirs, _ := filepath.Glob("/usr/lib/postgresql/*/bin/initdb")
	sort.Slice(dirs, func(i, j int) bool {
		vi, _ := strconv.Atoi(filepath.Base(filepath.Dir(filepath.Dir(dirs[i]))))
		vj, _ := strconv.Atoi(filepath.Base(filepath.Dir(filepath.Dir(dirs[j]))))
		return vi > vj
	})
	if len(dirs) > 0 {
		return filepath.Dir(dirs[0]), nil
	}
	if p, err := exec.LookPath("initdb"); err == nil {
		return filepath.Dir(p), nil
	}
	return "", fmt.Errorf("no initdb under /usr/lib/postgresql/*/bin or in PATH: apt-get install postgresql-15")
}

func (p *postgresServer) start() {
	bin, err := postgresBin()
	if err != nil {
		p.err, p.hint = err, true
		return
	}
	var cred *syscall.Credential
	if os.Geteuid() == 0 {
		u, err := user.Lookup("postgres")
		if err != nil {
			p.err, p.hint = fmt.Errorf("running as root, and PostgreSQL refuses root, but there is no postgres user to run it as: %v", err), true
			return
		}
		uid, _ := strconv.Atoi(u.Uid)
		gid, _ := strconv.Atoi(u.Gid)
		cred = &syscall.Credential{Uid: uint32(uid), Gid: uint32(gid)}
	}
	dir, err := os.MkdirTemp("", "kyso-postgres-")
	if err != nil {
		p.err = err
		return
	}
	p.dir = dir
	if cred != nil {
		if err := os.Chown(dir, int(cred.Uid), int(cred.Gid)); err != nil {
			p.err = err
			return
		}
	}
	data := filepath.Join(dir, "data")
	initdb := exec.Command(filepath.Join(bin, "initdb"), "-D", data, "-U", "postgres", "-A", "trust",
		"-E", "UTF8", "--locale=C", "--no-sync")
	initdb.Dir = dir
	initdb.Env = []string{"PATH=" + os.Getenv("PATH"), "HOME=" + dir}
	initdb.SysProcAttr = &syscall.SysProcAttr{Credential: cred}
	if out, err := initdb.CombinedOutput(); err != nil {
		p.err = fmt.Errorf("initdb: %v\n%s", err, tail(out))
		return
	}
	// Only local and loopback connections, and no password: a throwaway
	// server for tests.
	hba := "local all all trust\nhost all all 127.0.0.1/32 trust\n"
	if err := os.WriteFile(filepath.Join(data, "pg_hba.conf"), []byte(hba), 0o600); err != nil {
		p.err = err
		return
	}
	if cred != nil {
		os.Chown(filepath.Join(data, "pg_hba.conf"), int(cred.Uid), int(cred.Gid))
	}
	for attempt := 0; attempt < 3; attempt++ {
		if p.err = p.run(bin, data, cred, attempt, 0); p.err == nil {
			p.bin, p.data, p.cred = bin, data, cred
			return
		}
		if out, _ := os.ReadFile(p.logf); !strings.Contains(string(out), "in use") {
			return
		}
	}
}

// run starts the server once, on port or (0) a fresh one, and waits until
// it accepts connections.
func (p *postgresServer) run(bin, data string, cred *syscall.Credential, attempt, port int) error {
	if port == 0 {
		l, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			return err
		}
		port = l.Addr().(*net.TCPAddr).Port
		l.Close()
	}
	p.port = port
	p.logf = filepath.Join(p.dir, fmt.Sprintf("postgres-%d.log", attempt))
	logFile, err := os.Create(p.logf)
	if err != nil {
		return err
	}
	cmd := exec.Command(filepath.Join(bin, "postgres"), "-D", data,
		"-p", strconv.Itoa(p.port),
		"-c", "listen_addresses=127.0.0.1",
		"-c", "unix_socket_directories="+p.dir,
		"-c", "fsync=off", "-c", "synchronous_commit=off", "-c", "full_page_writes=off",
		"-c", "max_connections=300", "-c", "shared_buffers=64MB")
	cmd.Dir = p.dir
	cmd.Env = []string{"PATH=" + os.Getenv("PATH"), "HOME=" + p.dir}
	cmd.Stdout, cmd.Stderr = logFile, logFile
	// Pdeathsig stops the server when the thread that started it ends; the
	// goroutine below keeps that thread for the server's lifetime, so in
	// effect: when the test binary ends.
	cmd.SysProcAttr = &syscall.SysProcAttr{Credential: cred, Pdeathsig: syscall.SIGQUIT, Setpgid: true}
	started := make(chan error, 1)
	exited := make(chan error, 1)
	go func() {
		runtime.LockOSThread() // never unlocked: the thread ends with the goroutine
		if err := cmd.Start(); err != nil {
			started <- err
			return
		}
		started <- nil
		exited <- cmd.Wait()
		logFile.Close()
	}()
	if err := <-started; err != nil {
		logFile.Close()
		return err
	}
	deadline := time.Now().Add(postgresStartTimeout)
	for {
		select {
		case err := <-exited:
			out, _ := os.ReadFile(p.logf)
			return fmt.Errorf("postgres exited before accepting connections: %v\n%s", err, tail(out))
		default:
		}
		ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
		err := p.exec(ctx, "SELECT 1")
		cancel()
		if err == nil {
			p.cmd, p.exited = cmd, exited
			return nil
		}
		if time.Now().After(deadline) {
			_ = cmd.Process.Kill()
			<-exited
			out, _ := os.ReadFile(p.logf)
			return fmt.Errorf("postgres did not accept connections within %v: %v\n%s", postgresStartTimeout, err, tail(out))
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// PostgresTool returns the path of one of PostgreSQL's programs (pg_dump,
// pg_restore) beside the server NewPostgres runs, of the same version.
// Without them the dependency is reported Missing.
func PostgresTool(t testing.TB, name string) string {
	t.Helper()
	bin, err := postgresBin()
	if err != nil {
		Missing(t, "%v", err)
	}
	p := filepath.Join(bin, name)
	if _, err := os.Stat(p); err != nil {
		Missing(t, "%s: %v (apt-get install postgresql-15)", p, err)
	}
	return p
}
