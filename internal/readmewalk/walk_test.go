package readmewalk

import (
	"bufio"
	"bytes"
	"context"
	"fmt"
	"image"
	"image/color"
	"image/png"
	"io"
	"math/rand/v2"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/kyso-pki/kyso/internal/testenv"
	"github.com/kyso-pki/kyso/internal/testpdf"
)

func TestMain(m *testing.M) {
	code := m.Run()
	testenv.StopPostgres()
	os.Exit(code)
}

// block is one fenced code block of README.md.
type block struct {
	line int    // line of the opening fence, from 1
	lang string // the fence's info string: sh, yaml, go, …
	body string
	// directives are the walk's instructions from an HTML comment on the
	// line right before the fence: <!-- walk: NAME "ARG" (why); … -->.
	directives []directive
}

// directive is one instruction to the walk about the block below it:
//
//	skip "why"        the block is not run (say why)
//	omit "LINE"       that exact line is not run (the comment says why)
//	file "PATH"       the block is a file's content: write it to PATH
//	wait "FILE"       before running, wait until FILE (in the working
//	                  directory) exists: something asynchronous makes it
//	expect "TEXT"     the block's output must contain TEXT
type directive struct{ name, arg string }

var walkComment = regexp.MustCompile(`^<!--\s*walk:\s*(.*?)\s*-->\s*$`)

// parseREADME returns the fenced code blocks of a Markdown file with the
// walk directives above them.
func parseREADME(src []byte) ([]block, error) {
	var (
		blocks  []block
		cur     *block
		pending []directive
		body    strings.Builder
	)
	sc := bufio.NewScanner(bytes.NewReader(src))
	for n := 1; sc.Scan(); n++ {
		line := sc.Text()
		if cur != nil {
			if strings.HasPrefix(line, "```") {
				cur.body = body.String()
				blocks = append(blocks, *cur)
				cur = nil
				continue
			}
			body.WriteString(line + "\n")
			continue
		}
		if m := walkComment.FindStringSubmatch(line); m != nil {
			ds, err := parseDirectives(m[1])
			if err != nil {
				return nil, fmt.Errorf("README.md:%d: %w", n, err)
			}
			pending = ds
			continue
		}
		if info, ok := strings.CutPrefix(line, "```"); ok {
			cur = &block{line: n, lang: strings.TrimSpace(info), directives: pending}
			body.Reset()
			pending = nil
			continue
		}
		if pending != nil && strings.TrimSpace(line) != "" {
			return nil, fmt.Errorf("README.md:%d: a walk directive must sit right above a code block", n-1)
		}
	}
	if cur != nil {
		return nil, fmt.Errorf("README.md:%d: code block never closed", cur.line)
	}
	return blocks, sc.Err()
}

func parseDirectives(s string) ([]directive, error) {
	var ds []directive
	for _, part := range strings.Split(s, ";") {
		part = strings.TrimSpace(part)
		name, rest, _ := strings.Cut(part, " ")
		switch name {
		case "skip", "omit", "file", "wait", "expect":
		default:
			return nil, fmt.Errorf("unknown walk directive %q (want skip, omit, file, wait or expect)", name)
		}
		q, err := strconv.QuotedPrefix(strings.TrimSpace(rest))
		if err != nil {
			return nil, fmt.Errorf("walk directive %s: want a quoted argument, got %q", name, rest)
		}
		arg, _ := strconv.Unquote(q)
		ds = append(ds, directive{name, arg})
	}
	return ds, nil
}

func (b *block) directive(name string) (string, bool) {
	for _, d := range b.directives {
		if d.name == name {
			return d.arg, true
		}
	}
	return "", false
}

// TestParseREADME checks the parser on the forms the walk relies on.
func TestParseREADME(t *testing.T) {
	src := "text\n<!-- walk: omit \"make test\" (why); expect \"ok\" -->\n```sh\ngo run ./cmd/kysod\nmake test\n```\n\n```go\nx := 1\n```\n"
	got, err := parseREADME([]byte(src))
	if err != nil {
		t.Fatal(err)
	}
	if len(got) != 2 || got[0].lang != "sh" || got[0].line != 3 || got[0].body != "go run ./cmd/kysod\nmake test\n" || got[1].lang != "go" {
		t.Fatalf("parsed %+v", got)
	}
	if arg, _ := got[0].directive("omit"); arg != "make test" {
		t.Errorf("omit = %q", arg)
	}
	if arg, _ := got[0].directive("expect"); arg != "ok" {
		t.Errorf("expect = %q", arg)
	}
	for _, bad := range []string{
		"<!-- walk: run \"x\" -->\n```sh\nx\n```\n",        // unknown directive
		"<!-- walk: skip because -->\n```sh\nx\n```\n",     // unquoted
		"<!-- walk: skip \"x\" -->\ntext\n```sh\nx\n```\n", // not above a block
		"```sh\nx\n", // never closed
	} {
		if _, err := parseREADME([]byte(bad)); err == nil {
			t.Errorf("parseREADME(%q) accepted it", bad)
		}
	}
}

// walkEnv is what the walk puts in place of the README's paths, hosts and
// ports.
type walkEnv struct {
	root, work, bin string
	devHTTP, devTLS int    // go run ./cmd/kysod: 127.0.0.1:8080 and :8443
	http, tls       int    // kysod --config kysod.yaml: 0.0.0.0:80 and :443
	hook            int    // the portal's webhook receiver
	pgDSN           string // postgres://kyso@db/kyso
}

// substitute rewrites README text for the walk: temporary directories for
// /var/lib/kyso, /etc/kyso and /tmp/keys; free loopback ports for kysod's
// addresses; this test's PostgreSQL database, SoftHSM token directory and
// webhook receiver for the production hosts the README names.
func (e *walkEnv) substitute(s string) string {
	port := func(p int) string { return strconv.Itoa(p) }
	r := strings.NewReplacer(
		"go run ./cmd/kysod", "kysod --listen 127.0.0.1:"+port(e.devTLS)+" --http 127.0.0.1:"+port(e.devHTTP),
		"127.0.0.1:8080", "127.0.0.1:"+port(e.devHTTP),
		"127.0.0.1:8443", "127.0.0.1:"+port(e.devTLS),
		"localhost:8443", "localhost:"+port(e.devTLS),
		"0.0.0.0:443", "127.0.0.1:"+port(e.tls),
		"0.0.0.0:80", "127.0.0.1:"+port(e.http),
		"http://pki.example.vn", "http://127.0.0.1:"+port(e.http),
		"https://portal.example.vn/kyso", "http://127.0.0.1:"+port(e.hook)+"/kyso",
		"postgres://kyso@db/kyso", e.pgDSN,
		"/var/lib/kyso", filepath.Join(e.root, "var/lib/kyso"),
		"/etc/kyso", filepath.Join(e.root, "etc/kyso"),
		"/tmp/keys", filepath.Join(e.root, "tmp/keys"),
	)
	return r.Replace(s)
}

// prelude is the start of the walk's script: strict mode, and
// walk_daemon, which runs a kysod line in the background and waits until
// it serves.
const prelude = `set -euo pipefail
trap 'echo "walk: this command failed with status $?: $BASH_COMMAND" >&2' ERR
walk_n=0
walk_daemon() {
	walk_n=$((walk_n + 1))
	local log="$WALK_DIR/kysod-$walk_n.log"
	"$@" >"$log" 2>&1 &
	local pid=$!
	echo "$pid" >>"$WALK_DIR/pids"
	for _ in $(seq 1 900); do
		if grep -q '"msg":"kysod serving"' "$log"; then return 0; fi
		if ! kill -0 "$pid" 2>/dev/null; then
			echo "walk: kysod exited before serving:" >&2; cat "$log" >&2; return 1
		fi
		sleep 0.1
	done
	echo "walk: kysod did not serve within 90s:" >&2; cat "$log" >&2; return 1
}
walk_wait() {
	for _ in $(seq 1 300); do [ -s "$1" ] && return 0; sleep 0.1; done
	echo "walk: $1 did not appear within 30s" >&2; return 1
}
`

// marker separates the output of one block from the next.
func marker(line int) string { return fmt.Sprintf("@@walk README.md:%d@@", line) }

// script builds the walk's bash script from the README's blocks: sh blocks
// run in order in one shell (variables carry over, as in a reader's
// terminal), kysod lines run in the background, yaml blocks marked file
// are written where they say.
func (e *walkEnv) script(t *testing.T, blocks []block) (string, int) {
	t.Helper()
	var sb strings.Builder
	sb.WriteString(prelude)
	ran := 0
	for _, b := range blocks {
		if why, ok := b.directive("skip"); ok {
			t.Logf("README.md:%d: skipped: %s", b.line, why)
			continue
		}
		if path, ok := b.directive("file"); ok {
			path = e.substitute(path)
			fmt.Fprintf(&sb, "mkdir -p %q\ncat >%q <<'WALK_EOF'\n%sWALK_EOF\n", filepath.Dir(path), path, e.substitute(b.body))
			continue
		}
		if b.lang != "sh" {
			continue
		}
		ran++
		fmt.Fprintf(&sb, "echo %q\n", marker(b.line))
		if f, ok := b.directive("wait"); ok {
			fmt.Fprintf(&sb, "walk_wait %q\n", f)
		}
		omit, _ := b.directive("omit")
		continued := false
		for _, line := range strings.SplitAfter(e.substitute(b.body), "\n") {
			trimmed := strings.TrimSpace(line)
			if omit != "" && !continued && (trimmed == omit || strings.HasPrefix(trimmed, omit+" ")) {
				continue
			}
			if !continued && (trimmed == "kysod" || strings.HasPrefix(trimmed, "kysod ")) {
				line = "walk_daemon " + strings.TrimLeft(line, " \t")
			}
			sb.WriteString(line)
			continued = strings.HasSuffix(strings.TrimRight(line, "\n"), `\`)
		}
	}
	return sb.String(), ran
}

// TestWalk runs README.md: every sh block, in order, in one shell, against
// the kysod daemons the README starts, then checks every PDF it signed
// with qpdf and pdfsig.
func TestWalk(t *testing.T) {
	for _, tool := range []string{"bash", "jq", "curl", "openssl", "base64", "softhsm2-util", "qpdf", "go"} {
		testenv.LookPath(t, tool, "run the README's test command (make test), which installs it")
	}
	pdfsig := testenv.LookPath(t, "pdfsig", "apt-get install poppler-utils")
	if _, err := os.Stat(testenv.SoftHSMModule); err != nil {
		testenv.Missing(t, "SoftHSM's module %s: apt-get install softhsm2", testenv.SoftHSMModule)
	}
	repo, err := filepath.Abs("../..")
	if err != nil {
		t.Fatal(err)
	}
	src, err := os.ReadFile(filepath.Join(repo, "README.md"))
	if err != nil {
		t.Fatal(err)
	}
	blocks, err := parseREADME(src)
	if err != nil {
		t.Fatal(err)
	}

	root := t.TempDir()
	e := &walkEnv{root: root, work: filepath.Join(root, "work"), bin: filepath.Join(root, "bin"), pgDSN: testenv.NewPostgres(t)}
	ports := freePorts(t, 5)
	e.devHTTP, e.devTLS, e.http, e.tls = ports[0], ports[1], ports[2], ports[3]
	for _, d := range []string{e.work, e.bin, filepath.Join(root, "home"), filepath.Join(root, "tmp"), filepath.Join(root, "tokens")} {
		if err := os.MkdirAll(d, 0o700); err != nil {
			t.Fatal(err)
		}
	}

	// What a reader brings: a PDF form to sign and a picture of a
	// handwritten signature.
	writeFile(t, filepath.Join(e.work, "form.pdf"), testpdf.Form())
	writeFile(t, filepath.Join(e.work, "chu-ky.png"), signaturePNG(t))
	// The portal: it receives the webhook of the SmartCA transaction.
	hook := httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, err := io.ReadAll(io.LimitReader(r.Body, 64<<20))
		if err != nil {
			http.Error(w, err.Error(), http.StatusBadRequest)
			return
		}
		if _, err := os.Stat(filepath.Join(e.work, "body.json")); err == nil {
			return // keep the first delivery: at-least-once may repeat it
		}
		// header first, body last: the README waits for the body.
		writeFile(t, filepath.Join(e.work, "header.txt"), []byte(r.Header.Get("X-Kyso-Signature")))
		writeFile(t, filepath.Join(e.work, "body.json.tmp"), body)
		os.Rename(filepath.Join(e.work, "body.json.tmp"), filepath.Join(e.work, "body.json"))
	}))
	hookLn, err := net.Listen("tcp", fmt.Sprintf("127.0.0.1:%d", ports[4]))
	if err != nil {
		t.Fatal(err)
	}
	hook.Listener = hookLn
	hook.Start()
	defer hook.Close()
	e.hook = ports[4]

	// SoftHSM's tokens in this test's directory, not the machine's.
	conf := filepath.Join(root, "softhsm2.conf")
	writeFile(t, conf, []byte("directories.tokendir = "+filepath.Join(root, "tokens")+"\nobjectstore.backend = file\nlog.level = ERROR\n"))

	build := exec.Command("go", "build", "-o", e.bin+"/", "./cmd/kyso", "./cmd/kysod")
	build.Dir = repo
	if out, err := build.CombinedOutput(); err != nil {
		t.Fatalf("go build ./cmd/kyso ./cmd/kysod: %v\n%s", err, out)
	}

	script, ran := e.script(t, blocks)
	if ran == 0 {
		t.Fatal("README.md has no sh block to walk")
	}
	scriptFile := filepath.Join(root, "walk.sh")
	writeFile(t, scriptFile, []byte(script))

	ctx, cancel := context.WithTimeout(context.Background(), 8*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, "bash", scriptFile)
	cmd.Dir = e.work
	cmd.Env = []string{
		"PATH=" + e.bin + string(os.PathListSeparator) + os.Getenv("PATH"),
		"HOME=" + filepath.Join(root, "home"),
		"TMPDIR=" + filepath.Join(root, "tmp"),
		"LANG=C.UTF-8",
		"SOFTHSM2_CONF=" + conf,
		"WALK_DIR=" + root,
	}
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	runErr := cmd.Run()
	stopDaemons(t, root)
	if runErr != nil {
		t.Fatalf("walking README.md failed (%v); the walk's output (its end):\n%s", runErr, tail(out.String(), 12000))
	}
	for _, b := range blocks {
		want, ok := b.directive("expect")
		if !ok {
			continue
		}
		if got := blockOutput(out.String(), b.line); !strings.Contains(got, want) {
			t.Errorf("README.md:%d printed %q, want it to contain %q", b.line, got, want)
		}
	}
	t.Logf("walked %d sh blocks of README.md", ran)

	// Every PDF the walk signed, checked by software nobody here wrote.
	pdfs, _ := filepath.Glob(filepath.Join(e.work, "*.pdf"))
	checked := 0
	for _, p := range pdfs {
		if filepath.Base(p) == "form.pdf" {
			continue
		}
		testenv.CheckQpdf(t, p)
		// The campaign report kyso writes is the input of its seal:
		// qpdf judges it, pdfsig the sealed one.
		if filepath.Base(p) == "campaign-2026.pdf" {
			continue
		}
		checked++
		o, stderr, _ := testenv.Run(exec.Command(pdfsig, "-nocert", "-no-ocsp", p))
		// pdfsig validates CAdES signatures; it cannot validate document
		// time-stamps (ETSI.RFC3161, "unknown" to it), which kyso verify
		// judged in the walk.
		cades := 0
		for _, sig := range strings.Split(o, "Signature #")[1:] {
			if !strings.Contains(sig, "Signature Type: ETSI.CAdES.detached") {
				continue
			}
			cades++
			if !strings.Contains(sig, "Signature Validation: Signature is Valid.") {
				t.Errorf("pdfsig %s: a signature is not valid:\n%s\n%s", filepath.Base(p), o, stderr)
			}
		}
		if cades == 0 {
			t.Errorf("pdfsig %s: no ETSI.CAdES.detached signature:\n%s\n%s", filepath.Base(p), o, stderr)
		}
	}
	if checked == 0 {
		t.Error("the walk signed no PDF")
	}
}

// blockOutput is what the block at line printed.
func blockOutput(out string, line int) string {
	_, after, ok := strings.Cut(out, marker(line)+"\n")
	if !ok {
		return ""
	}
	if i := strings.Index(after, "@@walk README.md:"); i >= 0 {
		return after[:i]
	}
	return after
}

// stopDaemons ends the daemons the walk started: SIGTERM (kysod finishes
// in-flight work and closes its database), then SIGKILL.
func stopDaemons(t *testing.T, root string) {
	b, _ := os.ReadFile(filepath.Join(root, "pids"))
	var procs []*os.Process
	for _, f := range strings.Fields(string(b)) {
		pid, err := strconv.Atoi(f)
		if err != nil {
			continue
		}
		if p, err := os.FindProcess(pid); err == nil && p.Signal(syscall.SIGTERM) == nil {
			procs = append(procs, p)
		}
	}
	deadline := time.Now().Add(20 * time.Second)
	for _, p := range procs {
		for p.Signal(syscall.Signal(0)) == nil && time.Now().Before(deadline) {
			time.Sleep(50 * time.Millisecond)
		}
		if p.Signal(syscall.Signal(0)) == nil {
			t.Errorf("kysod (pid %d) did not stop on SIGTERM within 20s; killed", p.Pid)
			p.Kill()
		}
	}
}

// freePorts returns n loopback ports free now, chosen below the kernel's
// ephemeral range: the README names its ports before kysod binds them,
// and a port from the ephemeral range could meanwhile become some
// outgoing connection's (other test packages run at the same time).
func freePorts(t *testing.T, n int) []int {
	t.Helper()
	low := 32768
	if b, err := os.ReadFile("/proc/sys/net/ipv4/ip_local_port_range"); err == nil {
		if f := strings.Fields(string(b)); len(f) == 2 {
			if v, err := strconv.Atoi(f[0]); err == nil && v > 12000 {
				low = v
			}
		}
	}
	var ports []int
	var lns []net.Listener
	defer func() {
		for _, ln := range lns {
			ln.Close()
		}
	}()
	for tries := 0; len(ports) < n && tries < 1000; tries++ {
		p := 10000 + rand.IntN(low-10000)
		ln, err := net.Listen("tcp", fmt.Sprintf("127.0.0.1:%d", p))
		if err != nil {
			continue
		}
		lns = append(lns, ln)
		ports = append(ports, p)
	}
	if len(ports) < n {
		t.Fatalf("found %d free loopback ports below %d, want %d", len(ports), low, n)
	}
	return ports
}

func writeFile(t *testing.T, path string, b []byte) {
	t.Helper()
	if err := os.WriteFile(path, b, 0o600); err != nil {
		t.Error(err)
	}
}

// signaturePNG is a small picture standing in for a scanned handwritten
// signature: a blue stroke on white.
func signaturePNG(t *testing.T) []byte {
	img := image.NewRGBA(image.Rect(0, 0, 120, 60))
	for y := range 60 {
		for x := range 120 {
			img.Set(x, y, color.White)
		}
	}
	for x := 10; x < 110; x++ {
		y := 30 + (x%20 - 10)
		img.Set(x, y, color.RGBA{0, 0, 160, 255})
		img.Set(x, y+1, color.RGBA{0, 0, 160, 255})
	}
	var buf bytes.Buffer
	if err := png.Encode(&buf, img); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

func tail(s string, n int) string {
	if len(s) > n {
		return "…" + s[len(s)-n:]
	}
	return s
}
