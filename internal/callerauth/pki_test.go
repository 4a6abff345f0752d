package callerauth

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"math/big"
	"net"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// testCA is a certificate authority made for one test (ECDSA P-256).
type testCA struct {
	cert *x509.Certificate
	key  *ecdsa.PrivateKey
	pem  []byte
}

func newCA(t testing.TB, name string) *testCA {
	t.Helper()
	key := newKey(t)
	tmpl := &x509.Certificate{
		SerialNumber:          newSerial(t),
		Subject:               pkix.Name{CommonName: name},
		NotBefore:             time.Now().Add(-time.Hour),
		NotAfter:              time.Now().Add(24 * time.Hour),
		IsCA:                  true,
		BasicConstraintsValid: true,
		KeyUsage:              x509.KeyUsageCertSign,
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	cert, err := x509.ParseCertificate(der)
	if err != nil {
		t.Fatal(err)
	}
	return &testCA{cert: cert, key: key, pem: pemBlock("CERTIFICATE", der)}
}

// leaf describes a certificate to issue.
type leaf struct {
	cn       string
	dns      []string
	uris     []string
	ips      []net.IP
	notAfter time.Time // zero: a day from now
}

// issued is a certificate and its key, PEM-encoded.
type issued struct {
	cert    *x509.Certificate
	certPEM []byte // leaf, then the CA (a chain)
	keyPEM  []byte
}

// issue signs a certificate usable by servers and clients alike.
func (ca *testCA) issue(t testing.TB, l leaf) issued {
	t.Helper()
	key := newKey(t)
	tmpl := &x509.Certificate{
		SerialNumber: newSerial(t),
		Subject:      pkix.Name{CommonName: l.cn},
		NotBefore:    time.Now().Add(-2 * time.Hour),
		NotAfter:     l.notAfter,
		DNSNames:     l.dns,
		IPAddresses:  l.ips,
		KeyUsage:     x509.KeyUsageDigitalSignature,
		ExtKeyUsage:  []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth, x509.ExtKeyUsageClientAuth},
	}
	if tmpl.NotAfter.IsZero() {
		tmpl.NotAfter = time.Now().Add(24 * time.Hour)
	}
	for _, u := range l.uris {
		pu, err := url.Parse(u)
		if err != nil {
			t.Fatal(err)
		}
		tmpl.URIs = append(tmpl.URIs, pu)
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, ca.cert, &key.PublicKey, ca.key)
	if err != nil {
		t.Fatal(err)
	}
	cert, err := x509.ParseCertificate(der)
	if err != nil {
		t.Fatal(err)
	}
	keyDER, err := x509.MarshalPKCS8PrivateKey(key)
	if err != nil {
		t.Fatal(err)
	}
	keyPEM := pemBlock("PRIVATE KEY", keyDER)
	suiteLogs.Remember(keyMaterial(keyPEM)...)
	chain := append(pemBlock("CERTIFICATE", der), ca.pem...)
	return issued{cert: cert, certPEM: chain, keyPEM: keyPEM}
}

// keyMaterial is the base64 lines of a PEM key: none may appear in a log.
func keyMaterial(keyPEM []byte) []string {
	lines := strings.Split(strings.TrimSpace(string(keyPEM)), "\n")
	return lines[1 : len(lines)-1]
}

func newKey(t testing.TB) *ecdsa.PrivateKey {
	t.Helper()
	k, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	return k
}

func newSerial(t testing.TB) *big.Int {
	t.Helper()
	n, err := rand.Int(rand.Reader, new(big.Int).Lsh(big.NewInt(1), 64))
	if err != nil {
		t.Fatal(err)
	}
	return n
}

func pemBlock(typ string, der []byte) []byte {
	return pem.EncodeToMemory(&pem.Block{Type: typ, Bytes: der})
}

// serverName is the name the test server's certificates carry.
const serverName = "extauthz.test"

// serverLeaf is a server certificate for the test server.
var serverLeaf = leaf{cn: serverName, dns: []string{serverName}, ips: []net.IP{net.IPv4(127, 0, 0, 1)}}

// writeFile writes b to dir/name, replacing it in place (same inode) as
// cert-manager's and SPIRE's helpers do, and returns the path.
func writeFile(t testing.TB, dir, name string, b []byte) string {
	t.Helper()
	p := filepath.Join(dir, name)
	if err := os.WriteFile(p, b, 0o600); err != nil {
		t.Fatal(err)
	}
	return p
}

// pemFiles writes a server pair and, if ca is not nil, a client CA bundle
// into a fresh directory.
func pemFiles(t testing.TB, srv issued, clientCAs ...*testCA) TLSFiles {
	t.Helper()
	dir := t.TempDir()
	f := TLSFiles{
		CertFile: writeFile(t, dir, "tls.crt", srv.certPEM),
		KeyFile:  writeFile(t, dir, "tls.key", srv.keyPEM),
	}
	if len(clientCAs) > 0 {
		f.ClientCAFile = writeFile(t, dir, "ca.crt", bundle(clientCAs...))
	}
	return f
}

func bundle(cas ...*testCA) []byte {
	var b []byte
	for _, ca := range cas {
		b = append(b, ca.pem...)
	}
	return b
}
