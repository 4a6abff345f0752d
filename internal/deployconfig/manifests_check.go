package deployconfig

import (
	"fmt"
	"net"
	"strconv"
	"strings"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	networkingv1 "k8s.io/api/networking/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/apimachinery/pkg/util/intstr"
)

// istioRootNamespace is Istio's default root namespace (meshConfig.rootNamespace), whose
// selector-less policies apply to the whole mesh.
const istioRootNamespace = "istio-system"

// CheckManifests returns nil, or every Finding joined, when in the manifests ms (the files applied
// together, e.g. extauthz.yaml with the istio-*.yaml files, or with envoy-gateway.yaml) something
// other than the gateway could reach an extauthz Deployment's gRPC port, or the gateway's
// ext_authz, access log and credential selection do not fit extauthz (see checkGatewayWiring).
//
// An extauthz container is one whose args are [serve]. On a non-loopback TCP address it needs
// client certificates (EXTAUTHZ_TLS_CLIENT_CA_FILE with EXTAUTHZ_ALLOWED_CALLERS), or else
// EXTAUTHZ_ALLOW_UNAUTHENTICATED_CALLERS=true and controls in front of it: always NetworkPolicies
// under which only selected pods reach the port, and, when the set holds Istio resources, an
// injected sidecar with PeerAuthentication STRICT on the port and ALLOW AuthorizationPolicies
// under which only named principals reach it.
func CheckManifests(ms []Manifest) error {
	set := indexManifests(ms)
	var fs findings
	for _, d := range set.deployments {
		for _, c := range d.Spec.Template.Spec.Containers {
			if len(c.Args) == 1 && c.Args[0] == "serve" {
				set.checkExtauthzIsolation(&fs, d, c)
			}
		}
	}
	set.checkGatewayWiring(&fs)
	return fs.err()
}

// manifestSet indexes a set of manifests by kind.
type manifestSet struct {
	istio           bool
	namespaces      map[string]*corev1.Namespace
	configMaps      map[string]*corev1.ConfigMap // by namespace/name
	services        []*corev1.Service
	deployments     []*appsv1.Deployment
	networkPolicies []*networkingv1.NetworkPolicy
	peerAuths       []*PeerAuthentication
	authzPolicies   []*AuthorizationPolicy
	telemetries     []*Telemetry
	providers       []ExtensionProvider
	securityPolicy  []*SecurityPolicy
	envoyProxies    []*EnvoyProxy
}

func indexManifests(ms []Manifest) *manifestSet {
	s := &manifestSet{namespaces: map[string]*corev1.Namespace{}, configMaps: map[string]*corev1.ConfigMap{}}
	for _, m := range ms {
		s.istio = s.istio || strings.Contains(m.APIVersion, ".istio.io/")
		switch o := m.Object.(type) {
		case *corev1.Namespace:
			s.namespaces[o.Name] = o
		case *corev1.ConfigMap:
			s.configMaps[o.Namespace+"/"+o.Name] = o
		case *corev1.Service:
			s.services = append(s.services, o)
		case *appsv1.Deployment:
			s.deployments = append(s.deployments, o)
		case *networkingv1.NetworkPolicy:
			s.networkPolicies = append(s.networkPolicies, o)
		case *PeerAuthentication:
			s.peerAuths = append(s.peerAuths, o)
		case *AuthorizationPolicy:
			s.authzPolicies = append(s.authzPolicies, o)
		case *Telemetry:
			s.telemetries = append(s.telemetries, o)
		case *IstioOperator:
			s.providers = append(s.providers, o.Spec.MeshConfig.ExtensionProviders...)
		case *SecurityPolicy:
			s.securityPolicy = append(s.securityPolicy, o)
		case *EnvoyProxy:
			s.envoyProxies = append(s.envoyProxies, o)
		}
	}
	return s
}

// ref names an object in a Finding's field.
func ref(kind, namespace, name string) string { return kind + " " + namespace + "/" + name }

// containerEnv is a container's environment as the kubelet builds it: the ConfigMaps of envFrom
// (those in the set), then env. Values from other sources are not known.
func (s *manifestSet) containerEnv(namespace string, c corev1.Container) map[string]string {
	env := map[string]string{}
	for _, from := range c.EnvFrom {
		if from.ConfigMapRef == nil {
			continue
		}
		if cm, ok := s.configMaps[namespace+"/"+from.ConfigMapRef.Name]; ok {
			for k, v := range cm.Data {
				env[from.Prefix+k] = strings.TrimSpace(v)
			}
		}
	}
	for _, e := range c.Env {
		env[e.Name] = strings.TrimSpace(e.Value)
	}
	return env
}

// checkExtauthzIsolation checks who can reach one extauthz container's gRPC listener.
func (s *manifestSet) checkExtauthzIsolation(fs *findings, d *appsv1.Deployment, c corev1.Container) {
	at := ref("Deployment", d.Namespace, d.Name) + ": container " + c.Name
	env := s.containerEnv(d.Namespace, c)
	addr := env["EXTAUTHZ_GRPC_ADDR"]
	if strings.HasPrefix(addr, "unix:") {
		return // a socket: reachable only through a volume the pod spec names
	}
	host, portText, err := net.SplitHostPort(addr)
	port, perr := strconv.Atoi(portText)
	if err != nil || perr != nil {
		fs.add(at+" env EXTAUTHZ_GRPC_ADDR", ErrMiswired, "%q: want host:port or unix:/path", addr)
		return
	}
	if ip := net.ParseIP(host); host == "localhost" || ip != nil && ip.IsLoopback() {
		if len(d.Spec.Template.Spec.Containers) > 1 {
			fs.add(at+" env EXTAUTHZ_GRPC_ADDR", ErrNotIsolated, "%q is shared with every container of the pod; use a unix socket", addr)
		}
		return
	}
	if env["EXTAUTHZ_TLS_CLIENT_CA_FILE"] != "" {
		if env["EXTAUTHZ_ALLOWED_CALLERS"] == "" {
			fs.add(at+" env EXTAUTHZ_ALLOWED_CALLERS", ErrNotIsolated, "unset: any certificate from EXTAUTHZ_TLS_CLIENT_CA_FILE's CA may call Check")
		}
		return
	}
	if env["EXTAUTHZ_ALLOW_UNAUTHENTICATED_CALLERS"] != "true" {
		fs.add(at+" env EXTAUTHZ_ALLOW_UNAUTHENTICATED_CALLERS", ErrMiswired,
			"extauthz refuses %s without client certificates unless this is true (and then the controls checked here must hold)", addr)
	}
	pod := labels.Set(d.Spec.Template.Labels)
	portName := ""
	for _, p := range c.Ports {
		if int(p.ContainerPort) == port {
			portName = p.Name
		}
	}
	s.checkNetworkPolicies(fs, at, d.Namespace, pod, port, portName)
	if s.istio {
		s.checkSidecar(fs, at, d)
		s.checkPeerAuthentication(fs, at, d.Namespace, pod, port)
		s.checkAuthorizationPolicies(fs, at, d.Namespace, pod, port)
	}
}

// checkNetworkPolicies requires the pods to be isolated for ingress and every rule that admits the
// gRPC port to name its peers by pod labels: an empty from, an ipBlock, a namespace without a pod
// selector or an empty pod selector admits pods nobody chose.
func (s *manifestSet) checkNetworkPolicies(fs *findings, at, namespace string, pod labels.Set, port int, portName string) {
	selecting := 0
	for _, np := range s.networkPolicies {
		sel, err := metav1.LabelSelectorAsSelector(&np.Spec.PodSelector)
		if np.Namespace != namespace || err != nil || !sel.Matches(pod) || !governsIngress(np) {
			continue
		}
		selecting++
		for i, rule := range np.Spec.Ingress {
			if !admitsPort(rule.Ports, port, portName) {
				continue
			}
			field := fmt.Sprintf("%s: spec.ingress[%d].from", ref("NetworkPolicy", np.Namespace, np.Name), i)
			if len(rule.From) == 0 {
				fs.add(field, ErrNotIsolated, "empty: every source may reach port %d", port)
			}
			for j, peer := range rule.From {
				switch {
				case peer.IPBlock != nil:
					fs.add(fmt.Sprintf("%s[%d].ipBlock", field, j), ErrNotIsolated, "%s admits whatever holds those addresses on port %d", peer.IPBlock.CIDR, port)
				case peer.PodSelector == nil:
					fs.add(fmt.Sprintf("%s[%d]", field, j), ErrNotIsolated, "a namespaceSelector without a podSelector admits every pod of those namespaces on port %d", port)
				case len(peer.PodSelector.MatchLabels) == 0 && len(peer.PodSelector.MatchExpressions) == 0:
					fs.add(fmt.Sprintf("%s[%d].podSelector", field, j), ErrNotIsolated, "empty: admits every pod on port %d", port)
				}
			}
		}
	}
	if selecting == 0 {
		fs.add(at, ErrNotIsolated, "no NetworkPolicy with Ingress selects the pods in %s: every pod of the cluster can connect to port %d", namespace, port)
	}
}

// governsIngress reports whether a NetworkPolicy isolates its pods for ingress; without
// policyTypes it does (Kubernetes defaults them to Ingress, plus Egress with egress rules).
func governsIngress(np *networkingv1.NetworkPolicy) bool {
	if len(np.Spec.PolicyTypes) == 0 {
		return true
	}
	for _, t := range np.Spec.PolicyTypes {
		if t == networkingv1.PolicyTypeIngress {
			return true
		}
	}
	return false
}

// admitsPort reports whether a rule's ports include the TCP port (no ports means all of them).
func admitsPort(ports []networkingv1.NetworkPolicyPort, port int, name string) bool {
	if len(ports) == 0 {
		return true
	}
	for _, p := range ports {
		if p.Protocol != nil && *p.Protocol != corev1.ProtocolTCP {
			continue
		}
		switch {
		case p.Port == nil:
			return true
		case p.Port.Type == intstr.String:
			if name != "" && p.Port.StrVal == name {
				return true
			}
		case p.EndPort != nil:
			if int(p.Port.IntVal) <= port && port <= int(*p.EndPort) {
				return true
			}
		case int(p.Port.IntVal) == port:
			return true
		}
	}
	return false
}

// checkSidecar requires an Istio sidecar in the extauthz pods, without which no Istio policy
// applies to them.
func (s *manifestSet) checkSidecar(fs *findings, at string, d *appsv1.Deployment) {
	podLabel, set := d.Spec.Template.Labels["sidecar.istio.io/inject"]
	ns := s.namespaces[d.Namespace]
	nsInjected := ns != nil && (ns.Labels["istio-injection"] == "enabled" || ns.Labels["istio.io/rev"] != "")
	if podLabel == "false" || !nsInjected && (!set || podLabel != "true") {
		fs.add(at+": spec.template.metadata.labels", ErrNotIsolated,
			"no Istio sidecar is injected (sidecar.istio.io/inject: \"true\" or a namespace with istio-injection=enabled): nothing enforces the mesh policies in front of extauthz")
	}
}

// selects reports whether an Istio workload selector in namespace ns applies to a pod of podNS:
// a selector-less policy applies to its namespace, and in the root namespace to the whole mesh.
func selects(sel *WorkloadSelector, ns, podNS string, pod labels.Set) bool {
	if ns != podNS && ns != istioRootNamespace {
		return false
	}
	if sel == nil {
		return true
	}
	return labels.SelectorFromSet(sel.MatchLabels).Matches(pod)
}

// checkPeerAuthentication requires the effective mTLS mode of the gRPC port to be STRICT: a
// port-level setting of a workload policy, else the workload policy's mode, else the
// namespace's, else the mesh's (root namespace), else Istio's default PERMISSIVE.
func (s *manifestSet) checkPeerAuthentication(fs *findings, at, namespace string, pod labels.Set, port int) {
	var workload, ns, mesh *PeerAuthentication
	for _, pa := range s.peerAuths {
		switch {
		case pa.Metadata.Namespace == namespace && pa.Spec.Selector != nil && selects(pa.Spec.Selector, pa.Metadata.Namespace, namespace, pod):
			workload = pa
		case pa.Metadata.Namespace == namespace && pa.Spec.Selector == nil:
			ns = pa
		case pa.Metadata.Namespace == istioRootNamespace && pa.Spec.Selector == nil:
			mesh = pa
		}
	}
	mode, field := "", at
	if workload != nil {
		if pm, ok := workload.Spec.PortLevelMTLS[strconv.Itoa(port)]; ok && pm.Mode != "" && pm.Mode != "UNSET" {
			mode, field = pm.Mode, ref("PeerAuthentication", workload.Metadata.Namespace, workload.Metadata.Name)+": spec.portLevelMtls."+strconv.Itoa(port)
		}
	}
	for _, pa := range []*PeerAuthentication{workload, ns, mesh} {
		if mode == "" && pa != nil && pa.Spec.MTLS != nil && pa.Spec.MTLS.Mode != "" && pa.Spec.MTLS.Mode != "UNSET" {
			mode, field = pa.Spec.MTLS.Mode, ref("PeerAuthentication", pa.Metadata.Namespace, pa.Metadata.Name)+": spec.mtls.mode"
		}
	}
	switch mode {
	case "STRICT":
	case "":
		fs.add(at, ErrNotIsolated, "no PeerAuthentication applies to port %d: Istio's default PERMISSIVE accepts plaintext from any pod", port)
	default:
		fs.add(field, ErrNotIsolated, "%s on port %d: the sidecar accepts connections without a mesh certificate", mode, port)
	}
}

// checkAuthorizationPolicies requires ALLOW AuthorizationPolicies on the pods under which only
// named principals (exact SPIFFE ids, no wildcard) reach the gRPC port.
func (s *manifestSet) checkAuthorizationPolicies(fs *findings, at, namespace string, pod labels.Set, port int) {
	allow := 0
	for _, ap := range s.authzPolicies {
		if ap.Spec.Action != "" && ap.Spec.Action != "ALLOW" || !selects(ap.Spec.Selector, ap.Metadata.Namespace, namespace, pod) {
			continue
		}
		allow++
		for i, rule := range ap.Spec.Rules {
			if !ruleReachesPort(rule, port) {
				continue
			}
			field := fmt.Sprintf("%s: spec.rules[%d].from", ref("AuthorizationPolicy", ap.Metadata.Namespace, ap.Metadata.Name), i)
			if len(rule.From) == 0 {
				fs.add(field, ErrNotIsolated, "empty: every source may reach port %d", port)
			}
			for j, from := range rule.From {
				if len(from.Source.Principals) == 0 {
					fs.add(fmt.Sprintf("%s[%d].source", field, j), ErrNotIsolated, "no principals: it admits by namespace or address whatever runs there, on port %d", port)
				}
				for _, p := range from.Source.Principals {
					if strings.Contains(p, "*") {
						fs.add(fmt.Sprintf("%s[%d].source.principals", field, j), ErrNotIsolated, "%q is a wildcard", p)
					}
				}
			}
		}
	}
	if allow == 0 {
		fs.add(at, ErrNotIsolated, "no ALLOW AuthorizationPolicy applies to the pods: every workload of the mesh may call port %d", port)
	}
}

// ruleReachesPort reports whether an AuthorizationPolicy rule can match a request to the port.
func ruleReachesPort(rule AuthorizationRule, port int) bool {
	if len(rule.To) == 0 {
		return true
	}
	for _, to := range rule.To {
		if len(to.Operation.Ports) == 0 {
			return true
		}
		for _, p := range to.Operation.Ports {
			if p == strconv.Itoa(port) {
				return true
			}
		}
	}
	return false
}
