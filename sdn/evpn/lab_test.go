package evpn

import (
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/sdnlab/sdnlab/internal/nsutil"
)

// The test binary doubles as an agent process: a test starts it inside a
// node namespace with these variables set (one process per node, as in a lab).
const (
	envAgentConfig = "SDNLAB_EVPN_TEST_AGENT_CONFIG"
	envAgentCtl    = "SDNLAB_EVPN_TEST_AGENT_CTL"
)

func TestMain(m *testing.M) {
	if path := os.Getenv(envAgentConfig); path != "" {
		os.Exit(agentMain(path, os.Getenv(envAgentCtl)))
	}
	os.Exit(m.Run())
}

func agentMain(cfgPath, ctl string) int {
	b, err := os.ReadFile(cfgPath)
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 2
	}
	var cfg Config
	if err := json.Unmarshal(b, &cfg); err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 2
	}
	level := slog.LevelInfo
	if os.Getenv("SDNLAB_DEBUG") != "" {
		level = slog.LevelDebug
	}
	log := slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: level})).With("node", cfg.Node)
	if err := Serve(context.Background(), cfg, ctl, os.Stdin, log); err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	return 0
}

// lab is a set of namespaces a test made; everything goes at Cleanup.
type lab struct {
	t      testing.TB
	prefix string
	dir    string
	ns     []string
	agents map[string]*testAgent
}

type testAgent struct {
	cmd   *exec.Cmd
	stdin interface{ Close() error }
	ctl   string
	cfg   Config
	ns    string
	log   *os.File
}

func needRoot(t testing.TB) {
	t.Helper()
	if os.Geteuid() != 0 {
		t.Skip("needs root to create network namespaces")
	}
	if _, err := exec.LookPath("ip"); err != nil {
		t.Skip("needs iproute2 (ip)")
	}
}

func newLab(t testing.TB, name string) *lab {
	needRoot(t)
	l := &lab{t: t, prefix: fmt.Sprintf("sdnlab-t%d%s", os.Getpid(), name), dir: t.TempDir(), agents: map[string]*testAgent{}}
	t.Cleanup(l.cleanup)
	return l
}

func (l *lab) name(s string) string { return l.prefix + "-" + s }

func (l *lab) addNS(s string) string {
	n := l.name(s)
	if err := nsutil.Create(n); err != nil {
		l.t.Fatal(err)
	}
	l.ns = append(l.ns, n)
	l.sh(n, "ip link set lo up")
	return n
}

// linkUnderlay joins two node namespaces with a veth pair on the underlay
// 10.99.0.0/24: dev1 in n1 with 10.99.0.1, dev2 in n2 with 10.99.0.2.
func (l *lab) linkUnderlay(n1, dev1, n2, dev2 string) {
	l.t.Helper()
	l.sh(n1, fmt.Sprintf(`
		ip link add %[1]s type veth peer name %[2]s netns %[3]s
		ip addr add 10.99.0.1/24 dev %[1]s
		ip link set %[1]s up`, dev1, dev2, n2))
	l.sh(n2, fmt.Sprintf(`
		ip addr add 10.99.0.2/24 dev %[1]s
		ip link set %[1]s up`, dev2))
}

// sh runs "ip ..." style commands (one per line) in a namespace.
func (l *lab) sh(ns string, cmds string) string {
	l.t.Helper()
	var out strings.Builder
	for _, c := range strings.Split(cmds, "\n") {
		c = strings.TrimSpace(c)
		if c == "" {
			continue
		}
		ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
		b, err := nsutil.Output(ctx, ns, "sh", "-c", c)
		cancel()
		if err != nil {
			l.t.Fatalf("%s: %s: %v\n%s", ns, c, err, b)
		}
		out.Write(b)
	}
	return out.String()
}

func (l *lab) try(ns string, c string) (string, error) {
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	b, err := nsutil.Output(ctx, ns, "sh", "-c", c)
	return string(b), err
}

func (l *lab) startAgent(node string, cfg Config) *testAgent {
	l.t.Helper()
	ns := l.name(node)
	b, _ := json.Marshal(cfg)
	cfgPath := filepath.Join(l.dir, node+".json")
	if err := os.WriteFile(cfgPath, b, 0o644); err != nil {
		l.t.Fatal(err)
	}
	ctl := filepath.Join(l.dir, node+".sock")
	logf, err := os.OpenFile(filepath.Join(l.dir, node+".log"), os.O_CREATE|os.O_APPEND|os.O_WRONLY, 0o644)
	if err != nil {
		l.t.Fatal(err)
	}
	cmd := exec.Command(os.Args[0], "-test.run=^$")
	cmd.Env = append(os.Environ(), envAgentConfig+"="+cfgPath, envAgentCtl+"="+ctl)
	cmd.Stdout, cmd.Stderr = logf, logf
	in, err := cmd.StdinPipe()
	if err != nil {
		l.t.Fatal(err)
	}
	if err := nsutil.Start(ns, cmd); err != nil {
		l.t.Fatal(err)
	}
	a := &testAgent{cmd: cmd, stdin: in, ctl: ctl, cfg: cfg, ns: ns, log: logf}
	l.agents[node] = a
	return a
}

// kill ends an agent like a crash (SIGKILL).
func (l *lab) kill(node string) {
	a := l.agents[node]
	if a == nil {
		return
	}
	_ = a.cmd.Process.Kill()
	_ = a.cmd.Wait()
	a.stdin.Close()
	a.log.Close()
	delete(l.agents, node)
}

func (l *lab) cleanup() {
	for n := range l.agents {
		if l.t.Failed() {
			if s := l.query(n); s != nil {
				b, _ := json.MarshalIndent(s, "", " ")
				l.t.Logf("agent %s state:\n%s", n, tail(string(b), 6000))
			}
			b, _ := os.ReadFile(filepath.Join(l.dir, n+".log"))
			l.t.Logf("agent %s log:\n%s", n, tail(string(b), 4000))
		}
		l.kill(n)
	}
	for i := len(l.ns) - 1; i >= 0; i-- {
		_ = nsutil.Delete(l.ns[i])
	}
}

func tail(s string, n int) string {
	if len(s) > n {
		return s[len(s)-n:]
	}
	return s
}

func (l *lab) query(node string) *Snapshot {
	l.t.Helper()
	a := l.agents[node]
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Second)
	defer cancel()
	s, err := Query(ctx, a.ctl)
	if err != nil {
		return nil
	}
	return s
}

// eventually polls cond until it holds or the (generous) timeout passes.
func (l *lab) eventually(what string, timeout time.Duration, cond func() (bool, string)) {
	l.t.Helper()
	deadline := time.Now().Add(timeout)
	last := ""
	for time.Now().Before(deadline) {
		ok, info := cond()
		if ok {
			return
		}
		last = info
		time.Sleep(50 * time.Millisecond)
	}
	l.t.Fatalf("timed out waiting for %s; last: %s", what, last)
}

// fdbHas checks `bridge fdb show dev DEV` in ns for a line with all words.
func (l *lab) fdbHas(ns, dev string, words ...string) (bool, string) {
	out, err := l.try(ns, "bridge fdb show dev "+dev)
	if err != nil {
		return false, err.Error()
	}
	return linesHave(out, words...), out
}

func (l *lab) neighHas(ns, dev string, words ...string) (bool, string) {
	out, err := l.try(ns, "ip neigh show dev "+dev)
	if err != nil {
		return false, err.Error()
	}
	return linesHave(out, words...), out
}

func linesHave(out string, words ...string) bool {
	for _, line := range strings.Split(out, "\n") {
		ok := true
		for _, w := range words {
			if !strings.Contains(line, w) {
				ok = false
				break
			}
		}
		if ok && line != "" {
			return true
		}
	}
	return false
}
