package deployconfig

import (
	"errors"
	"net"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	policyv1 "k8s.io/api/policy/v1"
	"k8s.io/apimachinery/pkg/labels"
)

const meshDir = repoRoot + "/envoy/mesh"

func decodeFile(t *testing.T, name string) []Manifest {
	t.Helper()
	data, err := os.ReadFile(filepath.Join(meshDir, name))
	if err != nil {
		t.Fatal(err)
	}
	ms, err := DecodeManifests(data)
	if err != nil {
		t.Fatalf("%s: %v", name, err)
	}
	return ms
}

// only returns the one object of type T in ms.
func only[T any](t *testing.T, ms []Manifest) T {
	t.Helper()
	var found []T
	for _, m := range ms {
		if o, ok := m.Object.(T); ok {
			found = append(found, o)
		}
	}
	if len(found) != 1 {
		var zero T
		t.Fatalf("%d objects of type %T, want 1", len(found), zero)
	}
	return found[0]
}

// Every manifest file under envoy/mesh decodes strictly.
func TestMeshManifestsDecode(t *testing.T) {
	files, err := filepath.Glob(filepath.Join(meshDir, "*.yaml"))
	if err != nil || len(files) < 4 {
		t.Fatalf("mesh manifests: %v, %v", files, err)
	}
	for _, f := range files {
		data, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		ms, err := DecodeManifests(data)
		if err != nil || len(ms) == 0 {
			t.Errorf("%s: %d objects, %v", filepath.Base(f), len(ms), err)
		}
	}
}

func TestDecodeManifestsIsStrict(t *testing.T) {
	data, err := os.ReadFile(filepath.Join(meshDir, "extauthz.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	src := string(data)
	for name, tt := range map[string]struct{ old, new, want string }{
		"misspelt Deployment field": {"readinessProbe:", "readinesProbe:", "readinesProbe"},
		"wrong type":                {"replicas: 2", "replicas: two", "replicas"},
		"unknown kind":              {"kind: PodDisruptionBudget", "kind: PodDisruptionBudgett", "PodDisruptionBudgett"},
		"duplicate key":             {"  minAvailable: 1", "  minAvailable: 1\n  minAvailable: 2", "minAvailable"},
	} {
		t.Run(name, func(t *testing.T) {
			if strings.Count(src, tt.old) != 1 {
				t.Fatalf("%q does not occur exactly once", tt.old)
			}
			_, err := DecodeManifests([]byte(strings.Replace(src, tt.old, tt.new, 1)))
			if !errors.Is(err, ErrManifest) || !strings.Contains(err.Error(), tt.want) {
				t.Fatalf("DecodeManifests = %v, want ErrManifest naming %s", err, tt.want)
			}
		})
	}
	istio, err := os.ReadFile(filepath.Join(meshDir, "istio-egress.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	_, err = DecodeManifests([]byte(strings.Replace(string(istio), "action: CUSTOM", "actoin: CUSTOM", 1)))
	if !errors.Is(err, ErrManifest) || !strings.Contains(err.Error(), "actoin") {
		t.Fatalf("misspelt AuthorizationPolicy field: %v", err)
	}
}

// extauthz on Kubernetes: oidc-file mode reading a projected token for Anthropic's audience,
// probes on the service's health endpoints, a locked-down non-root container, ports Istio and
// Envoy Gateway recognise as gRPC.
func TestExtauthzDeployment(t *testing.T) {
	ms := decodeFile(t, "extauthz.yaml")
	d := only[*appsv1.Deployment](t, ms)
	pod := d.Spec.Template.Spec
	if len(pod.Containers) != 1 {
		t.Fatalf("%d containers, want 1", len(pod.Containers))
	}
	c := pod.Containers[0]
	if !slices.Equal(c.Args, []string{"serve"}) {
		t.Errorf("args = %v, want [serve]", c.Args)
	}
	env := map[string]string{}
	for _, e := range c.Env {
		env[e.Name] = e.Value
	}
	if env["AWF_AUTH_TYPE"] != "oidc-file" {
		t.Errorf("AWF_AUTH_TYPE = %q, want oidc-file", env["AWF_AUTH_TYPE"])
	}

	// The token file is the projected service-account token for https://api.anthropic.com.
	tokenFile := env["AWF_AUTH_OIDC_TOKEN_FILE"]
	var mount *corev1.VolumeMount
	for i, m := range c.VolumeMounts {
		if filepath.Dir(tokenFile) == m.MountPath {
			mount = &c.VolumeMounts[i]
		}
	}
	if mount == nil || !mount.ReadOnly {
		t.Fatalf("AWF_AUTH_OIDC_TOKEN_FILE %q is not in a read-only mount: %+v", tokenFile, c.VolumeMounts)
	}
	var projected *corev1.ServiceAccountTokenProjection
	for _, v := range pod.Volumes {
		if v.Name == mount.Name && v.Projected != nil {
			for _, s := range v.Projected.Sources {
				if s.ServiceAccountToken != nil && s.ServiceAccountToken.Path == filepath.Base(tokenFile) {
					projected = s.ServiceAccountToken
				}
			}
		}
	}
	if projected == nil {
		t.Fatalf("no projected service-account token at %s", tokenFile)
	}
	// 600 s, the minimum: each exchange spends the JWT's jti, and the kubelet rotates the file
	// only at 80 % of its life, so a long-lived projection outlives the access tokens it buys.
	if projected.Audience != "https://api.anthropic.com" || projected.ExpirationSeconds == nil || *projected.ExpirationSeconds != 600 {
		t.Errorf("projection audience %q expiration %v, want https://api.anthropic.com and 600", projected.Audience, projected.ExpirationSeconds)
	}

	// Probes on the HTTP port extauthz listens on.
	ports := map[string]int32{}
	for _, p := range c.Ports {
		ports[p.Name] = p.ContainerPort
	}
	if ports["grpc"] != int32(port(t, env["EXTAUTHZ_GRPC_ADDR"])) || ports["http-metrics"] != int32(port(t, env["EXTAUTHZ_HTTP_ADDR"])) {
		t.Errorf("container ports %v do not match EXTAUTHZ_GRPC_ADDR %q / EXTAUTHZ_HTTP_ADDR %q", ports, env["EXTAUTHZ_GRPC_ADDR"], env["EXTAUTHZ_HTTP_ADDR"])
	}
	for name, probe := range map[string]*corev1.Probe{"/readyz": c.ReadinessProbe, "/healthz": c.LivenessProbe} {
		if probe == nil || probe.HTTPGet == nil || probe.HTTPGet.Path != name || probe.HTTPGet.Port.String() != "http-metrics" {
			t.Errorf("probe for %s = %+v", name, probe)
		}
	}

	// Locked down.
	sc := c.SecurityContext
	if sc == nil || sc.RunAsNonRoot == nil || !*sc.RunAsNonRoot || sc.ReadOnlyRootFilesystem == nil || !*sc.ReadOnlyRootFilesystem ||
		sc.AllowPrivilegeEscalation == nil || *sc.AllowPrivilegeEscalation || sc.Capabilities == nil || !slices.Equal(sc.Capabilities.Drop, []corev1.Capability{"ALL"}) {
		t.Errorf("container securityContext = %+v", sc)
	}
	if psc := pod.SecurityContext; psc == nil || psc.RunAsUser == nil || *psc.RunAsUser == 0 {
		t.Errorf("pod securityContext = %+v, want a non-zero runAsUser", psc)
	}
	if c.Resources.Requests.Cpu().IsZero() || c.Resources.Requests.Memory().IsZero() || c.Resources.Limits.Memory().IsZero() {
		t.Errorf("resources = %+v, want cpu and memory requests and a memory limit", c.Resources)
	}

	// Identity: the service account exists, and the pod carries no API token.
	sa := only[*corev1.ServiceAccount](t, ms)
	if pod.ServiceAccountName != sa.Name || pod.AutomountServiceAccountToken == nil || *pod.AutomountServiceAccountToken {
		t.Errorf("serviceAccountName %q automount %v; want %q and false", pod.ServiceAccountName, pod.AutomountServiceAccountToken, sa.Name)
	}

	// The WIF ids come from the ConfigMap, with every placeholder visibly marked.
	cm := only[*corev1.ConfigMap](t, ms)
	if len(c.EnvFrom) != 1 || c.EnvFrom[0].ConfigMapRef == nil || c.EnvFrom[0].ConfigMapRef.Name != cm.Name {
		t.Errorf("envFrom = %+v, want the ConfigMap %s", c.EnvFrom, cm.Name)
	}
	for _, name := range []string{"AWF_AUTH_ANTHROPIC_ORGANIZATION_ID",
		"EXTAUTHZ_TEAM_A_AWF_AUTH_ANTHROPIC_FEDERATION_RULE_ID", "EXTAUTHZ_TEAM_A_AWF_AUTH_ANTHROPIC_SERVICE_ACCOUNT_ID",
		"EXTAUTHZ_TEAM_B_AWF_AUTH_ANTHROPIC_FEDERATION_RULE_ID", "EXTAUTHZ_TEAM_B_AWF_AUTH_ANTHROPIC_SERVICE_ACCOUNT_ID"} {
		if !strings.Contains(cm.Data[name], "REPLACE_ME") {
			t.Errorf("ConfigMap %s = %q, want a REPLACE_ME placeholder", name, cm.Data[name])
		}
	}
	if !strings.Contains(c.Image, "REPLACE_ME") {
		t.Errorf("image %q is not a marked placeholder", c.Image)
	}

	// The Service selects the pods and names its gRPC port so meshes speak HTTP/2.
	svc := only[*corev1.Service](t, ms)
	if !labels.SelectorFromSet(svc.Spec.Selector).Matches(labels.Set(d.Spec.Template.Labels)) {
		t.Errorf("Service selector %v does not match the pods %v", svc.Spec.Selector, d.Spec.Template.Labels)
	}
	grpc := servicePort(t, svc, "grpc")
	if grpc.AppProtocol == nil || *grpc.AppProtocol != "grpc" || grpc.TargetPort.String() != "grpc" {
		t.Errorf("Service port grpc = %+v, want appProtocol grpc to the container's grpc port", grpc)
	}
	pdb := only[*policyv1.PodDisruptionBudget](t, ms)
	if pdb.Spec.Selector == nil || !labels.SelectorFromSet(pdb.Spec.Selector.MatchLabels).Matches(labels.Set(d.Spec.Template.Labels)) {
		t.Errorf("PodDisruptionBudget does not select the pods")
	}
}

func servicePort(t *testing.T, svc *corev1.Service, name string) corev1.ServicePort {
	t.Helper()
	for _, p := range svc.Spec.Ports {
		if p.Name == name {
			return p
		}
	}
	t.Fatalf("Service %s has no port %q", svc.Name, name)
	return corev1.ServicePort{}
}

// extauthzAddress is the in-cluster DNS name and gRPC port of the extauthz Service.
func extauthzAddress(t *testing.T) (host string, grpcPort uint32, svc *corev1.Service) {
	t.Helper()
	svc = only[*corev1.Service](t, decodeFile(t, "extauthz.yaml"))
	return svc.Name + "." + svc.Namespace + ".svc.cluster.local", uint32(servicePort(t, svc, "grpc").Port), svc
}

// Istio: the mesh providers (ext_authz and access log) point at the extauthz Service and fail
// closed; the CUSTOM policy uses the first on the egress gateway, a Telemetry the second; the
// sidecars reach the gateway over ISTIO_MUTUAL, and the gateway routes api.anthropic.com and
// originates verified TLS.
func TestIstioWiring(t *testing.T) {
	host, grpcPort, _ := extauthzAddress(t)
	op := only[*IstioOperator](t, decodeFile(t, "istio-mesh-config.yaml"))
	providers := map[string]ExtensionProvider{}
	for _, p := range op.Spec.MeshConfig.ExtensionProviders {
		providers[p.Name] = p
	}
	authz, als := providers["anthropic-wif"].EnvoyExtAuthzGrpc, providers["anthropic-wif-feedback"].EnvoyHTTPAls
	if authz == nil || authz.Service != host || authz.Port != grpcPort || als == nil || als.Service != host || als.Port != grpcPort {
		t.Fatalf("providers = %+v, want envoyExtAuthzGrpc and envoyHttpAls to %s:%d", op.Spec.MeshConfig.ExtensionProviders, host, grpcPort)
	}
	if authz.FailOpen || authz.StatusOnError != "503" {
		t.Errorf("provider failOpen %v statusOnError %q, want false and 503", authz.FailOpen, authz.StatusOnError)
	}
	if d, err := time.ParseDuration(authz.Timeout); err != nil || d <= 0 || d > time.Second {
		t.Errorf("provider timeout %q, want at most 1s", authz.Timeout)
	}

	ms := decodeFile(t, "istio-egress.yaml")
	ap := only[*AuthorizationPolicy](t, ms)
	if ap.Spec.Action != "CUSTOM" || ap.Spec.Provider == nil || ap.Spec.Provider.Name != "anthropic-wif" {
		t.Errorf("AuthorizationPolicy action %q provider %+v, want CUSTOM with anthropic-wif", ap.Spec.Action, ap.Spec.Provider)
	}
	if len(ap.Spec.Rules) == 0 || len(ap.Spec.Rules[0].To) == 0 || !slices.Contains(ap.Spec.Rules[0].To[0].Operation.Hosts, "api.anthropic.com") {
		t.Errorf("AuthorizationPolicy rules = %+v, want a rule for api.anthropic.com", ap.Spec.Rules)
	}
	gw := only[*IstioGateway](t, ms)
	if !labels.SelectorFromSet(ap.Spec.Selector.MatchLabels).Matches(labels.Set(gw.Spec.Selector)) || ap.Metadata.Namespace != "istio-system" {
		t.Errorf("the policy (selector %v, namespace %s) does not apply to the egress gateway %v", ap.Spec.Selector.MatchLabels, ap.Metadata.Namespace, gw.Spec.Selector)
	}
	tm := only[*Telemetry](t, ms)
	if tm.Spec.Selector == nil || !labels.SelectorFromSet(tm.Spec.Selector.MatchLabels).Matches(labels.Set(gw.Spec.Selector)) ||
		len(tm.Spec.AccessLogging) != 1 || len(tm.Spec.AccessLogging[0].Providers) != 1 || tm.Spec.AccessLogging[0].Providers[0].Name != "anthropic-wif-feedback" {
		t.Errorf("Telemetry = %+v, want the egress gateway's access log on anthropic-wif-feedback", tm.Spec)
	}

	// Sidecar → gateway: the gateway's server terminates Istio mTLS on 443, and the sidecars'
	// route to it uses a subset whose port 443 originates Istio mTLS with the gateway's SNI.
	if len(gw.Spec.Servers) != 1 || gw.Spec.Servers[0].TLS == nil || gw.Spec.Servers[0].TLS.Mode != "ISTIO_MUTUAL" ||
		gw.Spec.Servers[0].Port.Number != 443 || gw.Spec.Servers[0].Port.Protocol != "HTTPS" {
		t.Fatalf("Gateway servers = %+v, want one HTTPS server on 443 with tls.mode ISTIO_MUTUAL", gw.Spec.Servers)
	}
	vs := only[*VirtualService](t, ms)
	if !slices.Contains(vs.Spec.Gateways, gw.Metadata.Name) || !slices.Contains(vs.Spec.Gateways, "mesh") || len(vs.Spec.HTTP) != 2 {
		t.Fatalf("VirtualService = %+v", vs.Spec)
	}
	toGateway, fromGateway := vs.Spec.HTTP[0], vs.Spec.HTTP[1]
	dest := toGateway.Route[0].Destination
	if toGateway.Match[0].Gateways[0] != "mesh" || dest.Host != "istio-egressgateway.istio-system.svc.cluster.local" || dest.Port.Number != gw.Spec.Servers[0].Port.Number {
		t.Errorf("sidecar route = %+v, want mesh traffic to the egress gateway's port %d", toGateway, gw.Spec.Servers[0].Port.Number)
	}
	if fromGateway.Match[0].Gateways[0] != gw.Metadata.Name || fromGateway.Match[0].Port != gw.Spec.Servers[0].Port.Number ||
		fromGateway.Route[0].Destination.Host != "api.anthropic.com" || fromGateway.Route[0].Destination.Port.Number != 443 {
		t.Errorf("gateway route = %+v, want the gateway's server port to api.anthropic.com:443", fromGateway)
	}
	var mutual, origination *DestinationRule
	for _, m := range ms {
		if dr, ok := m.Object.(*DestinationRule); ok {
			switch dr.Spec.Host {
			case dest.Host:
				mutual = dr
			case "api.anthropic.com":
				origination = dr
			}
		}
	}
	if mutual == nil {
		t.Fatalf("no DestinationRule for %s", dest.Host)
	}
	sidecarTLS := ""
	for _, sub := range mutual.Spec.Subsets {
		if sub.Name == dest.Subset {
			for _, pl := range sub.TrafficPolicy.PortLevelSettings {
				if pl.Port.Number == dest.Port.Number && pl.TLS.SNI == "api.anthropic.com" {
					sidecarTLS = pl.TLS.Mode
				}
			}
		}
	}
	if sidecarTLS != "ISTIO_MUTUAL" {
		t.Errorf("subset %q of %s: port %d TLS %q, want ISTIO_MUTUAL with SNI api.anthropic.com", dest.Subset, mutual.Metadata.Name, dest.Port.Number, sidecarTLS)
	}

	se := only[*ServiceEntry](t, ms)
	if !slices.Equal(se.Spec.Hosts, []string{"api.anthropic.com"}) || se.Spec.Location != "MESH_EXTERNAL" {
		t.Errorf("ServiceEntry = %+v", se.Spec)
	}
	protocols := map[uint32]string{}
	for _, p := range se.Spec.Ports {
		protocols[p.Number] = p.Protocol
	}
	if protocols[80] != "HTTP" || protocols[443] != "TLS" {
		t.Errorf("ServiceEntry ports = %v, want 80 HTTP and 443 TLS", protocols)
	}
	if origination == nil || !slices.Equal(origination.Spec.ExportTo, []string{"."}) || len(origination.Spec.TrafficPolicy.PortLevelSettings) != 1 {
		t.Fatalf("DestinationRule for api.anthropic.com = %+v", origination)
	}
	if tls := origination.Spec.TrafficPolicy.PortLevelSettings[0].TLS; tls.Mode != "SIMPLE" || tls.SNI != "api.anthropic.com" || tls.CACertificates == "" {
		t.Errorf("TLS origination = %+v, want SIMPLE with SNI api.anthropic.com and a CA bundle", tls)
	}

	// The extauthz side: the egress gateway's service account is the one principal allowed, and
	// the workloads' principals map to the credentials extauthz holds.
	allow := only[*AuthorizationPolicy](t, decodeFile(t, "istio-extauthz.yaml"))
	if got := allow.Spec.Rules[0].From[0].Source.Principals; !slices.Equal(got, []string{"cluster.local/ns/istio-system/sa/istio-egressgateway-service-account"}) {
		t.Errorf("principals allowed to call extauthz = %v", got)
	}
	cm := only[*corev1.ConfigMap](t, decodeFile(t, "extauthz.yaml"))
	for _, pair := range strings.Split(cm.Data["EXTAUTHZ_CREDENTIAL_BY_PRINCIPAL"], ",") {
		principal, name, _ := strings.Cut(pair, "=")
		if !strings.HasPrefix(principal, "spiffe://cluster.local/ns/") || !slices.Contains(strings.Split(cm.Data["EXTAUTHZ_CREDENTIALS"], ","), name) {
			t.Errorf("EXTAUTHZ_CREDENTIAL_BY_PRINCIPAL entry %q: want a workload SPIFFE id and a configured credential", pair)
		}
	}
}

// Envoy Gateway: a SecurityPolicy per route calls the extauthz Service over gRPC, fails closed with
// 503, sends only anthropic-beta and names the route's credential; the Gateway's EnvoyProxy streams
// its access log to extauthz; the ReferenceGrant lets the policies reach across namespaces.
func TestEnvoyGatewayWiring(t *testing.T) {
	_, grpcPort, svc := extauthzAddress(t)
	ms := decodeFile(t, "envoy-gateway.yaml")
	routes := map[string]*HTTPRoute{}
	for _, m := range ms {
		if r, ok := m.Object.(*HTTPRoute); ok {
			routes[r.Metadata.Name] = r
		}
	}
	credentials := map[string]string{} // route → credential
	for _, m := range ms {
		sp, ok := m.Object.(*SecurityPolicy)
		if !ok {
			continue
		}
		ea := sp.Spec.ExtAuth
		if ea.GRPC == nil || len(ea.GRPC.BackendRefs) != 1 {
			t.Fatalf("%s extAuth.grpc = %+v", sp.Metadata.Name, ea.GRPC)
		}
		ref := ea.GRPC.BackendRefs[0]
		if ref.Name != svc.Name || ref.Namespace != svc.Namespace || ref.Port != grpcPort {
			t.Errorf("%s backendRef %+v, want %s/%s:%d", sp.Metadata.Name, ref, svc.Namespace, svc.Name, grpcPort)
		}
		if ea.FailOpen == nil || *ea.FailOpen || ea.StatusOnError == nil || *ea.StatusOnError != 503 || !slices.Equal(ea.HeadersToExtAuth, []string{"anthropic-beta"}) {
			t.Errorf("%s extAuth failOpen %v statusOnError %v headersToExtAuth %v, want false, 503, [anthropic-beta]", sp.Metadata.Name, ea.FailOpen, ea.StatusOnError, ea.HeadersToExtAuth)
		}
		if d, err := time.ParseDuration(ea.Timeout); err != nil || d <= 0 || d > time.Second {
			t.Errorf("%s extAuth timeout %q, want at most 1s", sp.Metadata.Name, ea.Timeout)
		}
		if len(sp.Spec.TargetRefs) != 1 || sp.Spec.TargetRefs[0].Kind != "HTTPRoute" || routes[sp.Spec.TargetRefs[0].Name] == nil {
			t.Fatalf("%s targets %+v, want one of the HTTPRoutes", sp.Metadata.Name, sp.Spec.TargetRefs)
		}
		if len(ea.ContextExtensions) != 1 || ea.ContextExtensions[0].Name != "credential" || ea.ContextExtensions[0].Type != "Value" || ea.ContextExtensions[0].Value == nil {
			t.Fatalf("%s contextExtensions = %+v, want one Value named credential", sp.Metadata.Name, ea.ContextExtensions)
		}
		credentials[sp.Spec.TargetRefs[0].Name] = *ea.ContextExtensions[0].Value
	}
	if len(credentials) != 2 || credentials["anthropic-team-a"] != "team-a" || credentials["anthropic-team-b"] != "team-b" {
		t.Errorf("credentials by route = %v, want team-a and team-b on their routes", credentials)
	}
	for name, r := range routes {
		f := r.Spec.Rules[0].Filters[0].URLRewrite
		if f == nil || f.Hostname != "api.anthropic.com" || f.Path == nil || f.Path.ReplacePrefixMatch != "/" {
			t.Errorf("route %s rewrite = %+v, want host api.anthropic.com and the team prefix removed", name, f)
		}
	}

	grant := only[*ReferenceGrant](t, ms)
	if grant.Metadata.Namespace != svc.Namespace || len(grant.Spec.From) != 1 || grant.Spec.From[0].Kind != "SecurityPolicy" ||
		grant.Spec.From[0].Namespace != "agents" || len(grant.Spec.To) != 1 || grant.Spec.To[0].Name != svc.Name {
		t.Errorf("ReferenceGrant = %+v does not let agents/SecurityPolicy reach %s/%s", grant.Spec, svc.Namespace, svc.Name)
	}
	gw, proxy := only[*Gateway](t, ms), only[*EnvoyProxy](t, ms)
	if gw.Spec.Infrastructure == nil || gw.Spec.Infrastructure.ParametersRef == nil || gw.Spec.Infrastructure.ParametersRef.Name != proxy.Metadata.Name ||
		gw.Spec.Infrastructure.ParametersRef.Kind != "EnvoyProxy" || gw.Metadata.Namespace != proxy.Metadata.Namespace {
		t.Errorf("Gateway %s does not use EnvoyProxy %s: %+v", gw.Metadata.Name, proxy.Metadata.Name, gw.Spec.Infrastructure)
	}
	for _, r := range routes {
		if len(r.Spec.ParentRefs) != 1 || r.Spec.ParentRefs[0].Name != gw.Metadata.Name {
			t.Errorf("route %s parents %+v, want the Gateway %s", r.Metadata.Name, r.Spec.ParentRefs, gw.Metadata.Name)
		}
	}
	backend := only[*Backend](t, ms)
	tls := only[*BackendTLSPolicy](t, ms)
	if len(backend.Spec.Endpoints) != 1 || net.JoinHostPort(backend.Spec.Endpoints[0].FQDN.Hostname, strconv.Itoa(int(backend.Spec.Endpoints[0].FQDN.Port))) != "api.anthropic.com:443" {
		t.Errorf("Backend endpoints = %+v, want api.anthropic.com:443", backend.Spec.Endpoints)
	}
	if tls.Spec.Validation.Hostname != "api.anthropic.com" || len(tls.Spec.TargetRefs) != 1 || tls.Spec.TargetRefs[0].Name != backend.Metadata.Name {
		t.Errorf("BackendTLSPolicy = %+v, want hostname api.anthropic.com on Backend %s", tls.Spec, backend.Metadata.Name)
	}
}
