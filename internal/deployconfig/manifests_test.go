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
	for _, name := range []string{"AWF_AUTH_ANTHROPIC_FEDERATION_RULE_ID", "AWF_AUTH_ANTHROPIC_ORGANIZATION_ID", "AWF_AUTH_ANTHROPIC_SERVICE_ACCOUNT_ID"} {
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

// Istio: the mesh provider points at the extauthz Service and fails closed; the CUSTOM policy
// uses it on the egress gateway, which routes api.anthropic.com and originates verified TLS.
func TestIstioWiring(t *testing.T) {
	host, grpcPort, _ := extauthzAddress(t)
	op := only[*IstioOperator](t, decodeFile(t, "istio-mesh-config.yaml"))
	if len(op.Spec.MeshConfig.ExtensionProviders) != 1 {
		t.Fatalf("extensionProviders = %+v", op.Spec.MeshConfig.ExtensionProviders)
	}
	provider := op.Spec.MeshConfig.ExtensionProviders[0]
	g := provider.EnvoyExtAuthzGrpc
	if g == nil || g.Service != host || g.Port != grpcPort {
		t.Fatalf("provider %s = %+v, want envoyExtAuthzGrpc to %s:%d", provider.Name, g, host, grpcPort)
	}
	if g.FailOpen || g.StatusOnError != "503" {
		t.Errorf("provider failOpen %v statusOnError %q, want false and 503", g.FailOpen, g.StatusOnError)
	}
	if d, err := time.ParseDuration(g.Timeout); err != nil || d <= 0 || d > time.Second {
		t.Errorf("provider timeout %q, want at most 1s", g.Timeout)
	}

	ms := decodeFile(t, "istio-egress.yaml")
	ap := only[*AuthorizationPolicy](t, ms)
	if ap.Spec.Action != "CUSTOM" || ap.Spec.Provider.Name != provider.Name {
		t.Errorf("AuthorizationPolicy action %q provider %q, want CUSTOM with %q", ap.Spec.Action, ap.Spec.Provider.Name, provider.Name)
	}
	if len(ap.Spec.Rules) == 0 || len(ap.Spec.Rules[0].To) == 0 || !slices.Contains(ap.Spec.Rules[0].To[0].Operation.Hosts, "api.anthropic.com") {
		t.Errorf("AuthorizationPolicy rules = %+v, want a rule for api.anthropic.com", ap.Spec.Rules)
	}
	gw := only[*IstioGateway](t, ms)
	if !labels.SelectorFromSet(ap.Spec.Selector.MatchLabels).Matches(labels.Set(gw.Spec.Selector)) || ap.Metadata.Namespace != "istio-system" {
		t.Errorf("the policy (selector %v, namespace %s) does not apply to the egress gateway %v", ap.Spec.Selector.MatchLabels, ap.Metadata.Namespace, gw.Spec.Selector)
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
	dr := only[*DestinationRule](t, ms)
	if dr.Spec.Host != "api.anthropic.com" || !slices.Equal(dr.Spec.ExportTo, []string{"."}) || len(dr.Spec.TrafficPolicy.PortLevelSettings) != 1 {
		t.Fatalf("DestinationRule = %+v", dr.Spec)
	}
	if tls := dr.Spec.TrafficPolicy.PortLevelSettings[0].TLS; tls.Mode != "SIMPLE" || tls.SNI != "api.anthropic.com" || tls.CACertificates == "" {
		t.Errorf("TLS origination = %+v, want SIMPLE with SNI api.anthropic.com and a CA bundle", tls)
	}
	vs := only[*VirtualService](t, ms)
	if !slices.Contains(vs.Spec.Gateways, gw.Metadata.Name) || !slices.Contains(vs.Spec.Gateways, "mesh") || len(vs.Spec.HTTP) != 2 {
		t.Errorf("VirtualService = %+v", vs.Spec)
	}
}

// Envoy Gateway: the SecurityPolicy calls the extauthz Service over gRPC, fails closed, sends
// only anthropic-beta, and may reach across namespaces through the ReferenceGrant.
func TestEnvoyGatewayWiring(t *testing.T) {
	_, grpcPort, svc := extauthzAddress(t)
	ms := decodeFile(t, "envoy-gateway.yaml")
	sp := only[*SecurityPolicy](t, ms)
	ea := sp.Spec.ExtAuth
	if ea.GRPC == nil || len(ea.GRPC.BackendRefs) != 1 {
		t.Fatalf("extAuth.grpc = %+v", ea.GRPC)
	}
	ref := ea.GRPC.BackendRefs[0]
	if ref.Name != svc.Name || ref.Namespace != svc.Namespace || ref.Port != grpcPort {
		t.Errorf("backendRef %+v, want %s/%s:%d", ref, svc.Namespace, svc.Name, grpcPort)
	}
	if ea.FailOpen == nil || *ea.FailOpen || !slices.Equal(ea.HeadersToExtAuth, []string{"anthropic-beta"}) {
		t.Errorf("extAuth failOpen %v headersToExtAuth %v, want false and [anthropic-beta]", ea.FailOpen, ea.HeadersToExtAuth)
	}
	if d, err := time.ParseDuration(ea.Timeout); err != nil || d <= 0 || d > time.Second {
		t.Errorf("extAuth timeout %q, want at most 1s", ea.Timeout)
	}
	route := only[*HTTPRoute](t, ms)
	if len(sp.Spec.TargetRefs) != 1 || sp.Spec.TargetRefs[0].Kind != "HTTPRoute" || sp.Spec.TargetRefs[0].Name != route.Metadata.Name {
		t.Errorf("SecurityPolicy targets %+v, want the HTTPRoute %s", sp.Spec.TargetRefs, route.Metadata.Name)
	}
	grant := only[*ReferenceGrant](t, ms)
	if grant.Metadata.Namespace != svc.Namespace || len(grant.Spec.From) != 1 || grant.Spec.From[0].Kind != "SecurityPolicy" ||
		grant.Spec.From[0].Namespace != sp.Metadata.Namespace || len(grant.Spec.To) != 1 || grant.Spec.To[0].Name != svc.Name {
		t.Errorf("ReferenceGrant = %+v does not let %s/SecurityPolicy reach %s/%s", grant.Spec, sp.Metadata.Namespace, svc.Namespace, svc.Name)
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
