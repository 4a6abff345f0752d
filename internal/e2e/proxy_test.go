package e2e

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	corev3 "github.com/envoyproxy/go-control-plane/envoy/config/core/v3"
	grpcv3 "github.com/envoyproxy/go-control-plane/envoy/extensions/access_loggers/grpc/v3"
	ext_authzv3 "github.com/envoyproxy/go-control-plane/envoy/extensions/filters/http/ext_authz/v3"
	hcmv3 "github.com/envoyproxy/go-control-plane/envoy/extensions/filters/network/http_connection_manager/v3"
	accesslogv3 "github.com/envoyproxy/go-control-plane/envoy/service/accesslog/v3"
	authv3 "github.com/envoyproxy/go-control-plane/envoy/service/auth/v3"
	"google.golang.org/protobuf/types/known/structpb"
	"google.golang.org/protobuf/types/known/wrapperspb"

	"extauthz/internal/envoyconfig"
	"extauthz/internal/envoymodel"
)

// localConfig is what the test proxy takes from envoy/local.yaml: the
// ext_authz filter config and the routes.
type localConfig struct {
	extAuthz *ext_authzv3.ExtAuthz
	routes   *envoymodel.RouteTable
}

// loadLocalConfig decodes envoy/local.yaml with the project's strict
// validator and picks out the ext_authz filter and the route table.
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
			if lc.routes, err = envoymodel.NewRouteTable(m.GetRouteConfig()); err != nil {
				t.Fatalf("envoy/local.yaml routes: %v", err)
			}
		}
	}
	if lc.extAuthz == nil || lc.routes == nil {
		t.Fatal("envoy/local.yaml has no ext_authz filter or no routes")
	}
	return lc
}

// checkDeadline only guards against a hang. Envoy's own 250 ms limit is not
// enforced: a loaded test machine must not turn into a false 503.
const checkDeadline = 10 * time.Second

// proxy plays Envoy in front of the upstream: for each request it matches
// a route, builds Envoy's CheckRequest with the route's context extensions,
// calls Check over gRPC, and applies the response as one Envoy version
// does, then forwards the request as the route says or sends the local
// reply; with an access logger, it then logs the request as
// envoy.access_loggers.http_grpc would.
type proxy struct {
	srv      *httptest.Server
	filter   *envoymodel.Filter
	routes   *envoymodel.RouteTable
	authz    authv3.AuthorizationClient
	upstream string
	client   *http.Client
	logger   *envoymodel.AccessLogger // nil: no access log

	mu       sync.Mutex
	problems []string           // see wireProblems
	metadata []*structpb.Struct // CheckResponse.dynamic_metadata, one per checked request
}

// startProxy runs the proxy for version v, configured from envoy/local.yaml,
// without an access log.
func startProxy(t *testing.T, v envoymodel.Version, svc *authzService, up *upstream) *proxy {
	t.Helper()
	return startLoggingProxy(t, v, svc, up, nil)
}

// accessLogConfig is the http_grpc logger the logging proxy runs: Envoy's
// defaults, except that every entry is sent at once (buffer_size_bytes 1).
var accessLogConfig = &grpcv3.HttpGrpcAccessLogConfig{CommonConfig: &grpcv3.CommonGrpcAccessLogConfig{
	LogName:             "extauthz",
	GrpcService:         &corev3.GrpcService{TargetSpecifier: &corev3.GrpcService_EnvoyGrpc_{EnvoyGrpc: &corev3.GrpcService_EnvoyGrpc{ClusterName: "extauthz"}}},
	TransportApiVersion: corev3.ApiVersion_V3,
	BufferSizeBytes:     wrapperspb.UInt32(1),
}}

// proxyNode is the bootstrap node of the test proxy's Envoy.
var proxyNode = &corev3.Node{Id: "e2e-proxy", Cluster: "e2e"}

// startLoggingProxy is startProxy with an access logger streaming to als
// (none when als is nil).
func startLoggingProxy(t *testing.T, v envoymodel.Version, svc *authzService, up *upstream, als accesslogv3.AccessLogServiceClient) *proxy {
	t.Helper()
	lc := loadLocalConfig(t)
	f, err := envoymodel.NewFilter(v, lc.extAuthz)
	if err != nil {
		t.Fatal(err)
	}
	transport := &http.Transport{} // no proxy from the environment
	p := &proxy{
		filter: f, routes: lc.routes, authz: authv3.NewAuthorizationClient(svc.conn), upstream: up.srv.URL,
		client: &http.Client{Transport: transport},
	}
	if als != nil {
		if p.logger, err = envoymodel.NewAccessLogger(v, accessLogConfig, proxyNode, als); err != nil {
			t.Fatal(err)
		}
		ctx, cancel := context.WithCancel(context.Background())
		done := make(chan struct{})
		go func() { p.logger.Run(ctx); close(done) }()
		t.Cleanup(func() { cancel(); <-done })
	}
	p.srv = httptest.NewServer(p)
	t.Cleanup(func() { p.srv.Close(); transport.CloseIdleConnections() })
	return p
}

// ServeHTTP is the ext_authz filter followed by the router, and the access
// log when the stream ends.
func (p *proxy) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	si := envoymodel.NewStreamInfo(r, time.Now())
	h := envoymodel.NewHeaders(r)
	route, ok := p.routes.Match(r.Host, r.URL.Path)
	if !ok {
		http.Error(w, "no route", http.StatusNotFound) // Envoy's NR; local.yaml routes every path
		return
	}
	ctx, cancel := context.WithTimeout(r.Context(), checkDeadline)
	began := time.Now()
	resp, err := p.authz.Check(ctx, p.filter.CheckRequestOnRoute(r, h, route))
	took := time.Since(began)
	cancel()
	var out envoymodel.Outcome
	if err != nil {
		out = p.filter.OnError(h)
	} else {
		out = p.filter.Apply(h, resp)
	}
	si.RecordCheck(out, took)
	p.mu.Lock()
	p.problems = append(p.problems, slices.Concat(out.Ignored, reliesOnDefault(resp))...)
	p.metadata = append(p.metadata, resp.GetDynamicMetadata())
	p.mu.Unlock()
	received, sent := p.route(w, r, h, route, si, out)
	si.Complete(time.Now(), received, sent)
	if p.logger != nil {
		if err := p.logger.Log(r.Context(), si.HTTPAccessLogEntry(h)); err != nil {
			panic(fmt.Sprintf("access log: %v", err)) // the logger runs as long as the proxy
		}
	}
}

// route sends the local reply of out, or, when out allows the request, is
// the router: the same method and body, the route's path and host, the
// mutated headers. It returns the body bytes received and sent.
func (p *proxy) route(w http.ResponseWriter, r *http.Request, h *envoymodel.Headers, rt *envoymodel.Route, si *envoymodel.StreamInfo, out envoymodel.Outcome) (uint64, uint64) {
	if !out.Allowed {
		for k, vs := range out.Header {
			w.Header()[k] = vs
		}
		w.WriteHeader(out.Status)
		n, _ := io.WriteString(w, out.Body)
		return 0, uint64(n)
	}
	path, _ := h.Get(":path")
	body := &countingReader{r: r.Body}
	up, err := http.NewRequestWithContext(r.Context(), r.Method, p.upstream+rt.UpstreamPath(path), body)
	if err != nil {
		http.Error(w, err.Error(), http.StatusBadGateway)
		return 0, 0
	}
	h.RewriteHost(rt.HostRewrite)
	up.Header, up.Host, up.ContentLength = h.HTTPHeader(), rt.HostRewrite, r.ContentLength
	got, err := p.client.Do(up)
	if err != nil {
		http.Error(w, "upstream: "+err.Error(), http.StatusBadGateway)
		return body.n, 0
	}
	defer got.Body.Close()
	si.RecordUpstream(got.StatusCode, strings.TrimPrefix(p.upstream, "http://"), rt.Cluster)
	for k, vs := range got.Header {
		w.Header()[k] = vs
	}
	w.WriteHeader(got.StatusCode)
	n, _ := io.Copy(w, got.Body)
	return body.n, uint64(n)
}

// countingReader counts the bytes read through it.
type countingReader struct {
	r io.Reader
	n uint64
}

func (c *countingReader) Read(b []byte) (int, error) {
	n, err := c.r.Read(b)
	c.n += uint64(n)
	return n, err
}

// checkMetadata returns the dynamic_metadata of every CheckResponse so far
// and forgets them.
func (p *proxy) checkMetadata() []*structpb.Struct {
	p.mu.Lock()
	defer p.mu.Unlock()
	got := p.metadata
	p.metadata = nil
	return got
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
