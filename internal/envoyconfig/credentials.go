package envoyconfig

import (
	"fmt"
	"regexp"
	"slices"

	ext_authzv3 "github.com/envoyproxy/go-control-plane/envoy/extensions/filters/http/ext_authz/v3"
	hcmv3 "github.com/envoyproxy/go-control-plane/envoy/extensions/filters/network/http_connection_manager/v3"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/types/known/anypb"
)

// CredentialKey is the context_extensions key that selects one of extauthz's credentials for a
// route or virtual host (design.md "Several credentials").
const CredentialKey = "credential"

// credentialName is the grammar of a credential name (EXTAUTHZ_CREDENTIALS).
var credentialName = regexp.MustCompile(`^[a-z][a-z0-9-]{0,31}$`)

// Envoy hands a route's ExtAuthzPerRoute.check_settings.context_extensions to the authorization
// service in attributes.context_extensions, merged with the virtual host's, the most specific
// value of a key winning (source/extensions/filters/http/ext_authz/ext_authz.h
// FilterConfigPerRoute; ext_authz.cc Filter::initiateCall; read for
// docs/envoy-versions.md). So the credential a route uses is its own
// "credential" entry, else its virtual host's.

// credentialOf returns the credential an ext_authz per-filter config selects, if any.
func credentialOf(perFilter map[string]*anypb.Any, authzFilters map[string]bool) (string, bool) {
	for name, a := range perFilter {
		if !authzFilters[name] {
			continue
		}
		pr := new(ext_authzv3.ExtAuthzPerRoute)
		if a.UnmarshalTo(pr) != nil {
			continue
		}
		if v, ok := pr.GetCheckSettings().GetContextExtensions()[CredentialKey]; ok {
			return v, true
		}
	}
	return "", false
}

// credentialSelection checks the routes of one connection manager: a selected name must be a
// valid credential name, and once any route or virtual host selects a credential, every route
// that forwards must select one. With several credentials configured and no selection, extauthz
// answers 403 (design.md "Several credentials"), so a route left out would fail every request.
func (c *checker) credentialSelection(path string, m *hcmv3.HttpConnectionManager) {
	filters := authzFilterNames(m)
	type route struct {
		path, credential string
		selected         bool
	}
	var routes []route
	selects := false
	for i, vh := range m.GetRouteConfig().GetVirtualHosts() {
		vhPath := fmt.Sprintf("%s.route_config.virtual_hosts[%s]", path, nameOr(vh.GetName(), i))
		vhCred, vhOK := credentialOf(vh.GetTypedPerFilterConfig(), filters)
		if vhOK {
			selects = true
			c.credentialName(vhPath+".typed_per_filter_config", vhCred)
		}
		for j, r := range vh.GetRoutes() {
			rPath := fmt.Sprintf("%s.routes[%s]", vhPath, nameOr(r.GetName(), j))
			cred, ok := credentialOf(r.GetTypedPerFilterConfig(), filters)
			if ok {
				selects = true
				c.credentialName(rPath+".typed_per_filter_config", cred)
			} else {
				cred, ok = vhCred, vhOK
			}
			if r.GetRoute() != nil {
				routes = append(routes, route{rPath, cred, ok})
			}
		}
	}
	if !selects {
		return // one credential: extauthz uses the only one
	}
	for _, r := range routes {
		if !r.selected {
			c.add(r.path, ErrCredentialSelection,
				"other routes select a credential through context_extensions %q and this one does not: with several credentials extauthz answers it 403", CredentialKey)
		}
	}
}

func (c *checker) credentialName(path, name string) {
	if !credentialName.MatchString(name) {
		c.add(path, ErrCredentialSelection, "%q is not a credential name ([a-z][a-z0-9-]{0,31})", name)
	}
}

// authzFilterNames returns the names of a connection manager's ext_authz filters, the keys a
// per-filter config must use.
func authzFilterNames(m *hcmv3.HttpConnectionManager) map[string]bool {
	names := make(map[string]bool)
	for _, f := range m.GetHttpFilters() {
		if f.GetTypedConfig().MessageIs(new(ext_authzv3.ExtAuthz)) {
			names[f.GetName()] = true
		}
	}
	return names
}

func nameOr(name string, i int) string {
	if name != "" {
		return name
	}
	return fmt.Sprint(i)
}

// Credentials returns, sorted and without repeats, the credential names the routes and virtual
// hosts of cfg select through context_extensions "credential"; nil for a single-credential config.
func Credentials(cfg *Config) []string {
	var names []string
	w := walker{message: func(_ string, m proto.Message) {
		hcm, ok := m.(*hcmv3.HttpConnectionManager)
		if !ok {
			return
		}
		filters := authzFilterNames(hcm)
		add := func(perFilter map[string]*anypb.Any) {
			if name, ok := credentialOf(perFilter, filters); ok {
				names = append(names, name)
			}
		}
		for _, vh := range hcm.GetRouteConfig().GetVirtualHosts() {
			add(vh.GetTypedPerFilterConfig())
			for _, r := range vh.GetRoutes() {
				add(r.GetTypedPerFilterConfig())
			}
		}
	}}
	w.walk("", cfg.Bootstrap)
	slices.Sort(names)
	return slices.Compact(names)
}
