package candor

import (
	"bufio"
	"context"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"
)

// A real Candor log for the tests: the TypeScript build's CLI (dist/, from npm ci), on loopback
// with OS-chosen ports and a data directory of its own. Without dist/ or node the tests skip,
// except under CI=true, where that is a failure.

type testLog struct {
	t      *testing.T
	dir    string
	grpc   string
	vkey   string
	token  string
	skey   string
	cmd    *exec.Cmd
	mu     sync.Mutex
	out    strings.Builder
	exited chan struct{}
}

func repoRoot(t *testing.T) string {
	wd, err := os.Getwd()
	if err != nil {
		t.Fatal(err)
	}
	if real, err := filepath.EvalSymlinks(wd); err == nil {
		wd = real // test.sh builds through a GOPATH symlink
	}
	return filepath.Join(wd, "..", "..")
}

func cli(t *testing.T) string {
	t.Helper()
	main := filepath.Join(repoRoot(t), "dist", "src", "cli", "main.js")
	_, statErr := os.Stat(main)
	_, nodeErr := exec.LookPath("node")
	if statErr != nil || nodeErr != nil {
		if os.Getenv("CI") == "true" {
			t.Fatalf("cannot start a Candor log (node: %v, %s: %v): run npm ci first", nodeErr, main, statErr)
		}
		t.Skipf("no Candor log to test against (node: %v; %s: %v); run npm ci", nodeErr, main, statErr)
	}
	return main
}

// candor runs a CLI command to completion and returns its output.
func candor(t *testing.T, args ...string) string {
	t.Helper()
	out, err := exec.Command("node", append([]string{cli(t)}, args...)...).CombinedOutput()
	if err != nil {
		t.Fatalf("candor %s: %v\n%s", strings.Join(args, " "), err, out)
	}
	return string(out)
}

var (
	tokenLine = regexp.MustCompile(`(?m)^(candor_pt_\S+)$`)
	skeyLine  = regexp.MustCompile(`(?m)^(PRIVATE\+KEY\+\S+)$`)
	grpcLine  = regexp.MustCompile(`gRPC candor\.v1\.LogService on (\S+)`)
)

// newLog makes a data directory with producer "gw" (tenant org-1, every type, a signing key) and
// serves it.
func newLog(t *testing.T) *testLog {
	l := &testLog{t: t, dir: t.TempDir()}
	l.token = tokenLine.FindStringSubmatch(candor(t, "producer", "add", "gw", "--tenant", "org-1", "--type", "*", "--data", l.dir))[1]
	l.skey = skeyLine.FindStringSubmatch(candor(t, "producer", "key", "generate", "gw", "--register", "--data", l.dir))[1]
	return l.serve()
}

// twin is a second log with a copy of l's data directory taken now: the same log key and
// producers, and from here on a history of its own (a fork, once both take different events).
func (l *testLog) twin() *testLog {
	t := l.t
	d := &testLog{t: t, dir: t.TempDir(), token: l.token, skey: l.skey}
	if out, err := exec.Command("cp", "-a", l.dir+"/.", d.dir).CombinedOutput(); err != nil {
		t.Fatalf("cp: %v %s", err, out)
	}
	return d.serve()
}

func (l *testLog) serve() *testLog {
	t := l.t
	l.start()
	vkey, err := os.ReadFile(filepath.Join(l.dir, "log.vkey"))
	if err != nil {
		t.Fatal(err)
	}
	l.vkey = strings.TrimSpace(strings.SplitN(string(vkey), "\n", 2)[0])
	t.Cleanup(l.stop)
	return l
}

// start runs `candor serve` on the data directory and waits (20 s at most) for its gRPC address.
func (l *testLog) start() {
	t := l.t
	l.out.Reset()
	grpcAt := l.grpc // a restart keeps the address the clients know
	if grpcAt == "" {
		grpcAt = "127.0.0.1:0"
	}
	// --public-entries: the crash test reads every entry back (GetEntries) without a reader token.
	l.cmd = exec.Command("node", cli(t), "serve", "--data", l.dir, "--http", "127.0.0.1:0", "--grpc", grpcAt, "--public-entries")
	pr, pw := io.Pipe()
	l.cmd.Stdout, l.cmd.Stderr = pw, pw
	if err := l.cmd.Start(); err != nil {
		t.Fatal(err)
	}
	l.exited = make(chan struct{})
	go func() { _ = l.cmd.Wait(); pw.Close(); close(l.exited) }()
	found := make(chan string, 1)
	go func() {
		s := bufio.NewScanner(pr)
		for s.Scan() {
			l.mu.Lock()
			l.out.WriteString(s.Text() + "\n")
			l.mu.Unlock()
			if m := grpcLine.FindStringSubmatch(s.Text()); m != nil {
				found <- m[1]
			}
		}
	}()
	select {
	case a := <-found:
		l.grpc = a
	case <-l.exited:
		t.Fatalf("candor serve exited before serving:\n%s", l.output())
	case <-time.After(20 * time.Second):
		l.kill()
		t.Fatalf("candor serve did not start in 20 s:\n%s", l.output())
	}
}

func (l *testLog) output() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.out.String()
}

// kill sends SIGKILL to the server (by its PID) and waits for it to exit.
func (l *testLog) kill() {
	_ = l.cmd.Process.Signal(syscall.SIGKILL)
	<-l.exited
}

func (l *testLog) stop() {
	select {
	case <-l.exited:
		return
	default:
	}
	_ = l.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-l.exited:
	case <-time.After(10 * time.Second):
		l.kill()
	}
}

func (l *testLog) client(t *testing.T, o Options) *Client {
	t.Helper()
	if o.Addresses == nil {
		o.Addresses = []string{l.grpc}
	}
	o.Token, o.Producer, o.Tenant, o.LogKeys = l.token, "gw", "org-1", []string{l.vkey}
	if o.SignerKey == "-" {
		o.SignerKey = ""
	} else {
		o.SignerKey = l.skey
	}
	c, err := New(o)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = c.Close() })
	return c
}

func ctx(t *testing.T) context.Context {
	c, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	t.Cleanup(cancel)
	return c
}
