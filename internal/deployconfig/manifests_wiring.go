package deployconfig

import (
	"fmt"
	"maps"
	"net"
	"slices"
	"strconv"
	"strings"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/apimachinery/pkg/util/intstr"
)

// credentialHeaders may carry a credential; no access-log sink may be given them.
var credentialHeaders = map[string]bool{
	"authorization": true, "proxy-authorization": true, "x-api-key": true, "cookie": true, "set-cookie": true,
}

// extauthzTargets are the addresses of extauthz's gRPC port through its Services, as the Istio
// providers name them ("name.namespace.svc.cluster.local:port") and as Gateway API references do
// ("namespace/name:port"), and the credentials the extauthz containers hold.
type extauthzTargets struct {
	addrs       map[string]bool
	credentials []string
	byPrincipal map[string]string // principal → credential, from EXTAUTHZ_CREDENTIAL_BY_PRINCIPAL
	envAt       string            // where the credentials are configured, for findings
}

func (s *manifestSet) extauthzTargets() extauthzTargets {
	t := extauthzTargets{addrs: map[string]bool{}, byPrincipal: map[string]string{}}
	for _, d := range s.deployments {
		for _, c := range d.Spec.Template.Spec.Containers {
			if len(c.Args) != 1 || c.Args[0] != "serve" {
				continue
			}
			env := s.containerEnv(d.Namespace, c)
			t.envAt = ref("Deployment", d.Namespace, d.Name) + ": container " + c.Name + " env"
			for name := range strings.SplitSeq(env["EXTAUTHZ_CREDENTIALS"], ",") {
				if name = strings.TrimSpace(name); name != "" && !slices.Contains(t.credentials, name) {
					t.credentials = append(t.credentials, name)
				}
			}
			for pair := range strings.SplitSeq(env["EXTAUTHZ_CREDENTIAL_BY_PRINCIPAL"], ",") {
				if principal, name, ok := strings.Cut(strings.TrimSpace(pair), "="); ok {
					t.byPrincipal[principal] = name
				}
			}
			_, port, err := net.SplitHostPort(env["EXTAUTHZ_GRPC_ADDR"])
			if err != nil {
				continue // a unix socket: no Service reaches it
			}
			for _, svc := range s.services {
				if svc.Namespace != d.Namespace || !labels.SelectorFromSet(svc.Spec.Selector).Matches(labels.Set(d.Spec.Template.Labels)) {
					continue
				}
				for _, sp := range svc.Spec.Ports {
					if targetsPort(sp, c, port) {
						t.addrs[fmt.Sprintf("%s.%s.svc.cluster.local:%d", svc.Name, svc.Namespace, sp.Port)] = true
						t.addrs[fmt.Sprintf("%s/%s:%d", svc.Namespace, svc.Name, sp.Port)] = true
					}
				}
			}
		}
	}
	return t
}

// targetsPort reports whether a Service port forwards to the container's port numbered port.
func targetsPort(sp corev1.ServicePort, c corev1.Container, port string) bool {
	for _, cp := range c.Ports {
		if strconv.Itoa(int(cp.ContainerPort)) != port {
			continue
		}
		switch {
		case sp.TargetPort.Type == intstr.String:
			return sp.TargetPort.StrVal == cp.Name
		case sp.TargetPort.IntVal == 0:
			return sp.Port == cp.ContainerPort
		default:
			return sp.TargetPort.IntVal == cp.ContainerPort
		}
	}
	return false
}

// checkGatewayWiring checks what the gateways do with extauthz: the Istio ext_authz provider and
// Envoy Gateway's SecurityPolicies call extauthz's gRPC port and fail closed with 503; every
// access-log sink (Istio envoyHttpAls provider, EnvoyProxy ALS) streams to that port, is given no
// header that can carry a credential, and one is on for the gateway that runs the check; every
// credential the gateways select (contextExtensions, EXTAUTHZ_CREDENTIAL_BY_PRINCIPAL) is one
// EXTAUTHZ_CREDENTIALS lists, and with several credentials every SecurityPolicy selects one.
func (s *manifestSet) checkGatewayWiring(fs *findings) {
	t := s.extauthzTargets()
	for principal, name := range t.byPrincipal {
		if !slices.Contains(t.credentials, name) {
			fs.add(t.envAt+" EXTAUTHZ_CREDENTIAL_BY_PRINCIPAL", ErrMiswired, "%s maps to %q, which EXTAUTHZ_CREDENTIALS %v does not list", principal, name, t.credentials)
		}
	}
	s.checkIstioWiring(fs, t)
	s.checkEnvoyGatewayWiring(fs, t)
}

func (s *manifestSet) checkIstioWiring(fs *findings, t extauthzTargets) {
	feedback := map[string]bool{} // names of access-log providers that stream to extauthz
	for i, p := range s.providers {
		field := fmt.Sprintf("IstioOperator: spec.meshConfig.extensionProviders[%s]", nameOr(p.Name, i))
		if g := p.EnvoyExtAuthzGrpc; g != nil {
			if addr := fmt.Sprintf("%s:%d", g.Service, g.Port); !t.addrs[addr] {
				fs.add(field+".envoyExtAuthzGrpc", ErrMiswired, "%s is not extauthz's gRPC port", addr)
			}
			if g.FailOpen || g.StatusOnError != "503" {
				fs.add(field+".envoyExtAuthzGrpc", ErrMiswired, "failOpen %v, statusOnError %q: want false and 503", g.FailOpen, g.StatusOnError)
			}
		}
		if a := p.EnvoyHTTPAls; a != nil {
			addr := fmt.Sprintf("%s:%d", a.Service, a.Port)
			if !t.addrs[addr] {
				fs.add(field+".envoyHttpAls", ErrMiswired, "%s is not extauthz's gRPC port", addr)
			} else {
				feedback[p.Name] = true
			}
			checkLoggedHeaders(fs, field+".envoyHttpAls", map[string][]string{
				"additionalRequestHeadersToLog":   a.AdditionalRequestHeadersToLog,
				"additionalResponseHeadersToLog":  a.AdditionalResponseHeadersToLog,
				"additionalResponseTrailersToLog": a.AdditionalResponseTrailersToLog,
			})
		}
	}
	for _, ap := range s.authzPolicies {
		if ap.Spec.Action != "CUSTOM" || ap.Spec.Selector == nil {
			continue
		}
		gateway := labels.Set(ap.Spec.Selector.MatchLabels)
		on := false
		for _, tm := range s.telemetries {
			if !selects(tm.Spec.Selector, tm.Metadata.Namespace, ap.Metadata.Namespace, gateway) {
				continue
			}
			for _, al := range tm.Spec.AccessLogging {
				for _, pr := range al.Providers {
					on = on || feedback[pr.Name] && (al.Disabled == nil || !*al.Disabled)
				}
			}
		}
		if !on {
			fs.add(ref("AuthorizationPolicy", ap.Metadata.Namespace, ap.Metadata.Name), ErrMiswired,
				"no Telemetry turns on an access-log provider to extauthz for the workloads it checks (%v): upstream 401s never reach extauthz", ap.Spec.Selector.MatchLabels)
		}
	}
}

func (s *manifestSet) checkEnvoyGatewayWiring(fs *findings, t extauthzTargets) {
	for _, sp := range s.securityPolicy {
		at := ref("SecurityPolicy", sp.Metadata.Namespace, sp.Metadata.Name) + ": spec.extAuth"
		ea := sp.Spec.ExtAuth
		if ea.GRPC == nil {
			fs.add(at+".grpc", ErrMiswired, "unset: extauthz speaks gRPC")
		} else {
			for i, r := range ea.GRPC.BackendRefs {
				if addr := backendAddr(r, sp.Metadata.Namespace); !t.addrs[addr] {
					fs.add(fmt.Sprintf("%s.grpc.backendRefs[%d]", at, i), ErrMiswired, "%s is not extauthz's gRPC port", addr)
				}
			}
		}
		if ea.FailOpen != nil && *ea.FailOpen {
			fs.add(at+".failOpen", ErrMiswired, "true: a failed check would forward the client's key and no bearer")
		}
		if ea.StatusOnError == nil || *ea.StatusOnError != 503 {
			fs.add(at+".statusOnError", ErrMiswired, "want 503 (unset means Envoy's 403, which clients do not retry)")
		}
		credential := ""
		for _, ce := range ea.ContextExtensions {
			if ce.Name == "credential" && ce.Value != nil {
				credential = *ce.Value
			}
		}
		switch {
		case credential != "" && !slices.Contains(t.credentials, credential):
			fs.add(at+".contextExtensions", ErrMiswired, "credential %q is not in EXTAUTHZ_CREDENTIALS %v", credential, t.credentials)
		case credential == "" && len(t.credentials) > 1:
			fs.add(at+".contextExtensions", ErrMiswired, "selects no credential: with %v extauthz answers 403", t.credentials)
		}
	}
	feedback := false
	for _, ep := range s.envoyProxies {
		for i, setting := range ep.Spec.Telemetry.AccessLog.Settings {
			for j, sink := range setting.Sinks {
				if sink.ALS == nil {
					continue
				}
				field := fmt.Sprintf("%s: spec.telemetry.accessLog.settings[%d].sinks[%d].als", ref("EnvoyProxy", ep.Metadata.Namespace, ep.Metadata.Name), i, j)
				for k, r := range sink.ALS.BackendRefs {
					if addr := backendAddr(r, ep.Metadata.Namespace); !t.addrs[addr] {
						fs.add(fmt.Sprintf("%s.backendRefs[%d]", field, k), ErrMiswired, "%s is not extauthz's gRPC port", addr)
					} else if sink.ALS.Type == "HTTP" {
						feedback = true
					}
				}
				if h := sink.ALS.HTTP; h != nil {
					checkLoggedHeaders(fs, field+".http", map[string][]string{
						"requestHeaders": h.RequestHeaders, "responseHeaders": h.ResponseHeaders, "responseTrailers": h.ResponseTrailers,
					})
				}
			}
		}
	}
	if len(s.securityPolicy) > 0 && !feedback {
		fs.add("EnvoyProxy", ErrMiswired, "no HTTP ALS sink streams the gateway's access log to extauthz: upstream 401s never reach it")
	}
}

// backendAddr is a Gateway API backend reference as namespace/name:port.
func backendAddr(r ObjectRef, defaultNamespace string) string {
	ns := r.Namespace
	if ns == "" {
		ns = defaultNamespace
	}
	return fmt.Sprintf("%s/%s:%d", ns, r.Name, r.Port)
}

func checkLoggedHeaders(fs *findings, field string, lists map[string][]string) {
	for _, name := range slices.Sorted(maps.Keys(lists)) {
		for _, h := range lists[name] {
			if credentialHeaders[strings.ToLower(strings.TrimSpace(h))] {
				fs.add(field+"."+name, ErrLoggedCredential, "%q", h)
			}
		}
	}
}

func nameOr(name string, i int) string {
	if name != "" {
		return name
	}
	return strconv.Itoa(i)
}
