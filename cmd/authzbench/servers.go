package main

import (
	"bufio"
	"context"
	"crypto/tls"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials"
	"google.golang.org/grpc/credentials/insecure"
	healthpb "google.golang.org/grpc/health/grpc_health_v1"

	"extauthz/internal/healthwatch"
)

// Server start-up and shutdown bounds.
const (
	readyTimeout = 30 * time.Second // a WIF server waits for its first exchange
	stopTimeout  = 8 * time.Second  // extauthz's own grace is 5 s
)

// staticKey is the dummy ANTHROPIC_API_KEY of the static-key server: the
// shape of a real key, worthless anywhere.
const staticKey = "sk-ant-api03-BENCHMARK.dummy.key.not.a.credential.0123456789abcdefghijklmnopqrstuvwxyz.AAAAAAAAAA"

// serverLabels name the servers in the report.
var serverLabels = map[string]string{
	serverWIF:      "extauthz WIF",
	serverWIFTLS:   "extauthz WIF, mTLS",
	serverWIFMany:  "extauthz WIF, 16 credentials",
	serverStatic:   "extauthz static key",
	serverBaseline: "baseline (grpc-go defaults)",
}

// The wif-16 server's credentials: manyCredentials of them, named c00,
// c01, …, and the one its requests select through context_extensions.
const manyCredentials = 16

var (
	manyCredentialNames = credentialNames(manyCredentials)
	selectedCredential  = manyCredentialNames[manyCredentials-1]
)

// credentialNames are c00, c01, … (n of them).
func credentialNames(n int) []string {
	names := make([]string, n)
	for i := range names {
		names[i] = fmt.Sprintf("c%02d", i)
	}
	return names
}

// launch is what every server start needs to know.
type launch struct {
	self, extauthz string                       // this program and the extauthz binary
	dir            string                       // for the servers' logs
	emulatorEnv    map[string]map[string]string // github-oidc settings of each WIF server (its own emulator)
	pki            *benchPKI                    // for the mTLS server
	pinCPUs        []int                        // nil: no pinning
	goEnv          []string                     // GOMAXPROCS, GOGC, GOMEMLIMIT as given to every server
}

// server is one running server process.
type server struct {
	kind     string
	pid      int
	grpcAddr string
	httpAddr string // extauthz's /metrics; "" for the baseline
	logPath  string
	tls      *tls.Config // the client side of the server's mTLS; nil for cleartext
	cmd      *exec.Cmd
	exited   chan struct{}
	conn     *grpc.ClientConn // for health and the preflight
}

// startServer starts one server and waits until grpc.health.v1 says
// SERVING.
func startServer(ctx context.Context, kind string, l launch) (*server, error) {
	grpcAddr, err := freeAddr()
	if err != nil {
		return nil, err
	}
	s := &server{kind: kind, grpcAddr: grpcAddr, logPath: filepath.Join(l.dir, kind+".log"), exited: make(chan struct{})}
	var argv, env []string
	switch kind {
	case serverBaseline:
		argv = []string{l.self, "baseline-server", "-addr", grpcAddr}
	default:
		if s.httpAddr, err = freeAddr(); err != nil {
			return nil, err
		}
		argv = []string{l.extauthz, "serve"}
		env = []string{"EXTAUTHZ_GRPC_ADDR=" + grpcAddr, "EXTAUTHZ_HTTP_ADDR=" + s.httpAddr, "EXTAUTHZ_ADMIN_ADDR=off", "EXTAUTHZ_LOG_LEVEL=info"}
		if isWIF(kind) {
			for k, v := range l.emulatorEnv[kind] {
				env = append(env, k+"="+v)
			}
		} else {
			env = append(env, "ANTHROPIC_API_KEY="+staticKey)
		}
		switch kind {
		case serverWIFTLS:
			env = append(env, l.pki.serverEnv()...)
			s.tls = l.pki.client
		case serverWIFMany:
			// Every credential reads the emulator's unprefixed variables
			// (design.md, "Several credentials"): one service account, an
			// exchange of its own.
			env = append(env, "EXTAUTHZ_CREDENTIALS="+strings.Join(manyCredentialNames, ","))
		}
	}
	if l.pinCPUs != nil {
		argv = append([]string{l.self, "pin", "-cpus", cpuListString(l.pinCPUs), "--"}, argv...)
	}
	logFile, err := os.Create(s.logPath)
	if err != nil {
		return nil, err
	}
	defer logFile.Close() // the child has its own descriptor
	s.cmd = exec.Command(argv[0], argv[1:]...)
	s.cmd.Env = append(append(serverBaseEnv(os.Environ()), l.goEnv...), env...)
	s.cmd.Stdout, s.cmd.Stderr = logFile, logFile
	if err := s.cmd.Start(); err != nil {
		return nil, fmt.Errorf("starting %s: %w", kind, err)
	}
	s.pid = s.cmd.Process.Pid
	go func() { s.cmd.Wait(); close(s.exited) }()
	if err := s.waitServing(ctx); err != nil {
		s.stop()
		return nil, fmt.Errorf("%s did not become ready: %w\n%s", kind, err, s.logTail(20))
	}
	return s, nil
}

// serverBaseEnv is this environment without anything that would configure
// extauthz or the Go runtime behind the benchmark's back.
func serverBaseEnv(environ []string) []string {
	return slices.DeleteFunc(slices.Clone(environ), func(kv string) bool {
		k, _, _ := strings.Cut(kv, "=")
		for _, p := range []string{"AWF_", "ANTHROPIC_", "ACTIONS_ID_TOKEN_", "EXTAUTHZ_", "OTEL_"} {
			if strings.HasPrefix(k, p) {
				return true
			}
		}
		return k == "GOGC" || k == "GOMEMLIMIT" || k == "GOMAXPROCS"
	})
}

// freeAddr is a loopback address with a port that was free a moment ago.
// extauthz takes its addresses from the environment, so the port has to be
// chosen before it starts.
func freeAddr() (string, error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return "", err
	}
	defer ln.Close()
	return ln.Addr().String(), nil
}

// waitServing waits until grpc.health.v1 says SERVING, the process exits,
// or readyTimeout passes.
func (s *server) waitServing(ctx context.Context) error {
	creds := insecure.NewCredentials()
	if s.tls != nil {
		creds = credentials.NewTLS(s.tls)
	}
	var err error
	if s.conn, err = grpc.NewClient("passthrough:///"+s.grpcAddr, grpc.WithTransportCredentials(creds)); err != nil {
		return err
	}
	ctx, cancel := context.WithTimeout(ctx, readyTimeout)
	defer cancel()
	go func() {
		select {
		case <-s.exited:
			cancel()
		case <-ctx.Done():
		}
	}()
	err = healthwatch.Wait(ctx, s.conn, "", healthpb.HealthCheckResponse_SERVING)
	if !s.alive() {
		return fmt.Errorf("process exited (%v)", s.cmd.ProcessState)
	}
	return err
}

// stop sends SIGTERM and, if the process outlives stopTimeout, kills it.
func (s *server) stop() {
	if s.conn != nil {
		s.conn.Close()
	}
	_ = s.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-s.exited:
	case <-time.After(stopTimeout):
		_ = s.cmd.Process.Kill()
		<-s.exited
	}
}

// alive reports whether the process is still running.
func (s *server) alive() bool {
	select {
	case <-s.exited:
		return false
	default:
		return true
	}
}

// exchanges reads extauthz's exchange counter from /metrics: successes and
// all attempts, over all its credentials. Only the WIF servers exchange
// tokens; the others report 0 without a scrape.
func (s *server) exchanges(ctx context.Context) (success, attempts int, err error) {
	if !isWIF(s.kind) {
		return 0, 0, nil
	}
	ctx, cancel := context.WithTimeout(ctx, 5*time.Second)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, "http://"+s.httpAddr+"/metrics", nil)
	if err != nil {
		return 0, 0, err
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return 0, 0, err
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(io.LimitReader(resp.Body, 4<<20))
	if err != nil {
		return 0, 0, err
	}
	if resp.StatusCode != http.StatusOK {
		return 0, 0, fmt.Errorf("GET /metrics: %s", resp.Status)
	}
	return exchangeCounts(string(body))
}

// logTail is the last n lines of the server's log, for error messages.
func (s *server) logTail(n int) string {
	f, err := os.Open(s.logPath)
	if err != nil {
		return ""
	}
	defer f.Close()
	var lines []string
	sc := bufio.NewScanner(f)
	sc.Buffer(make([]byte, 64<<10), 1<<20)
	for sc.Scan() {
		lines = append(lines, sc.Text())
		if len(lines) > n {
			lines = lines[1:]
		}
	}
	return "  " + strings.Join(lines, "\n  ")
}

// cpuListString renders CPUs as taskset would accept them.
func cpuListString(cpus []int) string {
	parts := make([]string, len(cpus))
	for i, c := range cpus {
		parts[i] = strconv.Itoa(c)
	}
	return strings.Join(parts, ",")
}
