package deployconfig

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// wantFinding fails the test unless err holds a Finding of rule whose field contains field and
// whose text contains detail.
func wantFinding(t *testing.T, err error, rule error, field, detail string) {
	t.Helper()
	if !errors.Is(err, rule) {
		t.Fatalf("got %v, want a finding of %q", err, rule)
	}
	for _, f := range Findings(err) {
		if errors.Is(f, rule) && strings.Contains(f.Field, field) && strings.Contains(f.Error(), detail) {
			return
		}
	}
	t.Errorf("no %q finding on %q naming %q in:\n%v", rule, field, detail, err)
}

// The files applied together for each mesh (docs/deploy-kubernetes.md).
var bundles = map[string][]string{
	"istio":         {"extauthz.yaml", "istio-mesh-config.yaml", "istio-egress.yaml", "istio-extauthz.yaml"},
	"envoy-gateway": {"extauthz.yaml", "envoy-gateway.yaml"},
}

// An edit replaces the one occurrence of old in a file of a bundle; with new == dropDocument it
// removes the one YAML document that contains old.
type edit struct{ file, old, new string }

const dropDocument = "\x00drop"

// drop removes the document of file that contains marker.
func drop(file, marker string) edit { return edit{file, marker, dropDocument} }

// loadBundle decodes a bundle's files with the edits applied, failing the test if an edit does
// not apply exactly once.
func loadBundle(t *testing.T, name string, edits ...edit) []Manifest {
	t.Helper()
	var ms []Manifest
	for _, file := range bundles[name] {
		data, err := os.ReadFile(filepath.Join(meshDir, file))
		if err != nil {
			t.Fatal(err)
		}
		src := string(data)
		for _, e := range edits {
			if e.file != file {
				continue
			}
			if n := strings.Count(src, e.old); n != 1 {
				t.Fatalf("%q occurs %d times in %s, want once", e.old, n, file)
			}
			if e.new != dropDocument {
				src = strings.Replace(src, e.old, e.new, 1)
				continue
			}
			docs := strings.Split(src, "\n---\n")
			for i, doc := range docs {
				if strings.Contains(doc, e.old) {
					docs = append(docs[:i], docs[i+1:]...)
					break
				}
			}
			src = strings.Join(docs, "\n---\n")
		}
		decoded, err := DecodeManifests([]byte(src))
		if err != nil {
			t.Fatalf("%s: %v", file, err)
		}
		ms = append(ms, decoded...)
	}
	return ms
}

// As shipped, each mesh keeps extauthz's gRPC port to its gateway and wires the gateway's check,
// access log and credentials to extauthz.
func TestMeshBundlesPass(t *testing.T) {
	for name := range bundles {
		t.Run(name, func(t *testing.T) {
			if err := CheckManifests(loadBundle(t, name)); err != nil {
				t.Fatalf("CheckManifests:\n%v", err)
			}
		})
	}
}

// Each variant in which something besides the gateway could reach extauthz's gRPC port, or the
// gateway's wiring to extauthz breaks, is caught, and the finding names the object and field.
func TestCheckManifestsRejects(t *testing.T) {
	const (
		gatewaySA     = "        - cluster.local/ns/istio-system/sa/istio-egressgateway-service-account\n"
		istioPeer     = "    - namespaceSelector:\n        matchLabels:\n          kubernetes.io/metadata.name: istio-system\n      podSelector:\n        matchLabels:\n          istio: egressgateway\n"
		egPodSelector = "      podSelector:\n        matchLabels:\n          app.kubernetes.io/name: envoy\n          app.kubernetes.io/component: proxy\n" +
			"          app.kubernetes.io/managed-by: envoy-gateway\n          gateway.envoyproxy.io/owning-gateway-name: eg\n          gateway.envoyproxy.io/owning-gateway-namespace: agents\n"
		unauth = "        - name: EXTAUTHZ_ALLOW_UNAUTHENTICATED_CALLERS\n          value: \"true\"\n"
	)
	for _, tt := range []struct {
		name, bundle  string
		edits         []edit
		rule          error
		field, detail string
	}{
		// Istio: the sidecar's mTLS, the ALLOW policy, the NetworkPolicy.
		{"no PeerAuthentication", "istio", []edit{drop("istio-extauthz.yaml", "kind: PeerAuthentication")},
			ErrNotIsolated, "Deployment anthropic-auth/extauthz", "no PeerAuthentication"},
		{"PERMISSIVE", "istio", []edit{{"istio-extauthz.yaml", "mode: STRICT", "mode: PERMISSIVE"}},
			ErrNotIsolated, "PeerAuthentication anthropic-auth/default: spec.mtls.mode", "PERMISSIVE"},
		{"gRPC port PERMISSIVE for the workload", "istio", []edit{{"istio-extauthz.yaml", "  mtls:\n    mode: STRICT\n",
			"  mtls:\n    mode: STRICT\n---\napiVersion: security.istio.io/v1\nkind: PeerAuthentication\nmetadata: { name: extauthz, namespace: anthropic-auth }\n" +
				"spec:\n  selector: { matchLabels: { app.kubernetes.io/name: extauthz } }\n  portLevelMtls:\n    9191: { mode: PERMISSIVE }\n"}},
			ErrNotIsolated, "PeerAuthentication anthropic-auth/extauthz: spec.portLevelMtls.9191", "port 9191"},
		{"workload PERMISSIVE over a STRICT namespace", "istio", []edit{{"istio-extauthz.yaml", "  mtls:\n    mode: STRICT\n",
			"  mtls:\n    mode: STRICT\n---\napiVersion: security.istio.io/v1\nkind: PeerAuthentication\nmetadata: { name: extauthz, namespace: anthropic-auth }\n" +
				"spec:\n  selector: { matchLabels: { app.kubernetes.io/name: extauthz } }\n  mtls: { mode: PERMISSIVE }\n"}},
			ErrNotIsolated, "PeerAuthentication anthropic-auth/extauthz: spec.mtls.mode", "PERMISSIVE"},
		{"no sidecar", "istio", []edit{{"extauthz.yaml", `sidecar.istio.io/inject: "true"`, `sidecar.istio.io/inject: "false"`}},
			ErrNotIsolated, "spec.template.metadata.labels", "no Istio sidecar"},
		{"any principal", "istio", []edit{{"istio-extauthz.yaml", gatewaySA, "        - \"*\"\n"}},
			ErrNotIsolated, "AuthorizationPolicy anthropic-auth/extauthz-callers: spec.rules[0].from[0].source.principals", "wildcard"},
		{"a namespace instead of the gateway", "istio", []edit{{"istio-extauthz.yaml", "        principals:\n" + gatewaySA, "        namespaces: [istio-system]\n"}},
			ErrNotIsolated, "spec.rules[0].from[0].source", "no principals"},
		{"metrics rule on every port", "istio", []edit{{"istio-extauthz.yaml", "        namespaces: [\"monitoring\"]\n    to:\n    - operation:\n        ports: [\"9192\"]\n", "        namespaces: [\"monitoring\"]\n"}},
			ErrNotIsolated, "spec.rules[1].from[0].source", "port 9191"},
		{"no ALLOW policy", "istio", []edit{{"istio-extauthz.yaml", "action: ALLOW", "action: AUDIT"}},
			ErrNotIsolated, "Deployment anthropic-auth/extauthz", "no ALLOW AuthorizationPolicy"},
		{"every istio-system pod", "istio", []edit{{"istio-extauthz.yaml", istioPeer, "    - namespaceSelector:\n        matchLabels:\n          kubernetes.io/metadata.name: istio-system\n"}},
			ErrNotIsolated, "NetworkPolicy anthropic-auth/extauthz-from-istio-egressgateway: spec.ingress[0].from[0]", "without a podSelector"},
		{"every source", "istio", []edit{{"istio-extauthz.yaml", "  - from:\n" + istioPeer + "    ports:", "  - ports:"}},
			ErrNotIsolated, "spec.ingress[0].from", "every source"},
		{"no caller control declared", "istio", []edit{{"extauthz.yaml", unauth, ""}},
			ErrMiswired, "env EXTAUTHZ_ALLOW_UNAUTHENTICATED_CALLERS", "refuses"},
		{"no feedback", "istio", []edit{drop("istio-egress.yaml", "kind: Telemetry")},
			ErrMiswired, "AuthorizationPolicy istio-system/anthropic-wif", "no Telemetry"},
		{"bearer in the access log", "istio", []edit{{"istio-mesh-config.yaml", "        logName: extauthz-feedback\n", "        logName: extauthz-feedback\n        additionalRequestHeadersToLog: [Authorization]\n"}},
			ErrLoggedCredential, "envoyHttpAls.additionalRequestHeadersToLog", "Authorization"},
		{"access log elsewhere", "istio", []edit{{"istio-mesh-config.yaml", "        port: 9191\n        logName", "        port: 9192\n        logName"}},
			ErrMiswired, "extensionProviders[anthropic-wif-feedback].envoyHttpAls", ":9192"},
		{"principal to an unknown credential", "istio", []edit{{"extauthz.yaml", "agent=team-b", "agent=team-c"}},
			ErrMiswired, "EXTAUTHZ_CREDENTIAL_BY_PRINCIPAL", "team-c"},
		{"client CA without an allow-list", "istio", []edit{{"extauthz.yaml", unauth, "        - name: EXTAUTHZ_TLS_CLIENT_CA_FILE\n          value: /etc/extauthz/ca.pem\n"}},
			ErrNotIsolated, "env EXTAUTHZ_ALLOWED_CALLERS", "any certificate"},

		// Envoy Gateway: the NetworkPolicy is the control; the check and the access log.
		{"every pod of the gateway namespace", "envoy-gateway", []edit{{"envoy-gateway.yaml", egPodSelector, "      podSelector: {}\n"}},
			ErrNotIsolated, "NetworkPolicy anthropic-auth/extauthz-from-envoy-gateway: spec.ingress[0].from[0].podSelector", "every pod"},
		{"an address block", "envoy-gateway", []edit{{"envoy-gateway.yaml", "  - from:\n    - namespaceSelector:\n        matchLabels:\n          kubernetes.io/metadata.name: envoy-gateway-system\n",
			"  - from:\n    - ipBlock: { cidr: 10.0.0.0/8 }\n    - namespaceSelector:\n        matchLabels:\n          kubernetes.io/metadata.name: envoy-gateway-system\n"}},
			ErrNotIsolated, "spec.ingress[0].from[0].ipBlock", "10.0.0.0/8"},
		{"no NetworkPolicy", "envoy-gateway", []edit{
			drop("extauthz.yaml", "name: default-deny-ingress"), drop("extauthz.yaml", "name: extauthz-metrics"), drop("envoy-gateway.yaml", "kind: NetworkPolicy"),
		}, ErrNotIsolated, "Deployment anthropic-auth/extauthz", "no NetworkPolicy"},
		{"403 when extauthz is down", "envoy-gateway", []edit{{"envoy-gateway.yaml", "    statusOnError: 503\n    recomputeRoute: false\n---\napiVersion: gateway.envoyproxy.io/v1alpha1", "    recomputeRoute: false\n---\napiVersion: gateway.envoyproxy.io/v1alpha1"}},
			ErrMiswired, "SecurityPolicy agents/anthropic-wif-team-a: spec.extAuth.statusOnError", "503"},
		{"credential extauthz does not hold", "envoy-gateway", []edit{{"envoy-gateway.yaml", "value: team-b", "value: team-c"}},
			ErrMiswired, "SecurityPolicy agents/anthropic-wif-team-b: spec.extAuth.contextExtensions", "team-c"},
		{"cookie in the access log", "envoy-gateway", []edit{{"envoy-gateway.yaml", "            logName: extauthz-feedback\n", "            logName: extauthz-feedback\n            http:\n              requestHeaders: [cookie]\n"}},
			ErrLoggedCredential, "als.http.requestHeaders", "cookie"},
		{"access log elsewhere", "envoy-gateway", []edit{{"envoy-gateway.yaml", "              namespace: anthropic-auth\n              port: 9191\n", "              namespace: anthropic-auth\n              port: 9192\n"}},
			ErrMiswired, "EnvoyProxy", "no HTTP ALS sink"},
	} {
		t.Run(tt.bundle+"/"+tt.name, func(t *testing.T) {
			wantFinding(t, CheckManifests(loadBundle(t, tt.bundle, tt.edits...)), tt.rule, tt.field, tt.detail)
		})
	}
}
