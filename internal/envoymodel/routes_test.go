package envoymodel

import (
	"maps"
	"testing"

	routev3 "github.com/envoyproxy/go-control-plane/envoy/config/route/v3"
	ext_authzv3 "github.com/envoyproxy/go-control-plane/envoy/extensions/filters/http/ext_authz/v3"
	"google.golang.org/protobuf/types/known/anypb"
)

func perRouteConfig(t *testing.T, pr *ext_authzv3.ExtAuthzPerRoute) map[string]*anypb.Any {
	t.Helper()
	a, err := anypb.New(pr)
	if err != nil {
		t.Fatal(err)
	}
	return map[string]*anypb.Any{ExtAuthzFilterName: a}
}

func checkSettings(ext map[string]string) *ext_authzv3.ExtAuthzPerRoute {
	return &ext_authzv3.ExtAuthzPerRoute{Override: &ext_authzv3.ExtAuthzPerRoute_CheckSettings{
		CheckSettings: &ext_authzv3.CheckSettings{ContextExtensions: ext}}}
}

// TestRouteTable: the first matching route in order, the exact domain
// before "*", the route's context extensions over the virtual host's, and
// the prefix rewrite.
func TestRouteTable(t *testing.T) {
	route := func(prefix, rewrite, credential string) *routev3.Route {
		return &routev3.Route{
			Match: &routev3.RouteMatch{PathSpecifier: &routev3.RouteMatch_Prefix{Prefix: prefix}},
			Action: &routev3.Route_Route{Route: &routev3.RouteAction{
				ClusterSpecifier: &routev3.RouteAction_Cluster{Cluster: "anthropic_api"},
				PrefixRewrite:    rewrite, HostRewriteSpecifier: &routev3.RouteAction_HostRewriteLiteral{HostRewriteLiteral: "api.anthropic.com"},
			}},
			TypedPerFilterConfig: perRouteConfig(t, checkSettings(map[string]string{"credential": credential})),
		}
	}
	rc := &routev3.RouteConfiguration{VirtualHosts: []*routev3.VirtualHost{
		{Name: "any", Domains: []string{"*"}, Routes: []*routev3.Route{route("/team-b/", "/", "team-b"), route("/", "", "team-a")},
			TypedPerFilterConfig: perRouteConfig(t, checkSettings(map[string]string{"credential": "default", "virtual_host": "any"}))},
		{Name: "exact", Domains: []string{"agents.example"}, Routes: []*routev3.Route{route("/", "", "team-c")}},
	}}
	table, err := NewRouteTable(rc)
	if err != nil {
		t.Fatal(err)
	}
	for _, c := range []struct {
		authority, path, credential, upstream string
	}{
		{"127.0.0.1:10000", "/team-b/v1/messages", "team-b", "/v1/messages"},
		{"127.0.0.1:10000", "/v1/messages", "team-a", "/v1/messages"},
		{"AGENTS.example", "/team-b/v1/messages", "team-c", "/team-b/v1/messages"},
	} {
		r, ok := table.Match(c.authority, c.path)
		if !ok {
			t.Fatalf("%s%s matched no route", c.authority, c.path)
		}
		want := map[string]string{"credential": c.credential}
		if c.credential != "team-c" {
			want["virtual_host"] = "any"
		}
		if !maps.Equal(r.ContextExtensions, want) || r.UpstreamPath(c.path) != c.upstream {
			t.Errorf("%s%s: extensions %v, upstream path %q; want %v, %q", c.authority, c.path, r.ContextExtensions, r.UpstreamPath(c.path), want, c.upstream)
		}
	}
}
