package main

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"fmt"
	"math/big"
	"net/url"
	"os"
	"path/filepath"
	"time"
)

// The mTLS server's names: the DNS name its certificate is for (the load
// generator's ServerName, as Envoy's cluster would set its SNI) and the
// SPIFFE ID in the load generator's client certificate, which
// EXTAUTHZ_ALLOWED_CALLERS lists, as a mesh would name its Envoy.
const (
	benchServerName = "extauthz.authzbench.test"
	benchCallerID   = "spiffe://authzbench.test/ns/bench/sa/envoy"
)

// benchPKI is the mTLS set-up of the wif-mtls server, made when the
// benchmark starts: a CA, a server certificate for benchServerName and a
// client certificate with the URI SAN benchCallerID, all ECDSA P-256 and
// valid for a day. The server's files are in the benchmark's temporary
// directory; the client's pair stays in memory.
type benchPKI struct {
	caFile, certFile, keyFile string
	// client is what the load generator, the health check and the
	// preflight dial the server with: the CA as the only root, the
	// server's name and the client certificate.
	client *tls.Config
}

// newBenchPKI makes the certificates and writes the server's to dir.
func newBenchPKI(dir string) (*benchPKI, error) {
	now := time.Now()
	caKey, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return nil, err
	}
	caTmpl := &x509.Certificate{
		Subject:               pkix.Name{CommonName: "authzbench CA"},
		NotBefore:             now.Add(-time.Hour),
		NotAfter:              now.Add(24 * time.Hour),
		IsCA:                  true,
		BasicConstraintsValid: true,
		KeyUsage:              x509.KeyUsageCertSign,
	}
	ca, _, err := issue(caTmpl, caTmpl, caKey)
	if err != nil {
		return nil, fmt.Errorf("making the benchmark's CA: %w", err)
	}
	leaf := func(name string) *x509.Certificate {
		return &x509.Certificate{
			Subject:     pkix.Name{CommonName: name},
			NotBefore:   now.Add(-time.Hour),
			NotAfter:    now.Add(24 * time.Hour),
			KeyUsage:    x509.KeyUsageDigitalSignature,
			ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth, x509.ExtKeyUsageClientAuth},
		}
	}
	serverTmpl := leaf(benchServerName)
	serverTmpl.DNSNames = []string{benchServerName}
	server, serverKey, err := issue(serverTmpl, ca, caKey)
	if err != nil {
		return nil, fmt.Errorf("making the server certificate: %w", err)
	}
	caller, err := url.Parse(benchCallerID)
	if err != nil {
		return nil, err
	}
	clientTmpl := leaf("authzbench load generator")
	clientTmpl.URIs = []*url.URL{caller}
	client, clientKey, err := issue(clientTmpl, ca, caKey)
	if err != nil {
		return nil, fmt.Errorf("making the client certificate: %w", err)
	}

	p := &benchPKI{caFile: filepath.Join(dir, "ca.pem"), certFile: filepath.Join(dir, "server.pem"), keyFile: filepath.Join(dir, "server-key.pem")}
	serverKeyDER, err := x509.MarshalPKCS8PrivateKey(serverKey)
	if err != nil {
		return nil, err
	}
	for _, f := range []struct {
		path string
		pem  []byte
	}{
		{p.caFile, pemBlock("CERTIFICATE", ca.Raw)},
		{p.certFile, append(pemBlock("CERTIFICATE", server.Raw), pemBlock("CERTIFICATE", ca.Raw)...)},
		{p.keyFile, pemBlock("PRIVATE KEY", serverKeyDER)},
	} {
		if err := os.WriteFile(f.path, f.pem, 0o600); err != nil {
			return nil, err
		}
	}
	roots := x509.NewCertPool()
	roots.AddCert(ca)
	p.client = &tls.Config{
		RootCAs:      roots,
		ServerName:   benchServerName,
		MinVersion:   tls.VersionTLS12,
		Certificates: []tls.Certificate{{Certificate: [][]byte{client.Raw, ca.Raw}, PrivateKey: clientKey, Leaf: client}},
	}
	return p, nil
}

// serverEnv configures extauthz for this PKI: TLS with the server's pair,
// client certificates required and verified against the CA, and only the
// load generator's SPIFFE ID allowed to call.
func (p *benchPKI) serverEnv() []string {
	return []string{
		"EXTAUTHZ_TLS_CERT_FILE=" + p.certFile,
		"EXTAUTHZ_TLS_KEY_FILE=" + p.keyFile,
		"EXTAUTHZ_TLS_CLIENT_CA_FILE=" + p.caFile,
		"EXTAUTHZ_ALLOWED_CALLERS=" + benchCallerID,
	}
}

// issue makes a new P-256 key and a certificate for it from tmpl, signed by
// parent's key signer (tmpl == parent: self-signed by the new key).
func issue(tmpl, parent *x509.Certificate, signer *ecdsa.PrivateKey) (*x509.Certificate, *ecdsa.PrivateKey, error) {
	key := signer
	if tmpl != parent {
		var err error
		if key, err = ecdsa.GenerateKey(elliptic.P256(), rand.Reader); err != nil {
			return nil, nil, err
		}
	}
	serial, err := rand.Int(rand.Reader, new(big.Int).Lsh(big.NewInt(1), 64))
	if err != nil {
		return nil, nil, err
	}
	tmpl.SerialNumber = serial
	der, err := x509.CreateCertificate(rand.Reader, tmpl, parent, &key.PublicKey, signer)
	if err != nil {
		return nil, nil, err
	}
	cert, err := x509.ParseCertificate(der)
	if err != nil {
		return nil, nil, err
	}
	return cert, key, nil
}

func pemBlock(typ string, der []byte) []byte {
	return pem.EncodeToMemory(&pem.Block{Type: typ, Bytes: der})
}
