package deployconfig

import (
	"net"
	"net/netip"
	"path"
	"slices"
	"strconv"
	"strings"

	"github.com/compose-spec/compose-go/v2/types"

	"extauthz/internal/envoyconfig"
)

// CheckCompose returns nil, or every Finding joined, when in the compose project p a service
// other than Envoy could call an extauthz service's Check, or the stack's credentials and the
// Envoy config it mounts disagree.
//
// An extauthz service is one whose command is serve; an Envoy service runs an envoyproxy/envoy
// image. With EXTAUTHZ_GRPC_ADDR on a unix socket, the socket's directory must be a volume only
// extauthz and Envoy mount, no other service may share extauthz's PID namespace (it could reach
// the socket through /proc), and EXTAUTHZ_ALLOWED_CALLERS must admit exactly the Envoy services'
// numeric uids. With TCP and no client certificates (EXTAUTHZ_TLS_CLIENT_CA_FILE), no other
// service may share a network or the network namespace with extauthz, and the port must not be
// published.
func CheckCompose(p *types.Project) error {
	var fs findings
	var envoys []types.ServiceConfig
	for _, name := range p.ServiceNames() {
		if s := p.Services[name]; isEnvoyService(s) {
			envoys = append(envoys, s)
		}
	}
	for _, name := range p.ServiceNames() {
		s := p.Services[name]
		if !isExtauthzService(s) {
			continue
		}
		addr := serviceEnv(s, "EXTAUTHZ_GRPC_ADDR")
		field := "services." + s.Name + ".environment.EXTAUTHZ_GRPC_ADDR"
		switch socket, isUnix := strings.CutPrefix(addr, "unix:"); {
		case addr == "":
			fs.add(field, ErrMiswired, "unset: the check cannot see the image's default; set it")
		case isUnix:
			checkComposeSocket(&fs, p, s, socket, envoys)
		default:
			checkComposeTCP(&fs, p, s, addr)
		}
		checkComposeCredentials(&fs, s, envoys)
	}
	return fs.err()
}

func isEnvoyService(s types.ServiceConfig) bool {
	return strings.HasPrefix(s.Image, "envoyproxy/envoy:") || strings.HasPrefix(s.Image, "envoyproxy/envoy@")
}

func isExtauthzService(s types.ServiceConfig) bool {
	return len(s.Command) > 0 && s.Command[0] == "serve"
}

// serviceEnv is the trimmed value of a service's environment variable, "" when unset.
func serviceEnv(s types.ServiceConfig, name string) string {
	if v := s.Environment[name]; v != nil {
		return strings.TrimSpace(*v)
	}
	return ""
}

// checkComposeSocket follows extauthz's unix socket: its directory is a volume mounted by
// extauthz and Envoy only, nobody else joins extauthz's PID namespace, and the caller allow-list
// names exactly Envoy's uids.
func checkComposeSocket(fs *findings, p *types.Project, authz types.ServiceConfig, socket string, envoys []types.ServiceConfig) {
	dir := path.Dir(socket)
	var shared *types.ServiceVolumeConfig
	for i, v := range authz.Volumes {
		if v.Target == dir {
			shared = &authz.Volumes[i]
		}
	}
	if shared == nil {
		fs.add("services."+authz.Name+".volumes", ErrMiswired, "no volume is mounted at %s, the directory of %s: Envoy cannot reach the socket", dir, socket)
		return
	}
	for _, name := range p.ServiceNames() {
		s := p.Services[name]
		if s.Name == authz.Name || isEnvoyService(s) {
			continue
		}
		for _, v := range s.Volumes {
			if v.Type == shared.Type && v.Source == shared.Source {
				fs.add("services."+s.Name+".volumes", ErrNotIsolated, "mounts %s %q, extauthz's socket directory", v.Type, v.Source)
			}
		}
		for _, from := range s.VolumesFrom {
			if service, _, _ := strings.Cut(strings.TrimPrefix(from, "service:"), ":"); service == authz.Name {
				fs.add("services."+s.Name+".volumes_from", ErrNotIsolated, "takes every volume of %s, its socket directory included", authz.Name)
			}
		}
		if joins(s.Pid, authz.Name) {
			fs.add("services."+s.Name+".pid", ErrNotIsolated, "shares %s's PID namespace and can reach its socket through /proc/<pid>/root", authz.Name)
		}
	}

	allowed := serviceEnv(authz, "EXTAUTHZ_ALLOWED_CALLERS")
	field := "services." + authz.Name + ".environment.EXTAUTHZ_ALLOWED_CALLERS"
	var want []string
	for _, e := range envoys {
		uid, _, _ := strings.Cut(e.User, ":")
		mountsSocket := slices.ContainsFunc(e.Volumes, func(v types.ServiceVolumeConfig) bool {
			return v.Type == shared.Type && v.Source == shared.Source
		})
		if n, err := strconv.Atoi(uid); err != nil || n <= 0 {
			fs.add("services."+e.Name+".user", ErrNotIsolated, "%q: Envoy needs a numeric non-root uid for extauthz's caller check to name", e.User)
		} else if mountsSocket {
			want = append(want, "uid:"+uid)
		}
	}
	if allowed == "" {
		fs.add(field, ErrNotIsolated, "unset: any process that can open the socket may call Check; want %s", strings.Join(want, ","))
		return
	}
	for entry := range strings.SplitSeq(allowed, ",") {
		if entry = strings.TrimSpace(entry); !slices.Contains(want, entry) {
			fs.add(field, ErrNotIsolated, "%q admits a caller that is not an Envoy service's uid (want %s)", entry, strings.Join(want, ","))
		}
	}
	for _, w := range want {
		if !slices.Contains(strings.Split(strings.ReplaceAll(allowed, " ", ""), ","), w) {
			fs.add(field, ErrMiswired, "%q is missing: extauthz would refuse Envoy", w)
		}
	}
}

// checkComposeTCP checks a TCP gRPC listener: with client certificates anyone may connect and only
// certified callers pass; without, nothing but Envoy may share a network with extauthz.
func checkComposeTCP(fs *findings, p *types.Project, authz types.ServiceConfig, addr string) {
	if serviceEnv(authz, "EXTAUTHZ_TLS_CLIENT_CA_FILE") != "" {
		return
	}
	host, port, err := net.SplitHostPort(addr)
	if err != nil {
		fs.add("services."+authz.Name+".environment.EXTAUTHZ_GRPC_ADDR", ErrMiswired, "%q is not host:port", addr)
		return
	}
	for _, pc := range authz.Ports {
		if strconv.Itoa(int(pc.Target)) == port {
			fs.add("services."+authz.Name+".ports", ErrNotIsolated, "publishes the gRPC port %s", port)
		}
	}
	ip, _ := netip.ParseAddr(host)
	loopback := host == "localhost" || ip.IsLoopback()
	networks := serviceNetworks(authz)
	for _, name := range p.ServiceNames() {
		s := p.Services[name]
		if s.Name == authz.Name || isEnvoyService(s) {
			continue
		}
		if joins(s.NetworkMode, authz.Name) {
			fs.add("services."+s.Name+".network_mode", ErrNotIsolated, "shares %s's network namespace, where %s listens without client certificates", authz.Name, addr)
			continue
		}
		if loopback {
			continue
		}
		if s.NetworkMode == "host" {
			fs.add("services."+s.Name+".network_mode", ErrNotIsolated, "host networking reaches %s's published and bridge addresses", authz.Name)
		}
		for _, n := range serviceNetworks(s) {
			if slices.Contains(networks, n) {
				fs.add("services."+s.Name+".networks", ErrNotIsolated, "shares network %q with %s, which listens on %s without client certificates", n, authz.Name, addr)
			}
		}
	}
}

// joins reports whether a network_mode or pid value joins the named service's namespace.
func joins(mode, service string) bool {
	return mode == "service:"+service
}

// serviceNetworks lists the networks a service is attached to; a service with neither networks
// nor a network_mode is on the project's default network.
func serviceNetworks(s types.ServiceConfig) []string {
	if s.NetworkMode != "" {
		return nil
	}
	if len(s.Networks) == 0 {
		return []string{"default"}
	}
	var out []string
	for n := range s.Networks {
		out = append(out, n)
	}
	slices.Sort(out)
	return out
}

// checkComposeCredentials compares extauthz's EXTAUTHZ_CREDENTIALS with the credentials the routes
// of each Envoy's mounted config select: a selected name extauthz does not hold is a 403 on that
// route, a held one no route selects is unused.
func checkComposeCredentials(fs *findings, authz types.ServiceConfig, envoys []types.ServiceConfig) {
	var held []string
	for name := range strings.SplitSeq(serviceEnv(authz, "EXTAUTHZ_CREDENTIALS"), ",") {
		if name = strings.TrimSpace(name); name != "" {
			held = append(held, name)
		}
	}
	slices.Sort(held)
	for _, e := range envoys {
		file := mountedEnvoyConfig(e)
		if file == "" {
			fs.add("services."+e.Name+".command", ErrMiswired, "no -c file mounted from the project")
			continue
		}
		cfg, err := envoyconfig.Load(file)
		if cfg == nil {
			fs.add("services."+e.Name+".volumes", ErrMiswired, "%v", err)
			continue
		}
		selected := envoyconfig.Credentials(cfg)
		if len(held) <= 1 && len(selected) == 0 {
			continue // one credential, used by every route
		}
		if !slices.Equal(selected, held) {
			fs.add("services."+authz.Name+".environment.EXTAUTHZ_CREDENTIALS", ErrMiswired,
				"lists %v but %s selects %v", held, file, selected)
		}
	}
}

// mountedEnvoyConfig is the host path of the file an Envoy service runs with -c, or "".
func mountedEnvoyConfig(s types.ServiceConfig) string {
	i := slices.Index(s.Command, "-c")
	if i < 0 || i+1 >= len(s.Command) {
		return ""
	}
	for _, v := range s.Volumes {
		if v.Target == s.Command[i+1] && v.Type == types.VolumeTypeBind {
			return v.Source
		}
	}
	return ""
}
