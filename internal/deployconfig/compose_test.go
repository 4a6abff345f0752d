package deployconfig

import (
	"context"
	"errors"
	"net"
	"net/netip"
	"net/url"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"testing"

	"github.com/compose-spec/compose-go/v2/types"

	"extauthz/internal/envoyconfig"
)

const (
	repoRoot    = "../.."
	composeFile = repoRoot + "/docker-compose.yaml"
)

// devIdentity are the variables the emulator and extauthz must agree on: the shared identity and
// each credential's service account.
var devIdentity = []string{
	"ACTIONS_ID_TOKEN_REQUEST_TOKEN",
	"AWF_AUTH_ANTHROPIC_FEDERATION_RULE_ID",
	"AWF_AUTH_ANTHROPIC_ORGANIZATION_ID",
	"AWF_AUTH_OIDC_AUDIENCE",
	"EXTAUTHZ_CREDENTIALS",
	"EXTAUTHZ_TEAM_A_AWF_AUTH_ANTHROPIC_SERVICE_ACCOUNT_ID",
	"EXTAUTHZ_TEAM_B_AWF_AUTH_ANTHROPIC_SERVICE_ACCOUNT_ID",
}

func loadProject(t *testing.T) *types.Project {
	t.Helper()
	p, err := LoadCompose(context.Background(), composeFile)
	if err != nil {
		t.Fatalf("LoadCompose: %v", err)
	}
	return p
}

func service(t *testing.T, p *types.Project, name string) types.ServiceConfig {
	t.Helper()
	s, err := p.GetService(name)
	if err != nil {
		t.Fatalf("service %q: %v", name, err)
	}
	return s
}

func env(t *testing.T, s types.ServiceConfig, name string) string {
	t.Helper()
	v, ok := s.Environment[name]
	if !ok || v == nil {
		t.Fatalf("service %s does not set %s", s.Name, name)
	}
	return *v
}

// port returns the port of a host:port address.
func port(t *testing.T, addr string) uint32 {
	t.Helper()
	_, p, err := net.SplitHostPort(addr)
	if err != nil {
		t.Fatalf("address %q: %v", addr, err)
	}
	n, err := strconv.ParseUint(p, 10, 16)
	if err != nil {
		t.Fatalf("address %q: %v", addr, err)
	}
	return uint32(n)
}

func TestComposeServices(t *testing.T) {
	p := loadProject(t)
	names := p.ServiceNames()
	slices.Sort(names)
	if want := []string{"echo", "emulator", "envoy", "extauthz"}; !slices.Equal(names, want) {
		t.Fatalf("services = %v, want %v", names, want)
	}
}

// Images are pinned: Envoy to an exact release, the same as the go-control-plane API version the
// validator decodes envoy/local.yaml with; the project's own image is built here.
func TestComposeImagesArePinned(t *testing.T) {
	p := loadProject(t)
	envoy := service(t, p, "envoy")
	want := "envoyproxy/envoy:" + envoyAPIVersion(t)
	if envoy.Image != want {
		t.Errorf("envoy image = %q, want %q (the Envoy API version the configs are validated against)", envoy.Image, want)
	}
	for _, s := range p.Services {
		if s.Image == "" || strings.HasSuffix(s.Image, ":latest") || !strings.Contains(s.Image, ":") {
			t.Errorf("service %s image %q is not pinned to a tag", s.Name, s.Image)
		}
	}
	extauthz := service(t, p, "extauthz")
	if extauthz.Build == nil || filepath.Base(extauthz.Build.Dockerfile) != "Dockerfile" {
		t.Fatalf("extauthz is not built from the project's Dockerfile: %+v", extauthz.Build)
	}
	if ctx, _ := filepath.Abs(repoRoot); extauthz.Build.Context != ctx {
		t.Errorf("extauthz build context = %q, want the repository root %q", extauthz.Build.Context, ctx)
	}
	for _, name := range []string{"emulator", "echo"} {
		s := service(t, p, name)
		if s.Image != extauthz.Image || s.PullPolicy != types.PullPolicyNever {
			t.Errorf("%s: image %q pull_policy %q; want extauthz's image %q, never pulled", name, s.Image, s.PullPolicy, extauthz.Image)
		}
	}
}

// envoyAPIVersion is the go-control-plane envoy module version in go.mod, which follows Envoy's
// release numbers (v1.40.0 describes Envoy 1.40.0).
func envoyAPIVersion(t *testing.T) string {
	t.Helper()
	data, err := os.ReadFile(filepath.Join(repoRoot, "go.mod"))
	if err != nil {
		t.Fatal(err)
	}
	m := regexp.MustCompile(`(?m)^\s*github\.com/envoyproxy/go-control-plane/envoy (v\d+\.\d+\.\d+)\s*$`).FindSubmatch(data)
	if m == nil {
		t.Fatal("go.mod does not require a release of github.com/envoyproxy/go-control-plane/envoy")
	}
	return string(m[1])
}

// extauthz runs the real serve mode against the emulator on loopback, and the emulator shares
// its network namespace, so plain http stays within the https-unless-loopback rule.
func TestComposeRealModeWiring(t *testing.T) {
	p := loadProject(t)
	extauthz := service(t, p, "extauthz")
	if got := []string(extauthz.Command); !slices.Equal(got, []string{"serve"}) {
		t.Errorf("extauthz command = %v, want [serve]", got)
	}
	if got := env(t, extauthz, "AWF_AUTH_TYPE"); got != "github-oidc" {
		t.Errorf("AWF_AUTH_TYPE = %q, want github-oidc", got)
	}
	emulator := service(t, p, "emulator")
	if emulator.NetworkMode != "service:extauthz" {
		t.Errorf("emulator network_mode = %q, want service:extauthz", emulator.NetworkMode)
	}
	if got := []string(emulator.Command); !slices.Equal(got, []string{"emulator"}) {
		t.Errorf("emulator command = %v, want [emulator]", got)
	}
	emulatorPort := port(t, env(t, emulator, "EXTAUTHZ_EMULATOR_ADDR"))
	for name, path := range map[string]string{
		"AWF_AUTH_ANTHROPIC_TOKEN_URL": "/v1/oauth/token",
		"ACTIONS_ID_TOKEN_REQUEST_URL": "/_apis/oidc/token",
	} {
		u, err := url.Parse(env(t, extauthz, name))
		if err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		ip, err := netip.ParseAddr(u.Hostname())
		if err != nil || !ip.IsLoopback() {
			t.Errorf("%s host %q is not a loopback address", name, u.Hostname())
		}
		if u.Path != path || u.Port() != strconv.Itoa(int(emulatorPort)) {
			t.Errorf("%s = %s, want path %s on the emulator's port %d", name, u, path, emulatorPort)
		}
	}
	for _, name := range devIdentity {
		if a, b := env(t, extauthz, name), env(t, emulator, name); a != b {
			t.Errorf("%s differs: extauthz %q, emulator %q", name, a, b)
		}
	}
	echo := service(t, p, "echo")
	if got := []string(echo.Command); !slices.Equal(got, []string{"echo"}) {
		t.Errorf("echo command = %v, want [echo]", got)
	}
}

// extauthz is health-checked with its own binary (the image has no curl); the emulator and echo
// run the same image but are not the gRPC service, so its health check is off for them.
func TestComposeHealthChecksAndDependencies(t *testing.T) {
	p := loadProject(t)
	hc := service(t, p, "extauthz").HealthCheck
	if hc == nil || hc.Disable || !slices.Equal([]string(hc.Test), []string{"CMD", "/extauthz", "health"}) {
		t.Errorf("extauthz healthcheck = %+v, want CMD /extauthz health", hc)
	}
	for _, name := range []string{"emulator", "echo"} {
		if hc := service(t, p, name).HealthCheck; hc == nil || !hc.Disable {
			t.Errorf("%s: the image's extauthz health check is not disabled", name)
		}
	}
	deps := service(t, p, "envoy").DependsOn
	if d, ok := deps["extauthz"]; !ok || d.Condition != types.ServiceConditionHealthy {
		t.Errorf("envoy does not wait for extauthz to be healthy: %+v", deps)
	}
	if _, ok := deps["echo"]; !ok {
		t.Errorf("envoy does not depend on echo: %+v", deps)
	}
}

// Only Envoy's listener is published (plus extauthz's metrics port), and only on the host's
// loopback.
func TestComposePublishedPorts(t *testing.T) {
	p := loadProject(t)
	allowed := map[string]uint32{"envoy": 10000, "extauthz": 9192}
	for _, s := range p.Services {
		for _, pc := range s.Ports {
			if pc.HostIP != "127.0.0.1" {
				t.Errorf("%s publishes %d on %q, want 127.0.0.1", s.Name, pc.Target, pc.HostIP)
			}
			if want, ok := allowed[s.Name]; !ok || pc.Target != want || pc.Published != strconv.Itoa(int(want)) {
				t.Errorf("%s publishes %s:%d, not expected", s.Name, pc.Published, pc.Target)
			}
		}
	}
	if ports := service(t, p, "envoy").Ports; len(ports) != 1 {
		t.Errorf("envoy publishes %d ports, want 1", len(ports))
	}
}

// The config Envoy runs is envoy/local.yaml, which passes the validator, and its listener and
// clusters point at the compose services' addresses.
func TestComposeEnvoyConfigIsValidated(t *testing.T) {
	p := loadProject(t)
	envoy := service(t, p, "envoy")
	command := []string(envoy.Command)
	i := slices.Index(command, "-c")
	if i < 0 || i+1 >= len(command) {
		t.Fatalf("envoy command %v has no -c", command)
	}
	var source string
	for _, v := range envoy.Volumes {
		if v.Target == command[i+1] {
			source = v.Source
			if !v.ReadOnly {
				t.Errorf("%s is mounted read-write", v.Target)
			}
		}
	}
	want, _ := filepath.Abs(filepath.Join(repoRoot, "envoy", "local.yaml"))
	if source != want {
		t.Fatalf("envoy runs %s mounted from %q, want %q", command[i+1], source, want)
	}
	if err := envoyconfig.ValidateFile(source); err != nil {
		t.Fatalf("the mounted config is invalid:\n%v", err)
	}

	cfg, err := envoyconfig.Load(source)
	if err != nil {
		t.Fatal(err)
	}
	listener := cfg.Bootstrap.GetStaticResources().GetListeners()[0].GetAddress().GetSocketAddress()
	if listener.GetPortValue() != envoy.Ports[0].Target {
		t.Errorf("published target %d is not the listener port %d", envoy.Ports[0].Target, listener.GetPortValue())
	}
	addrVar := map[string]string{"extauthz": "EXTAUTHZ_GRPC_ADDR", "echo": "EXTAUTHZ_ECHO_ADDR"}
	for _, cl := range cfg.Bootstrap.GetStaticResources().GetClusters() {
		addr := cl.GetLoadAssignment().GetEndpoints()[0].GetLbEndpoints()[0].GetEndpoint().GetAddress()
		if addr.GetPipe() != nil {
			continue // a unix socket in a shared volume: CheckCompose follows it
		}
		sock := addr.GetSocketAddress()
		s := service(t, p, sock.GetAddress())
		if got := port(t, env(t, s, addrVar[s.Name])); got != sock.GetPortValue() {
			t.Errorf("cluster %s calls %s:%d, but the service listens on %d", cl.GetName(), sock.GetAddress(), sock.GetPortValue(), got)
		}
	}
}

// The stack runs two credentials on two service accounts, and Envoy's routes select exactly those.
func TestComposeTwoCredentials(t *testing.T) {
	extauthz := service(t, loadProject(t), "extauthz")
	if got := env(t, extauthz, "EXTAUTHZ_CREDENTIALS"); got != "team-a,team-b" {
		t.Fatalf("EXTAUTHZ_CREDENTIALS = %q, want team-a,team-b", got)
	}
	a, b := env(t, extauthz, "EXTAUTHZ_TEAM_A_AWF_AUTH_ANTHROPIC_SERVICE_ACCOUNT_ID"), env(t, extauthz, "EXTAUTHZ_TEAM_B_AWF_AUTH_ANTHROPIC_SERVICE_ACCOUNT_ID")
	if a == b || !strings.HasPrefix(a, "svac_") || !strings.HasPrefix(b, "svac_") {
		t.Errorf("service accounts %q and %q: want two different svac_ ids", a, b)
	}
	if _, ok := extauthz.Environment["AWF_AUTH_ANTHROPIC_SERVICE_ACCOUNT_ID"]; ok {
		t.Error("an unprefixed service account would be every credential's fallback: give each its own")
	}
}

// The shipped stack keeps extauthz to Envoy: Check on a unix socket in a volume only extauthz
// and envoy mount, with Envoy's uid the only allowed caller.
func TestComposeIsolated(t *testing.T) {
	p := loadProject(t)
	if err := CheckCompose(p); err != nil {
		t.Fatalf("CheckCompose:\n%v", err)
	}
	extauthz, envoy := service(t, p, "extauthz"), service(t, p, "envoy")
	uid, _, _ := strings.Cut(envoy.User, ":")
	if got := env(t, extauthz, "EXTAUTHZ_ALLOWED_CALLERS"); got != "uid:"+uid {
		t.Errorf("EXTAUTHZ_ALLOWED_CALLERS = %q, want uid:%s (the envoy service's user)", got, uid)
	}
	if got := env(t, extauthz, "EXTAUTHZ_GRPC_ADDR"); got != "unix:/run/extauthz/extauthz.sock" {
		t.Errorf("EXTAUTHZ_GRPC_ADDR = %q, want the isolated layout's socket", got)
	}
	// The socket Envoy's config dials is the one extauthz listens on, in the volume both mount.
	cfg, err := envoyconfig.Load(mountedEnvoyConfig(envoy))
	if err != nil {
		t.Fatal(err)
	}
	var pipe string
	for _, cl := range cfg.Bootstrap.GetStaticResources().GetClusters() {
		if cl.GetName() == "extauthz" {
			pipe = cl.GetLoadAssignment().GetEndpoints()[0].GetLbEndpoints()[0].GetEndpoint().GetAddress().GetPipe().GetPath()
		}
	}
	if "unix:"+pipe != env(t, extauthz, "EXTAUTHZ_GRPC_ADDR") {
		t.Errorf("Envoy dials %q, extauthz listens on %q", pipe, env(t, extauthz, "EXTAUTHZ_GRPC_ADDR"))
	}
}

// Each variant of the compose file in which something besides Envoy could call Check, or the
// parts disagree, is caught, and the finding names the field to fix.
func TestCheckComposeRejects(t *testing.T) {
	for _, tt := range []struct {
		name, old, new string
		rule           error
		field, detail  string
	}{
		{"echo mounts the socket directory", "      EXTAUTHZ_ECHO_ADDR: 0.0.0.0:8081\n",
			"      EXTAUTHZ_ECHO_ADDR: 0.0.0.0:8081\n    volumes:\n      - extauthz-socket:/mnt\n", ErrNotIsolated, "services.echo.volumes", "extauthz-socket"},
		{"emulator takes extauthz's volumes", "    network_mode: \"service:extauthz\"\n",
			"    network_mode: \"service:extauthz\"\n    volumes_from: [extauthz]\n", ErrNotIsolated, "services.emulator.volumes_from", "socket directory"},
		{"emulator in extauthz's PID namespace", "    network_mode: \"service:extauthz\"\n",
			"    network_mode: \"service:extauthz\"\n    pid: \"service:extauthz\"\n", ErrNotIsolated, "services.emulator.pid", "/proc"},
		{"no caller check", "      EXTAUTHZ_ALLOWED_CALLERS: uid:101\n", "", ErrNotIsolated, "EXTAUTHZ_ALLOWED_CALLERS", "unset"},
		{"a group admitted", "EXTAUTHZ_ALLOWED_CALLERS: uid:101", "EXTAUTHZ_ALLOWED_CALLERS: uid:101,gid:65532", ErrNotIsolated, "EXTAUTHZ_ALLOWED_CALLERS", "gid:65532"},
		{"Envoy by name", `user: "101:65532"`, `user: "envoy"`, ErrNotIsolated, "services.envoy.user", "numeric"},
		{"Envoy's uid not admitted", "EXTAUTHZ_ALLOWED_CALLERS: uid:101", "EXTAUTHZ_ALLOWED_CALLERS: uid:102", ErrMiswired, "EXTAUTHZ_ALLOWED_CALLERS", "uid:101"},
		{"gRPC on the default network", "EXTAUTHZ_GRPC_ADDR: unix:/run/extauthz/extauthz.sock", "EXTAUTHZ_GRPC_ADDR: 0.0.0.0:9191",
			ErrNotIsolated, "services.echo.networks", `"default"`},
		{"gRPC on extauthz's loopback", "EXTAUTHZ_GRPC_ADDR: unix:/run/extauthz/extauthz.sock", "EXTAUTHZ_GRPC_ADDR: 127.0.0.1:9191",
			ErrNotIsolated, "services.emulator.network_mode", "127.0.0.1:9191"},
		{"gRPC port published", "EXTAUTHZ_GRPC_ADDR: unix:/run/extauthz/extauthz.sock", "EXTAUTHZ_GRPC_ADDR: 0.0.0.0:9192",
			ErrNotIsolated, "services.extauthz.ports", "publishes the gRPC port 9192"},
		{"socket outside the volume", "EXTAUTHZ_GRPC_ADDR: unix:/run/extauthz/extauthz.sock", "EXTAUTHZ_GRPC_ADDR: unix:/tmp/extauthz.sock",
			ErrMiswired, "services.extauthz.volumes", "/tmp"},
		{"a credential no route selects", "EXTAUTHZ_CREDENTIALS: team-a,team-b", "EXTAUTHZ_CREDENTIALS: team-a,team-b,team-c",
			ErrMiswired, "EXTAUTHZ_CREDENTIALS", "team-c"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			wantFinding(t, CheckCompose(mutatedProject(t, tt.old, tt.new)), tt.rule, tt.field, tt.detail)
		})
	}
}

// Over TCP, client certificates are the control: with EXTAUTHZ_TLS_CLIENT_CA_FILE the shared
// network is no finding.
func TestCheckComposeAcceptsMutualTLS(t *testing.T) {
	p := mutatedProject(t, "EXTAUTHZ_GRPC_ADDR: unix:/run/extauthz/extauthz.sock",
		"EXTAUTHZ_GRPC_ADDR: 0.0.0.0:9191\n      EXTAUTHZ_TLS_CLIENT_CA_FILE: /etc/extauthz/ca.pem")
	if err := CheckCompose(p); errors.Is(err, ErrNotIsolated) {
		t.Fatalf("CheckCompose:\n%v", err)
	}
}

// mutatedProject loads docker-compose.yaml with old replaced by new, from a copy of the
// repository's envoy directory so that the mounted config resolves as in the real file.
func mutatedProject(t *testing.T, old, new string) *types.Project {
	t.Helper()
	data, err := os.ReadFile(composeFile)
	if err != nil {
		t.Fatal(err)
	}
	if n := strings.Count(string(data), old); n != 1 {
		t.Fatalf("%q occurs %d times in docker-compose.yaml, want once", old, n)
	}
	dir := t.TempDir()
	if err := os.MkdirAll(filepath.Join(dir, "envoy"), 0o755); err != nil {
		t.Fatal(err)
	}
	local, err := os.ReadFile(filepath.Join(repoRoot, "envoy", "local.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	for name, content := range map[string][]byte{
		"envoy/local.yaml":    local,
		"docker-compose.yaml": []byte(strings.Replace(string(data), old, new, 1)),
	} {
		if err := os.WriteFile(filepath.Join(dir, name), content, 0o600); err != nil {
			t.Fatal(err)
		}
	}
	p, err := LoadCompose(context.Background(), filepath.Join(dir, "docker-compose.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	return p
}

// The loader validates against the compose schema: a misspelt key is an error.
func TestLoadComposeRejectsUnknownKeys(t *testing.T) {
	data, err := os.ReadFile(composeFile)
	if err != nil {
		t.Fatal(err)
	}
	broken := strings.Replace(string(data), "    healthcheck:\n      # `extauthz health`", "    healthchek:\n      # `extauthz health`", 1)
	if broken == string(data) {
		t.Fatal("mutation did not apply")
	}
	path := filepath.Join(t.TempDir(), "docker-compose.yaml")
	if err := os.WriteFile(path, []byte(broken), 0o600); err != nil {
		t.Fatal(err)
	}
	_, err = LoadCompose(context.Background(), path)
	if err == nil || !strings.Contains(err.Error(), "healthchek") {
		t.Fatalf("LoadCompose(misspelt) = %v, want an error naming healthchek", err)
	}
	if _, err := LoadCompose(context.Background(), filepath.Join(t.TempDir(), "absent.yaml")); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("LoadCompose(absent) = %v, want os.ErrNotExist", err)
	}
}
