package config

import (
	"slices"
	"testing"
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
