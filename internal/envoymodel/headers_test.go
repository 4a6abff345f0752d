package envoymodel

import (
	"crypto/tls"
	"net/http"
	"reflect"
	"testing"
)

func TestNewHeaders(t *testing.T) {
	r := request(http.Header{
		"Authorization":  {"Bearer a", "Bearer b"},
		"Anthropic-Beta": {"x", "y"},
		"X-Api-Key":      {"k"},
	})
	got := NewHeaders(r).Entries()
	want := []Entry{
		{":authority", "127.0.0.1:10000"},
		{":method", "POST"},
		{":path", "/v1/messages?beta=true"},
		{":scheme", "http"},
		{"anthropic-beta", "x"},
		{"anthropic-beta", "y"},                // not inline: a second entry
		{"authorization", "Bearer a,Bearer b"}, // inline: comma-joined
		{"x-api-key", "k"},
	}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("entries\n%q\nwant\n%q", got, want)
	}
	r.TLS = &tls.ConnectionState{}
	if v, _ := NewHeaders(r).Get(":scheme"); v != "https" {
		t.Errorf(":scheme over TLS = %q", v)
	}
}

func TestHeaderOperations(t *testing.T) {
	base := func() *Headers {
		return &Headers{entries: []Entry{{":path", "/"}, {"x-a", "1"}, {"authorization", "Bearer c"}, {"x-a", "2"}, {"x-b", "3"}}}
	}
	cases := []struct {
		name string
		do   func(h *Headers)
		want []Entry
	}{
		{"set removes every entry and adds one at the end", func(h *Headers) { h.set("x-a", "9") },
			[]Entry{{":path", "/"}, {"authorization", "Bearer c"}, {"x-b", "3"}, {"x-a", "9"}}},
		{"set adds an absent key at the end", func(h *Headers) { h.set("x-c", "9") },
			[]Entry{{":path", "/"}, {"x-a", "1"}, {"authorization", "Bearer c"}, {"x-a", "2"}, {"x-b", "3"}, {"x-c", "9"}}},
		{"add to an inline header comma-joins", func(h *Headers) { h.add("authorization", "Bearer s") },
			[]Entry{{":path", "/"}, {"x-a", "1"}, {"authorization", "Bearer c,Bearer s"}, {"x-a", "2"}, {"x-b", "3"}}},
		{"add to another header duplicates it", func(h *Headers) { h.add("x-b", "4") },
			[]Entry{{":path", "/"}, {"x-a", "1"}, {"authorization", "Bearer c"}, {"x-a", "2"}, {"x-b", "3"}, {"x-b", "4"}}},
		{"appendCopy comma-joins to the first entry", func(h *Headers) { h.appendCopy("x-a", "9") },
			[]Entry{{":path", "/"}, {"x-a", "1,9"}, {"authorization", "Bearer c"}, {"x-a", "2"}, {"x-b", "3"}}},
		{"appendCopy adds when absent", func(h *Headers) { h.appendCopy("x-c", "9") },
			[]Entry{{":path", "/"}, {"x-a", "1"}, {"authorization", "Bearer c"}, {"x-a", "2"}, {"x-b", "3"}, {"x-c", "9"}}},
		{"appendCopy joins cookies with a semicolon", func(h *Headers) { h.add("cookie", "a=1"); h.appendCopy("cookie", "b=2") },
			[]Entry{{":path", "/"}, {"x-a", "1"}, {"authorization", "Bearer c"}, {"x-a", "2"}, {"x-b", "3"}, {"cookie", "a=1; b=2"}}},
		{"remove drops every entry", func(h *Headers) { h.remove("x-a") },
			[]Entry{{":path", "/"}, {"authorization", "Bearer c"}, {"x-b", "3"}}},
	}
	for _, c := range cases {
		h := base()
		c.do(h)
		if !reflect.DeepEqual(h.entries, c.want) {
			t.Errorf("%s:\n%q\nwant\n%q", c.name, h.entries, c.want)
		}
	}
	r := NewHeaders(request(nil))
	r.RewriteHost("api.anthropic.com")
	if got, _ := r.Get(":authority"); got != "api.anthropic.com" {
		t.Errorf("RewriteHost: :authority %q", got)
	}
	h := base()
	if got := h.HTTPHeader(); !reflect.DeepEqual(got, http.Header{"X-A": {"1", "2"}, "Authorization": {"Bearer c"}, "X-B": {"3"}}) {
		t.Errorf("HTTPHeader = %v", got)
	}
	if got := h.Values("x-a"); !reflect.DeepEqual(got, []string{"1", "2"}) {
		t.Errorf("Values = %q", got)
	}
	c := h.Clone()
	c.set("x-b", "changed")
	if v, _ := h.Get("x-b"); v != "3" {
		t.Error("Clone shares entries with the original")
	}
}
