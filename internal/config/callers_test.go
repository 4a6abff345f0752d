package config

import (
	"maps"
	"path/filepath"
	"slices"
	"testing"

	"extauthz/internal/testpki"
)

// TestExposedListenersMustVerifyCallers: a listener that the network can
// reach needs mTLS, or an explicit statement that a mesh proxy does it.
func TestExposedListenersMustVerifyCallers(t *testing.T) {
	cases := []struct {
		name string
		set  map[string]string
		want []string
	}{
		{"loopback", map[string]string{"EXTAUTHZ_GRPC_ADDR": "127.0.0.1:9191", "EXTAUTHZ_ADMIN_ADDR": "[::1]:9193"}, nil},
		{"localhost", map[string]string{"EXTAUTHZ_GRPC_ADDR": "localhost:9191"}, nil},
		{"unix", map[string]string{"EXTAUTHZ_GRPC_ADDR": "unix:/run/extauthz/extauthz.sock", "EXTAUTHZ_ADMIN_ADDR": "unix:/run/extauthz/admin.sock"}, nil},
		{"admin off", map[string]string{"EXTAUTHZ_ADMIN_ADDR": "OFF"}, nil},
		{"wildcard", map[string]string{"EXTAUTHZ_GRPC_ADDR": "0.0.0.0:9191"}, []string{"EXTAUTHZ_GRPC_ADDR"}},
		{"empty host", map[string]string{"EXTAUTHZ_GRPC_ADDR": ":9191"}, []string{"EXTAUTHZ_GRPC_ADDR"}},
		{"IPv6 wildcard", map[string]string{"EXTAUTHZ_GRPC_ADDR": "[::]:9191"}, []string{"EXTAUTHZ_GRPC_ADDR"}},
		{"interface address", map[string]string{"EXTAUTHZ_GRPC_ADDR": "10.0.0.7:9191"}, []string{"EXTAUTHZ_GRPC_ADDR"}},
		{"host name", map[string]string{"EXTAUTHZ_GRPC_ADDR": "extauthz:9191"}, []string{"EXTAUTHZ_GRPC_ADDR"}},
		{"IPv4-mapped loopback", map[string]string{"EXTAUTHZ_GRPC_ADDR": "[::ffff:127.0.0.1]:9191"}, nil},
		{"admin wildcard", map[string]string{"EXTAUTHZ_ADMIN_ADDR": "0.0.0.0:9193"}, []string{"EXTAUTHZ_ADMIN_ADDR"}},
		{"both wildcard, opted out", map[string]string{"EXTAUTHZ_GRPC_ADDR": "0.0.0.0:9191", "EXTAUTHZ_ADMIN_ADDR": "0.0.0.0:9193",
			"EXTAUTHZ_ALLOW_UNAUTHENTICATED_CALLERS": "true"}, nil},
		{"opt-out not a boolean", map[string]string{"EXTAUTHZ_ALLOW_UNAUTHENTICATED_CALLERS": "yes please"}, []string{"EXTAUTHZ_ALLOW_UNAUTHENTICATED_CALLERS"}},
		{"key without certificate", map[string]string{"EXTAUTHZ_TLS_KEY_FILE": "/tls/key.pem"}, []string{"EXTAUTHZ_TLS_CERT_FILE"}},
		{"certificate without key", map[string]string{"EXTAUTHZ_TLS_CERT_FILE": "/tls/cert.pem"}, []string{"EXTAUTHZ_TLS_KEY_FILE"}},
		{"client CA without a server certificate", map[string]string{"EXTAUTHZ_TLS_CLIENT_CA_FILE": "/tls/ca.pem"}, []string{"EXTAUTHZ_TLS_CLIENT_CA_FILE"}},
		{"caller list of commas", map[string]string{"EXTAUTHZ_ALLOWED_CALLERS": " , "}, []string{"EXTAUTHZ_ALLOWED_CALLERS"}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			m := map[string]string{"ANTHROPIC_API_KEY": "sk-ant-api03-k.k"}
			for k, v := range c.set {
				m[k] = v
			}
			if got := problemVars(t, m); !slices.Equal(got, c.want) {
				t.Errorf("problems name %q, want %q", got, c.want)
			}
		})
	}
}

func TestLoopback(t *testing.T) {
	for addr, want := range map[string]bool{
		"127.0.0.1:9191": true, "[::1]:9191": true, "localhost:1": true,
		"0.0.0.0:9191": false, ":9191": false, "unix:/x.sock": false, "off": false, "10.1.2.3:9": false,
	} {
		if got := Loopback(addr); got != want {
			t.Errorf("Loopback(%q) = %v, want %v", addr, got, want)
		}
	}
}

// tlsEnv writes a server pair and a client CA and returns the variables
// that name them, plus another pair's key (a mismatch).
func tlsEnv(t *testing.T) (env map[string]string, otherKey string) {
	t.Helper()
	dir := t.TempDir()
	ca := testpki.NewCA(t, "extauthz test CA")
	server, other := ca.Issue(t, testpki.Leaf{DNSNames: []string{"extauthz"}}), ca.Issue(t, testpki.Leaf{CommonName: "other"})
	return map[string]string{
		"ANTHROPIC_API_KEY":           "sk-ant-api03-k.k",
		"EXTAUTHZ_GRPC_ADDR":          "0.0.0.0:9191",
		"EXTAUTHZ_ADMIN_ADDR":         "off",
		"EXTAUTHZ_TLS_CERT_FILE":      testpki.WriteFile(t, dir, "tls.crt", server.CertPEM),
		"EXTAUTHZ_TLS_KEY_FILE":       testpki.WriteFile(t, dir, "tls.key", server.KeyPEM),
		"EXTAUTHZ_TLS_CLIENT_CA_FILE": testpki.WriteFile(t, dir, "ca.crt", ca.PEM),
	}, testpki.WriteFile(t, dir, "other.key", other.KeyPEM)
}

// TestTLSAndCallerProblems: unreadable or mismatched TLS files and
// malformed or impossible caller entries exit 2 naming the variable.
func TestTLSAndCallerProblems(t *testing.T) {
	good, otherKey := tlsEnv(t)
	good["EXTAUTHZ_ALLOWED_CALLERS"] = "spiffe://cluster.local/ns/istio-system/sa/egress, dns:envoy.internal"
	if got := problemVars(t, good); len(got) != 0 {
		t.Fatalf("a valid mTLS configuration: problems name %q", got)
	}
	missing := filepath.Join(t.TempDir(), "missing.pem")
	garbage := testpki.WriteFile(t, t.TempDir(), "garbage.pem", []byte("not pem at all"))
	cases := []struct {
		name string
		set  map[string]string
		want []string
	}{
		{"unreadable certificate", map[string]string{"EXTAUTHZ_TLS_CERT_FILE": missing}, []string{"EXTAUTHZ_TLS_CERT_FILE"}},
		{"certificate not PEM", map[string]string{"EXTAUTHZ_TLS_CERT_FILE": garbage}, []string{"EXTAUTHZ_TLS_CERT_FILE"}},
		{"key of another certificate", map[string]string{"EXTAUTHZ_TLS_KEY_FILE": otherKey}, []string{"EXTAUTHZ_TLS_KEY_FILE"}},
		{"unreadable client CA", map[string]string{"EXTAUTHZ_TLS_CLIENT_CA_FILE": missing}, []string{"EXTAUTHZ_TLS_CLIENT_CA_FILE"}},
		{"client CA not PEM", map[string]string{"EXTAUTHZ_TLS_CLIENT_CA_FILE": garbage}, []string{"EXTAUTHZ_TLS_CLIENT_CA_FILE"}},
		{"malformed caller", map[string]string{"EXTAUTHZ_ALLOWED_CALLERS": "spiffe://Cluster.local/ns/a"}, []string{"EXTAUTHZ_ALLOWED_CALLERS"}},
		{"caller without a scheme", map[string]string{"EXTAUTHZ_ALLOWED_CALLERS": "envoy"}, []string{"EXTAUTHZ_ALLOWED_CALLERS"}},
		{"uid on a TCP listener", map[string]string{"EXTAUTHZ_ALLOWED_CALLERS": "uid:101"}, []string{"EXTAUTHZ_ALLOWED_CALLERS"}},
		{"SAN entry without a client CA", map[string]string{"EXTAUTHZ_TLS_CLIENT_CA_FILE": "", "EXTAUTHZ_GRPC_ADDR": "127.0.0.1:9191",
			"EXTAUTHZ_ALLOWED_CALLERS": "dns:envoy.internal"}, []string{"EXTAUTHZ_ALLOWED_CALLERS"}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			m := maps.Clone(good)
			maps.Copy(m, c.set)
			if got := problemVars(t, m); !slices.Equal(got, c.want) {
				t.Errorf("problems name %q, want %q", got, c.want)
			}
		})
	}
	m := maps.Clone(good)
	m["EXTAUTHZ_GRPC_ADDR"], m["EXTAUTHZ_ALLOWED_CALLERS"] = "unix:/run/extauthz/extauthz.sock", "uid:101,gid:101"
	if got := problemVars(t, m); len(got) != 0 {
		t.Errorf("uid and gid entries on a unix socket: problems name %q", got)
	}
}
