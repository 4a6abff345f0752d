package envoymodel

import (
	"context"
	"errors"
	"net"
	"net/http"
	"reflect"
	"testing"

	corev3 "github.com/envoyproxy/go-control-plane/envoy/config/core/v3"
	ext_authzv3 "github.com/envoyproxy/go-control-plane/envoy/extensions/filters/http/ext_authz/v3"
	matcherv3 "github.com/envoyproxy/go-control-plane/envoy/type/matcher/v3"
)

func patterns(ms ...*matcherv3.StringMatcher) *matcherv3.ListStringMatcher {
	return &matcherv3.ListStringMatcher{Patterns: ms}
}

func exact(s string) *matcherv3.StringMatcher {
	return &matcherv3.StringMatcher{MatchPattern: &matcherv3.StringMatcher_Exact{Exact: s}}
}

// clientHeaders are what a sandboxed client sends, with a repeated beta and
// a byte that is not UTF-8.
var clientHeaders = http.Header{
	"Anthropic-Beta":    {"tools-2024-04-04", "files-api-2025-04-14"},
	"Anthropic-Version": {"2023-06-01"},
	"X-Api-Key":         {"placeholder"},
	"X-Odd":             {"a\xffb"},
}

func TestCheckRequestWithAllowedHeaders(t *testing.T) {
	r := request(clientHeaders)
	r.RemoteAddr = "127.0.0.1:40000"
	r = r.WithContext(context.WithValue(r.Context(), http.LocalAddrContextKey, &net.TCPAddr{IP: net.IPv4(127, 0, 0, 1), Port: 10000}))
	f := filter(t, Envoy139, &ext_authzv3.ExtAuthz{AllowedHeaders: patterns(exact("anthropic-beta"))})
	req := f.CheckRequest(r, NewHeaders(r))
	http := req.GetAttributes().GetRequest().GetHttp()
	if got := http.GetHeaders(); !reflect.DeepEqual(got, map[string]string{"anthropic-beta": "tools-2024-04-04,files-api-2025-04-14"}) {
		t.Errorf("headers = %q: want only anthropic-beta, comma-joined (no :authority either)", got)
	}
	if http.GetHeaderMap() != nil {
		t.Error("header_map set without encode_raw_headers")
	}
	if http.GetHost() != "127.0.0.1:10000" || http.GetMethod() != "POST" || http.GetPath() != "/v1/messages?beta=true" ||
		http.GetScheme() != "http" || http.GetProtocol() != "HTTP/1.1" || http.GetId() == "" {
		t.Errorf("attributes: host %q method %q path %q scheme %q protocol %q id %q",
			http.GetHost(), http.GetMethod(), http.GetPath(), http.GetScheme(), http.GetProtocol(), http.GetId())
	}
	if src := req.GetAttributes().GetSource().GetAddress().GetSocketAddress(); src.GetAddress() != "127.0.0.1" || src.GetPortValue() != 40000 {
		t.Errorf("source %v", src)
	}
	if dst := req.GetAttributes().GetDestination().GetAddress().GetSocketAddress(); dst.GetPortValue() != 10000 {
		t.Errorf("destination %v", dst)
	}
	if req.GetAttributes().GetRequest().GetTime() == nil {
		t.Error("no request time")
	}
	if err := req.ValidateAll(); err != nil {
		t.Errorf("the CheckRequest does not validate: %v", err)
	}
}

func TestCheckRequestWithoutAllowedHeadersSendsEverything(t *testing.T) {
	r := request(clientHeaders)
	r.Header.Set("X-Envoy-Auth-Partial-Body", "true") // a client's copy of Envoy's own header
	f := filter(t, Envoy136, &ext_authzv3.ExtAuthz{DisallowedHeaders: patterns(exact("anthropic-version"))})
	got := f.CheckRequest(r, NewHeaders(r)).GetAttributes().GetRequest().GetHttp().GetHeaders()
	want := map[string]string{
		":authority": "127.0.0.1:10000", ":method": "POST", ":path": "/v1/messages?beta=true", ":scheme": "http",
		"anthropic-beta": "tools-2024-04-04,files-api-2025-04-14",
		"x-api-key":      "placeholder", // every header, credentials included: why the configs set allowed_headers
		"x-odd":          "a!b",
	}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("headers\n%q\nwant\n%q", got, want)
	}
}

func TestCheckRequestRawHeaders(t *testing.T) {
	r := request(clientHeaders)
	f := filter(t, Envoy137, &ext_authzv3.ExtAuthz{
		EncodeRawHeaders: true,
		AllowedHeaders:   patterns(exact("anthropic-beta"), exact("x-odd"), exact(":authority")),
	})
	http := f.CheckRequest(r, NewHeaders(r)).GetAttributes().GetRequest().GetHttp()
	if http.GetHeaders() != nil {
		t.Error("headers set with encode_raw_headers")
	}
	want := []*corev3.HeaderValue{
		{Key: ":authority", RawValue: []byte("127.0.0.1:10000")},
		{Key: "anthropic-beta", RawValue: []byte("tools-2024-04-04")},
		{Key: "anthropic-beta", RawValue: []byte("files-api-2025-04-14")},
		{Key: "x-odd", RawValue: []byte("a\xffb")},
	}
	got := http.GetHeaderMap().GetHeaders()
	if len(got) != len(want) {
		t.Fatalf("header_map has %d entries, want %d: %v", len(got), len(want), got)
	}
	for i := range want {
		if got[i].GetKey() != want[i].GetKey() || string(got[i].GetRawValue()) != string(want[i].GetRawValue()) || got[i].GetValue() != "" {
			t.Errorf("header_map[%d] = %v, want %v", i, got[i], want[i])
		}
	}
}

func TestHeaderMatchers(t *testing.T) {
	sm := func(p *matcherv3.StringMatcher, ignoreCase bool) *matcherv3.StringMatcher {
		p.IgnoreCase = ignoreCase
		return p
	}
	regex := func(re string) *matcherv3.StringMatcher {
		return &matcherv3.StringMatcher{MatchPattern: &matcherv3.StringMatcher_SafeRegex{SafeRegex: &matcherv3.RegexMatcher{Regex: re}}}
	}
	cases := []struct {
		matcher *matcherv3.StringMatcher
		matches []string
		misses  []string
	}{
		{exact("anthropic-beta"), []string{"anthropic-beta"}, []string{"anthropic-beta-x", "x-anthropic-beta"}},
		{sm(exact("Anthropic-Beta"), true), []string{"anthropic-beta"}, []string{"anthropic-version"}},
		{sm(exact("Anthropic-Beta"), false), nil, []string{"anthropic-beta"}},
		{sm(&matcherv3.StringMatcher{MatchPattern: &matcherv3.StringMatcher_Prefix{Prefix: "anthropic-"}}, false), []string{"anthropic-beta", "anthropic-version"}, []string{"x-anthropic-"}},
		{sm(&matcherv3.StringMatcher{MatchPattern: &matcherv3.StringMatcher_Suffix{Suffix: "-KEY"}}, true), []string{"x-api-key"}, []string{"x-api-keys"}},
		{sm(&matcherv3.StringMatcher{MatchPattern: &matcherv3.StringMatcher_Contains{Contains: "api"}}, false), []string{"x-api-key"}, []string{"authorization"}},
		{regex("anthropic-(beta|version)"), []string{"anthropic-beta", "anthropic-version"}, []string{"anthropic-beta2", "xanthropic-beta"}},
	}
	for i, c := range cases {
		f := filter(t, Envoy139, &ext_authzv3.ExtAuthz{AllowedHeaders: patterns(c.matcher)})
		for _, k := range c.matches {
			if !anyMatch(f.allowed, k) {
				t.Errorf("matcher %d does not match %q", i, k)
			}
		}
		for _, k := range c.misses {
			if anyMatch(f.allowed, k) {
				t.Errorf("matcher %d matches %q", i, k)
			}
		}
	}
	if _, err := NewFilter(Envoy139, &ext_authzv3.ExtAuthz{AllowedHeaders: patterns(regex("a(b"))}); !errors.Is(err, ErrUnsupported) {
		t.Errorf("a bad regex: %v, want ErrUnsupported", err)
	}
	// allowed_headers present but empty lets nothing through.
	r := request(clientHeaders)
	f := filter(t, Envoy139, &ext_authzv3.ExtAuthz{AllowedHeaders: patterns()})
	if got := f.CheckRequest(r, NewHeaders(r)).GetAttributes().GetRequest().GetHttp().GetHeaders(); len(got) != 0 {
		t.Errorf("an empty allow list sent %q", got)
	}
}
