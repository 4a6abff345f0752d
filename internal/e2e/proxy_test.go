package e2e

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"slices"
	"strconv"
	"sync"
	"testing"
	"time"

	corev3 "github.com/envoyproxy/go-control-plane/envoy/config/core/v3"
	ext_authzv3 "github.com/envoyproxy/go-control-plane/envoy/extensions/filters/http/ext_authz/v3"
	hcmv3 "github.com/envoyproxy/go-control-plane/envoy/extensions/filters/network/http_connection_manager/v3"
	authv3 "github.com/envoyproxy/go-control-plane/envoy/service/auth/v3"

	"extauthz/internal/envoyconfig"
	"extauthz/internal/envoymodel"
)

// localConfig is what the test proxy takes from envoy/local.yaml: the
// ext_authz filter config and the route's host rewrite.
type localConfig struct {
	extAuthz    *ext_authzv3.ExtAuthz
	hostRewrite string
}

// loadLocalConfig decodes envoy/local.yaml with the project's strict
// validator and picks out the ext_authz filter and the route.
func loadLocalConfig(t *testing.T) localConfig {
	t.Helper()
	cfg, err := envoyconfig.Load("../../envoy/local.yaml")
	if err != nil {
		t.Fatalf("envoy/local.yaml: %v", err)
	}
	var lc localConfig
	for _, ext := range cfg.Extensions {
		switch m := ext.Message.(type) {
		case *ext_authzv3.ExtAuthz:
			lc.extAuthz = m
		case *hcmv3.HttpConnectionManager:
			lc.hostRewrite = m.GetRouteConfig().GetVirtualHosts()[0].GetRoutes()[0].GetRoute().GetHostRewriteLiteral()
		}
	}
	if lc.extAuthz == nil || lc.hostRewrite == "" {
		t.Fatal("envoy/local.yaml has no ext_authz filter or no host rewrite")
	}
	return lc
}

// checkDeadline only guards against a hang. Envoy's own 250 ms limit is not
// enforced: a loaded test machine must not turn into a false 503.
const checkDeadline = 10 * time.Second

// proxy plays Envoy in front of the upstream: for each request it builds
// Envoy's CheckRequest, calls Check over gRPC, and applies the response as
// one Envoy version does, then forwards the request or sends the local reply.
type proxy struct {
	srv      *httptest.Server
	filter   *envoymodel.Filter
	authz    authv3.AuthorizationClient
	upstream string
	host     string // the route's host_rewrite_literal
	client   *http.Client

	mu       sync.Mutex
	problems []string // see wireProblems
}

// startProxy runs the proxy for version v, configured from envoy/local.yaml.
func startProxy(t *testing.T, v envoymodel.Version, svc *authzService, up *upstream) *proxy {
	t.Helper()
	lc := loadLocalConfig(t)
	f, err := envoymodel.NewFilter(v, lc.extAuthz)
	if err != nil {
		t.Fatal(err)
	}
	transport := &http.Transport{} // no proxy from the environment
	p := &proxy{
		filter: f, authz: authv3.NewAuthorizationClient(svc.conn), upstream: up.srv.URL, host: lc.hostRewrite,
		client: &http.Client{Transport: transport},
	}
	p.srv = httptest.NewServer(p)
	t.Cleanup(func() { p.srv.Close(); transport.CloseIdleConnections() })
	return p
}

// ServeHTTP is the ext_authz filter followed by the router.
func (p *proxy) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	h := envoymodel.NewHeaders(r)
	ctx, cancel := context.WithTimeout(r.Context(), checkDeadline)
	resp, err := p.authz.Check(ctx, p.filter.CheckRequest(r, h))
	cancel()
	var out envoymodel.Outcome
	if err != nil {
		out = p.filter.OnError(h)
	} else {
		out = p.filter.Apply(h, resp)
	}
	p.mu.Lock()
	p.problems = append(p.problems, slices.Concat(out.Ignored, reliesOnDefault(resp))...)
	p.mu.Unlock()
	if !out.Allowed {
		for k, vs := range out.Header {
			w.Header()[k] = vs
		}
		w.WriteHeader(out.Status)
		io.WriteString(w, out.Body)
		return
	}
	// The router: same method, path and body, the mutated headers, the
	// route's host.
	path, _ := h.Get(":path")
	up, err := http.NewRequestWithContext(r.Context(), r.Method, p.upstream+path, r.Body)
	if err != nil {
		http.Error(w, err.Error(), http.StatusBadGateway)
		return
	}
	up.Header, up.Host, up.ContentLength = h.HTTPHeader(), p.host, r.ContentLength
	got, err := p.client.Do(up)
	if err != nil {
		http.Error(w, "upstream: "+err.Error(), http.StatusBadGateway)
		return
	}
	defer got.Body.Close()
	for k, vs := range got.Header {
		w.Header()[k] = vs
	}
	w.WriteHeader(got.StatusCode)
	io.Copy(w, got.Body)
}

// wireProblems returns what the proxy has seen so far in responses that
// Envoy would not apply as extauthz means them: mutations the model ignored,
// and header options that rely on a default (reliesOnDefault).
func (p *proxy) wireProblems() []string {
	p.mu.Lock()
	defer p.mu.Unlock()
	return slices.Clone(p.problems)
}

// reliesOnDefault describes each header option of resp that does not set
// both append=false and append_action OVERWRITE_IF_EXISTS_OR_ADD, as
// design.md requires of every header. Every release reads `append` alone and
// the reverted #42878 let a present `append` win, so either field alone
// behaves the same on every modelled Envoy: this look at the wire is what
// fails the tests when a response drops one of them. Dropping both also
// fails them behaviourally, under EnvoyDev42878 (a duplicated header).
func reliesOnDefault(resp *authv3.CheckResponse) []string {
	var out []string
	for _, o := range slices.Concat(resp.GetOkResponse().GetHeaders(), resp.GetDeniedResponse().GetHeaders()) {
		appendField := "unset"
		if a := o.GetAppend(); a != nil {
			appendField = strconv.FormatBool(a.GetValue())
		}
		if appendField != "false" || o.GetAppendAction() != corev3.HeaderValueOption_OVERWRITE_IF_EXISTS_OR_ADD {
			out = append(out, fmt.Sprintf("%q: append %s, append_action %v", o.GetHeader().GetKey(), appendField, o.GetAppendAction()))
		}
	}
	return out
}
