package config

import (
	"maps"
	"os"
	"slices"
	"strings"
)

// Env is the environment the configuration is read from: a lookup of one
// variable, and the names of every variable that is set. Load needs the
// names to refuse a per-credential variable (EXTAUTHZ_<NAME>_…) for a name
// that EXTAUTHZ_CREDENTIALS does not list, which no lookup can find.
type Env struct {
	lookup func(string) (string, bool)
	names  func() []string
}

// OSEnv is the process environment.
func OSEnv() Env {
	return Env{lookup: os.LookupEnv, names: func() []string {
		var names []string
		for _, kv := range os.Environ() {
			if k, _, ok := strings.Cut(kv, "="); ok {
				names = append(names, k)
			}
		}
		return names
	}}
}

// MapEnv is an environment of exactly the variables in m (tests, dev).
func MapEnv(m map[string]string) Env {
	return Env{
		lookup: func(k string) (string, bool) { v, ok := m[k]; return v, ok },
		names:  func() []string { return slices.Sorted(maps.Keys(m)) },
	}
}

// Lookup returns the value of key and whether it is set.
func (e Env) Lookup(key string) (string, bool) {
	if e.lookup == nil {
		return "", false
	}
	return e.lookup(key)
}

// Names returns the names of the variables that are set.
func (e Env) Names() []string {
	if e.names == nil {
		return nil
	}
	return e.names()
}

// With returns e with the variables of over set on top, and only those of
// e's variables for which keep returns true (dev mode passes EXTAUTHZ_* and
// OTEL_* through and replaces the credentials with the emulator's).
func (e Env) With(over map[string]string, keep func(key string) bool) Env {
	return Env{
		lookup: func(k string) (string, bool) {
			if v, ok := over[k]; ok {
				return v, true
			}
			if keep(k) {
				return e.Lookup(k)
			}
			return "", false
		},
		names: func() []string {
			names := slices.Collect(maps.Keys(over))
			for _, k := range e.Names() {
				if _, dup := over[k]; !dup && keep(k) {
					names = append(names, k)
				}
			}
			slices.Sort(names)
			return names
		},
	}
}
