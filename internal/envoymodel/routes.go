package envoymodel

import (
	"fmt"
	"maps"
	"strings"

	routev3 "github.com/envoyproxy/go-control-plane/envoy/config/route/v3"
	ext_authzv3 "github.com/envoyproxy/go-control-plane/envoy/extensions/filters/http/ext_authz/v3"
	"google.golang.org/protobuf/types/known/anypb"
)

// ExtAuthzFilterName is the http_filters name whose typed_per_filter_config
// entries the model reads (the shipped configs use the canonical name).
const ExtAuthzFilterName = "envoy.filters.http.ext_authz"

// Route is what the router and the ext_authz filter take from the route a
// request matched.
type Route struct {
	// Cluster is the route's cluster.
	Cluster string
	// HostRewrite is host_rewrite_literal ("" when unset).
	HostRewrite string
	// Prefix is the matched prefix; PrefixRewrite replaces it upstream
	// when set.
	Prefix, PrefixRewrite string
	// ContextExtensions are the ext_authz check settings' context
	// extensions of the virtual host and the route, merged: the route's
	// keys win (Envoy's FilterConfigPerRoute merging constructor in
	// ext_authz.h, used by Filter::initiateCall in ext_authz.cc, which
	// hands them to CheckRequestUtils::createHttpCheck).
	ContextExtensions map[string]string
	// AuthzDisabled is ExtAuthzPerRoute.disabled on the route or host.
	AuthzDisabled bool
}

// UpstreamPath is path as the router sends it: the matched prefix replaced
// by PrefixRewrite, if the route sets one.
func (r *Route) UpstreamPath(path string) string {
	if r.PrefixRewrite == "" {
		return path
	}
	return r.PrefixRewrite + strings.TrimPrefix(path, r.Prefix)
}

// RouteTable is a static route_config: its virtual hosts, each with its
// routes in order.
type RouteTable struct {
	hosts []virtualHost
}

type virtualHost struct {
	domains []string
	routes  []Route
}

// NewRouteTable models rc. It covers what the shipped configs use: domain
// "*" or exact domains, prefix matches, host_rewrite_literal,
// prefix_rewrite and ExtAuthzPerRoute; anything else is ErrUnsupported.
func NewRouteTable(rc *routev3.RouteConfiguration) (*RouteTable, error) {
	t := &RouteTable{}
	for _, vh := range rc.GetVirtualHosts() {
		hostSettings, err := perRoute(vh.GetTypedPerFilterConfig())
		if err != nil {
			return nil, fmt.Errorf("virtual host %s: %w", vh.GetName(), err)
		}
		h := virtualHost{domains: vh.GetDomains()}
		for _, r := range vh.GetRoutes() {
			prefix, ok := r.GetMatch().GetPathSpecifier().(*routev3.RouteMatch_Prefix)
			if !ok || r.GetRoute() == nil {
				return nil, fmt.Errorf("%w: route %q is not a prefix match to a cluster", ErrUnsupported, r.GetName())
			}
			routeSettings, err := perRoute(r.GetTypedPerFilterConfig())
			if err != nil {
				return nil, fmt.Errorf("route %q: %w", r.GetName(), err)
			}
			ext := maps.Clone(hostSettings.GetCheckSettings().GetContextExtensions())
			if ext == nil {
				ext = map[string]string{}
			}
			maps.Copy(ext, routeSettings.GetCheckSettings().GetContextExtensions())
			h.routes = append(h.routes, Route{
				Cluster:           r.GetRoute().GetCluster(),
				HostRewrite:       r.GetRoute().GetHostRewriteLiteral(),
				Prefix:            prefix.Prefix,
				PrefixRewrite:     r.GetRoute().GetPrefixRewrite(),
				ContextExtensions: ext,
				AuthzDisabled:     hostSettings.GetDisabled() || routeSettings.GetDisabled(),
			})
		}
		t.hosts = append(t.hosts, h)
	}
	return t, nil
}

// perRoute decodes the ext_authz entry of a typed_per_filter_config.
func perRoute(cfg map[string]*anypb.Any) (*ext_authzv3.ExtAuthzPerRoute, error) {
	a, ok := cfg[ExtAuthzFilterName]
	if !ok {
		return nil, nil
	}
	pr := new(ext_authzv3.ExtAuthzPerRoute)
	if err := a.UnmarshalTo(pr); err != nil {
		return nil, fmt.Errorf("%w: %s per-route config: %v", ErrUnsupported, ExtAuthzFilterName, err)
	}
	return pr, nil
}

// Match returns the route for a request to authority and path: the
// virtual host with the authority among its domains, else the one with
// "*" (suffix and prefix wildcards are not modelled), then its first route
// whose prefix path starts with (Envoy matches routes in order,
// config_impl.cc VirtualHostImpl::getRouteFromEntries).
func (t *RouteTable) Match(authority, path string) (*Route, bool) {
	for _, wildcard := range []bool{false, true} {
		for _, h := range t.hosts {
			for _, d := range h.domains {
				if wildcard && d == "*" || !wildcard && strings.EqualFold(d, authority) {
					return h.route(path)
				}
			}
		}
	}
	return nil, false
}

// route is the host's first route whose prefix path starts with.
func (h *virtualHost) route(path string) (*Route, bool) {
	for i := range h.routes {
		if strings.HasPrefix(path, h.routes[i].Prefix) {
			return &h.routes[i], true
		}
	}
	return nil, false
}
