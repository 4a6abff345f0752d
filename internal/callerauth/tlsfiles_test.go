package callerauth

import (
	"crypto/tls"
	"crypto/x509"
	"errors"
	"io/fs"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"extauthz/internal/testpki"
)

// TestLoadServerTLSNamesTheWrongFile: each initial-load problem is a
// *FileError for the file at fault, and no message holds key material.
func TestLoadServerTLSNamesTheWrongFile(t *testing.T) {
	ca, other := newCA(t, "server CA"), newCA(t, "other CA")
	good := ca.Issue(t, serverLeaf)
	stranger := other.Issue(t, serverLeaf)
	expired := ca.Issue(t, testpki.Leaf{CommonName: serverName, DNSNames: []string{serverName}, NotAfter: time.Now().Add(-time.Minute)})
	dir := t.TempDir()
	w := func(name string, b []byte) string { return writeFile(t, dir, name, b) }
	cert, key, caFile := w("good.crt", good.CertPEM), w("good.key", good.KeyPEM), w("ca.crt", ca.PEM)
	half := good.CertPEM[:len(good.CertPEM)/3]

	type want struct {
		role FileRole
		err  error
	}
	cases := []struct {
		name  string
		files TLSFiles
		want  []want
	}{
		{"certificate unreadable", TLSFiles{CertFile: filepath.Join(dir, "missing.crt"), KeyFile: key},
			[]want{{RoleCert, fs.ErrNotExist}}},
		{"key unreadable", TLSFiles{CertFile: cert, KeyFile: filepath.Join(dir, "missing.key")},
			[]want{{RoleKey, fs.ErrNotExist}}},
		{"CA unreadable", TLSFiles{CertFile: cert, KeyFile: key, ClientCAFile: dir},
			nil}, // a directory: the error is the OS's; checked below by role only
		{"certificate not PEM", TLSFiles{CertFile: w("text.crt", []byte("hello")), KeyFile: key},
			[]want{{RoleCert, ErrNotPEM}}},
		{"certificate empty", TLSFiles{CertFile: w("empty.crt", nil), KeyFile: key},
			[]want{{RoleCert, ErrNotPEM}}},
		{"certificate half-written", TLSFiles{CertFile: w("half.crt", half), KeyFile: key},
			[]want{{RoleCert, ErrCorruptPEM}}},
		{"certificate that does not parse", TLSFiles{CertFile: w("junk.crt", testpki.Encode("CERTIFICATE", []byte("junk"))), KeyFile: key},
			[]want{{RoleCert, ErrBadCertificate}}},
		{"key not PEM", TLSFiles{CertFile: cert, KeyFile: w("text.key", []byte("hello"))},
			[]want{{RoleKey, ErrNotPEM}}},
		{"key that does not parse", TLSFiles{CertFile: cert, KeyFile: w("junk.key", testpki.Encode("PRIVATE KEY", []byte("junk")))},
			[]want{{RoleKey, ErrBadPrivateKey}}},
		{"key of another certificate", TLSFiles{CertFile: cert, KeyFile: w("stranger.key", stranger.KeyPEM)},
			[]want{{RoleKey, ErrKeyMismatch}}},
		{"files swapped", TLSFiles{CertFile: key, KeyFile: cert},
			[]want{{RoleCert, ErrNoCertificate}, {RoleKey, ErrNoPrivateKey}}},
		{"certificate expired", TLSFiles{CertFile: w("expired.crt", expired.CertPEM), KeyFile: w("expired.key", expired.KeyPEM)},
			[]want{{RoleCert, ErrExpired}}},
		{"key missing", TLSFiles{CertFile: cert},
			[]want{{RoleKey, ErrNotSet}}},
		{"certificate missing", TLSFiles{KeyFile: key},
			[]want{{RoleCert, ErrNotSet}}},
		{"CA bundle without certificates", TLSFiles{CertFile: cert, KeyFile: key, ClientCAFile: w("keyonly.PEM", good.KeyPEM)},
			[]want{{RoleClientCA, ErrNoCertificate}}},
		{"CA bundle empty", TLSFiles{CertFile: cert, KeyFile: key, ClientCAFile: w("empty.PEM", nil)},
			[]want{{RoleClientCA, ErrNotPEM}}},
		{"several at once", TLSFiles{CertFile: filepath.Join(dir, "missing.crt"), KeyFile: key, ClientCAFile: w("text.PEM", []byte("x"))},
			[]want{{RoleCert, fs.ErrNotExist}, {RoleClientCA, ErrNotPEM}}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			_, err := LoadServerTLS(c.files, TLSOptions{})
			if err == nil {
				t.Fatal("loaded")
			}
			for _, line := range good.KeyLines() {
				if strings.Contains(err.Error(), line) {
					t.Fatal("the error holds key material")
				}
			}
			got := fileErrors(err)
			if c.want == nil {
				if len(got) != 1 || got[0].Role != RoleClientCA {
					t.Fatalf("got %v, want one client CA problem", err)
				}
				return
			}
			if len(got) != len(c.want) {
				t.Fatalf("got %d problems (%v), want %d", len(got), err, len(c.want))
			}
			for i, w := range c.want {
				if got[i].Role != w.role || !errors.Is(got[i], w.err) {
					t.Errorf("problem %d: %v (role %v), want role %v and %v", i, got[i], got[i].Role, w.role, w.err)
				}
			}
		})
	}
	if _, err := LoadServerTLS(TLSFiles{CertFile: cert, KeyFile: key, ClientCAFile: caFile}, TLSOptions{}); err != nil {
		t.Errorf("good files: %v", err)
	}
}

// fileErrors unpacks errors.Join'd *FileErrors in order.
func fileErrors(err error) []*FileError {
	var out []*FileError
	errs := []error{err}
	if j, ok := err.(interface{ Unwrap() []error }); ok {
		errs = j.Unwrap()
	}
	for _, e := range errs {
		var fe *FileError
		if errors.As(e, &fe) {
			out = append(out, fe)
		}
	}
	return out
}

// TestServerConfigOffersH2: every configuration handed out offers ALPN h2,
// TLS ≥ 1.2 and, with a CA bundle, requires and verifies client
// certificates.
func TestServerConfigOffersH2(t *testing.T) {
	ca := newCA(t, "ca")
	for _, withCA := range []bool{false, true} {
		files := pemFiles(t, ca.Issue(t, serverLeaf))
		if withCA {
			files = pemFiles(t, ca.Issue(t, serverLeaf), ca)
		}
		s, err := LoadServerTLS(files, TLSOptions{})
		if err != nil {
			t.Fatal(err)
		}
		for _, cfg := range []*tlsConfigView{view(s.Config()), view(mustConfigForClient(t, s))} {
			if !cfg.h2 || cfg.minVersion < 0x0303 {
				t.Errorf("CA %v: config without h2 or below TLS 1.2: %+v", withCA, cfg)
			}
		}
		if got := view(mustConfigForClient(t, s)); got.requireClientCert != withCA || s.VerifiesClients() != withCA {
			t.Errorf("CA %v: client certificates required = %v", withCA, got.requireClientCert)
		}
	}
}

// tlsConfigView is what the tests check of a *tls.Config.
type tlsConfigView struct {
	h2                bool
	minVersion        uint16
	requireClientCert bool
}

func view(c *tls.Config) *tlsConfigView {
	return &tlsConfigView{
		h2:                slices.Contains(c.NextProtos, "h2"),
		minVersion:        c.MinVersion,
		requireClientCert: c.ClientAuth == tls.RequireAndVerifyClientCert && c.ClientCAs != nil,
	}
}

func mustConfigForClient(t *testing.T, s *ServerTLS) *tls.Config {
	t.Helper()
	c, err := s.Config().GetConfigForClient(&tls.ClientHelloInfo{})
	if err != nil || c == nil {
		t.Fatalf("GetConfigForClient: %v", err)
	}
	return c
}

// verifyAgainst are options that verify a client certificate as cfg would.
func verifyAgainst(cfg *tls.Config) x509.VerifyOptions {
	return x509.VerifyOptions{Roots: cfg.ClientCAs, KeyUsages: []x509.ExtKeyUsage{x509.ExtKeyUsageClientAuth}}
}

// FuzzTLSMaterial: whatever the files hold, parsing neither panics nor puts
// a line of their PEM bodies into an error (errors may name block types).
func FuzzTLSMaterial(f *testing.F) {
	ca := newCA(f, "ca")
	p := ca.Issue(f, serverLeaf)
	f.Add(p.CertPEM, p.KeyPEM, ca.PEM)
	f.Add(p.CertPEM[:len(p.CertPEM)/2], p.KeyPEM, []byte{})
	f.Add(p.KeyPEM, p.CertPEM, p.KeyPEM)
	f.Add([]byte("-----BEGIN CERTIFICATE-----\n-----END CERTIFICATE-----\n"), []byte("-----BEGIN EC PRIVATE KEY-----\nAAAA\n-----END EC PRIVATE KEY-----\n"), []byte("x"))
	files := TLSFiles{CertFile: "cert", KeyFile: "key", ClientCAFile: "ca"}
	f.Fuzz(func(t *testing.T, cert, key, caBundle []byte) {
		m, err := parseMaterial(files, &tlsContent{cert: cert, key: key, ca: caBundle}, time.Now())
		if err == nil {
			if m.config == nil || m.leaf == nil || !slices.Contains(m.config.NextProtos, "h2") {
				t.Fatal("material without a configuration")
			}
			return
		}
		text := err.Error()
		for _, in := range [][]byte{cert, key, caBundle} {
			for line := range strings.SplitSeq(string(in), "\n") {
				if len(line) >= 16 && !strings.HasPrefix(line, "-----") && strings.Contains(text, line) {
					t.Fatalf("the error quotes the input: %q", line)
				}
			}
		}
	})
}
