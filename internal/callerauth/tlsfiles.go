package callerauth

import (
	"bytes"
	"crypto"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/rsa"
	"crypto/sha256"
	"crypto/tls"
	"crypto/x509"
	"encoding/binary"
	"encoding/pem"
	"errors"
	"fmt"
	"io"
	"os"
	"strings"
	"time"
)

// TLSFiles are the paths of the gRPC listener's TLS material
// (EXTAUTHZ_TLS_CERT_FILE, EXTAUTHZ_TLS_KEY_FILE, EXTAUTHZ_TLS_CLIENT_CA_FILE).
type TLSFiles struct {
	// CertFile is the PEM certificate chain, leaf first.
	CertFile string
	// KeyFile is the PEM private key of the leaf (PKCS #8, PKCS #1 or SEC 1).
	KeyFile string
	// ClientCAFile, if set, is a PEM bundle: clients must present a
	// certificate that chains to one of its certificates.
	ClientCAFile string
}

// FileRole names one of the TLS files.
type FileRole int

const (
	// RoleCert is TLSFiles.CertFile (EXTAUTHZ_TLS_CERT_FILE).
	RoleCert FileRole = iota + 1
	// RoleKey is TLSFiles.KeyFile (EXTAUTHZ_TLS_KEY_FILE).
	RoleKey
	// RoleClientCA is TLSFiles.ClientCAFile (EXTAUTHZ_TLS_CLIENT_CA_FILE).
	RoleClientCA
)

// String names the file's role in words.
func (r FileRole) String() string {
	switch r {
	case RoleCert:
		return "certificate"
	case RoleKey:
		return "private key"
	case RoleClientCA:
		return "client CA bundle"
	}
	return fmt.Sprintf("FileRole(%d)", int(r))
}

// FileError is a problem with one TLS file. Its text names the file and never
// holds the file's content.
type FileError struct {
	Role FileRole
	Path string // "" when the file is not set
	Err  error
}

// Error names the role and the path, then the problem.
func (e *FileError) Error() string {
	if e.Path == "" {
		return e.Role.String() + " file: " + e.Err.Error()
	}
	return e.Role.String() + " file " + e.Path + ": " + e.Err.Error()
}

// Unwrap returns the underlying error (an fs error or one of the Err values
// below).
func (e *FileError) Unwrap() error { return e.Err }

// Problems with the content of a TLS file; FileError wraps them.
var (
	ErrNotSet         = errors.New("not set (the certificate and the key go together)")
	ErrTooLarge       = errors.New("larger than 1 MiB")
	ErrNotPEM         = errors.New("holds no PEM block")
	ErrCorruptPEM     = errors.New("has a truncated or corrupt PEM block (written half-way?)")
	ErrNoCertificate  = errors.New("holds no CERTIFICATE block")
	ErrBadCertificate = errors.New("holds a certificate that does not parse")
	ErrNoPrivateKey   = errors.New(`holds no "PRIVATE KEY" block`)
	ErrBadPrivateKey  = errors.New("holds a private key that does not parse")
	ErrKeyMismatch    = errors.New("the private key does not match the certificate")
	ErrExpired        = errors.New("the certificate has expired")
)

// maxTLSFileSize bounds what is read of a TLS file: PEM material is a few KiB.
const maxTLSFileSize = 1 << 20

// tlsContent is what was read of the TLS files at one moment.
type tlsContent struct {
	cert, key, ca          []byte
	certErr, keyErr, caErr error // reading errors
}

// readTLSFiles reads every set file, following symlinks (a Kubernetes
// volume's ..data swap).
func readTLSFiles(f TLSFiles) tlsContent {
	var c tlsContent
	c.cert, c.certErr = readLimited(f.CertFile)
	c.key, c.keyErr = readLimited(f.KeyFile)
	if f.ClientCAFile != "" {
		c.ca, c.caErr = readLimited(f.ClientCAFile)
	}
	return c
}

func readLimited(path string) ([]byte, error) {
	if path == "" {
		return nil, ErrNotSet
	}
	fh, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer fh.Close()
	b, err := io.ReadAll(io.LimitReader(fh, maxTLSFileSize+1))
	if err == nil && len(b) > maxTLSFileSize {
		err = ErrTooLarge
	}
	return b, err
}

// digest identifies the content, read errors included, so that a poll can
// tell whether anything changed without parsing.
func (c *tlsContent) digest() [sha256.Size]byte {
	h := sha256.New()
	for _, part := range []struct {
		b   []byte
		err error
	}{{c.cert, c.certErr}, {c.key, c.keyErr}, {c.ca, c.caErr}} {
		if part.err != nil {
			h.Write([]byte{1})
			io.WriteString(h, part.err.Error())
			h.Write([]byte{0})
			continue
		}
		h.Write([]byte{0})
		_ = binary.Write(h, binary.BigEndian, uint64(len(part.b)))
		h.Write(part.b)
	}
	var d [sha256.Size]byte
	h.Sum(d[:0])
	return d
}

// material is one usable set of TLS files.
type material struct {
	digest    [sha256.Size]byte
	config    *tls.Config // what GetConfigForClient hands out
	leaf      *x509.Certificate
	clientCAs int // certificates in the client CA bundle; 0 without one
}

// parseMaterial checks c and builds the server configuration from it. It
// returns every problem at once, each a *FileError.
func parseMaterial(f TLSFiles, c *tlsContent, now time.Time) (*material, error) {
	var errs []error
	fail := func(r FileRole, path string, err error) {
		errs = append(errs, &FileError{Role: r, Path: path, Err: err})
	}

	chain, leaf, err := parseCertChain(c.cert, c.certErr)
	if err != nil {
		fail(RoleCert, f.CertFile, err)
	} else if now.After(leaf.NotAfter) {
		fail(RoleCert, f.CertFile, fmt.Errorf("%w (not after %s)", ErrExpired, leaf.NotAfter.UTC().Format(time.RFC3339)))
	}
	key, err := parsePrivateKey(c.key, c.keyErr)
	if err != nil {
		fail(RoleKey, f.KeyFile, err)
	} else if leaf != nil && !publicKeyMatches(leaf.PublicKey, key) {
		fail(RoleKey, f.KeyFile, fmt.Errorf("%w in %s", ErrKeyMismatch, f.CertFile))
	}
	var pool *x509.CertPool
	var cas int
	if f.ClientCAFile != "" {
		var roots []*x509.Certificate
		if roots, err = parseCertBundle(c.ca, c.caErr); err != nil {
			fail(RoleClientCA, f.ClientCAFile, err)
		} else {
			pool = x509.NewCertPool()
			for _, r := range roots {
				pool.AddCert(r)
			}
			cas = len(roots)
		}
	}
	if err := errors.Join(errs...); err != nil {
		return nil, err
	}
	return &material{
		digest:    c.digest(),
		config:    serverConfig(tls.Certificate{Certificate: chain, PrivateKey: key, Leaf: leaf}, pool),
		leaf:      leaf,
		clientCAs: cas,
	}, nil
}

// serverConfig is the configuration for one handshake. Session tickets are
// off: a resumed session skips the client certificate check against the
// current CA bundle, and Envoy keeps its connections open, so resumption
// saves nothing worth that.
func serverConfig(cert tls.Certificate, clientCAs *x509.CertPool) *tls.Config {
	cfg := &tls.Config{
		MinVersion:             tls.VersionTLS12,
		NextProtos:             []string{"h2"}, // grpc-go clients refuse a server without ALPN h2
		Certificates:           []tls.Certificate{cert},
		SessionTicketsDisabled: true,
	}
	if clientCAs != nil {
		cfg.ClientAuth = tls.RequireAndVerifyClientCert
		cfg.ClientCAs = clientCAs
	}
	return cfg
}

// decodePEM returns every PEM block of data. Bytes between blocks are
// ignored as PEM allows, but a block that does not decode — cut short by a
// writer still at work, or corrupt — is an error, where pem.Decode alone
// would skip it.
func decodePEM(data []byte) ([]*pem.Block, error) {
	var blocks []*pem.Block
	for rest := data; ; {
		var b *pem.Block
		if b, rest = pem.Decode(rest); b == nil {
			break
		}
		blocks = append(blocks, b)
	}
	switch begins := bytes.Count(data, []byte("-----BEGIN ")); {
	case begins == 0:
		return nil, ErrNotPEM
	case begins != len(blocks):
		return nil, ErrCorruptPEM
	}
	return blocks, nil
}

// parseCertChain parses a certificate file: CERTIFICATE blocks, leaf first.
func parseCertChain(data []byte, readErr error) (chain [][]byte, leaf *x509.Certificate, err error) {
	certs, err := parseCertBundle(data, readErr)
	if err != nil {
		return nil, nil, err
	}
	for _, c := range certs {
		chain = append(chain, c.Raw)
	}
	return chain, certs[0], nil
}

// parseCertBundle parses every CERTIFICATE block of data; it needs at least
// one. Blocks of other types are ignored.
func parseCertBundle(data []byte, readErr error) ([]*x509.Certificate, error) {
	if readErr != nil {
		return nil, readErr
	}
	blocks, err := decodePEM(data)
	if err != nil {
		return nil, err
	}
	var certs []*x509.Certificate
	for _, b := range blocks {
		if b.Type != "CERTIFICATE" {
			continue
		}
		c, err := x509.ParseCertificate(b.Bytes)
		if err != nil {
			return nil, fmt.Errorf("%w: certificate %d: %v", ErrBadCertificate, len(certs)+1, err)
		}
		certs = append(certs, c)
	}
	if len(certs) == 0 {
		if hasKeyBlock(blocks) {
			return nil, fmt.Errorf("%w (it holds a private key: are the certificate and key files swapped?)", ErrNoCertificate)
		}
		return nil, ErrNoCertificate
	}
	return certs, nil
}

func hasKeyBlock(blocks []*pem.Block) bool {
	for _, b := range blocks {
		if strings.HasSuffix(b.Type, "PRIVATE KEY") {
			return true
		}
	}
	return false
}

// parsePrivateKey parses the first "… PRIVATE KEY" block of data, in the
// encodings crypto/tls accepts. Errors name the encoding tried, never bytes.
func parsePrivateKey(data []byte, readErr error) (crypto.Signer, error) {
	if readErr != nil {
		return nil, readErr
	}
	blocks, err := decodePEM(data)
	if err != nil {
		return nil, err
	}
	for _, b := range blocks {
		if !strings.HasSuffix(b.Type, "PRIVATE KEY") {
			continue
		}
		if k, err := x509.ParsePKCS8PrivateKey(b.Bytes); err == nil {
			switch k := k.(type) {
			case *rsa.PrivateKey, *ecdsa.PrivateKey, ed25519.PrivateKey:
				return k.(crypto.Signer), nil
			}
			return nil, fmt.Errorf("%w: unsupported key type %T", ErrBadPrivateKey, k)
		}
		if k, err := x509.ParsePKCS1PrivateKey(b.Bytes); err == nil {
			return k, nil
		}
		if k, err := x509.ParseECPrivateKey(b.Bytes); err == nil {
			return k, nil
		}
		return nil, fmt.Errorf("%w (%s block; not PKCS #8, PKCS #1 or SEC 1, or encrypted)", ErrBadPrivateKey, b.Type)
	}
	return nil, ErrNoPrivateKey
}

// publicKeyMatches reports whether key is the private half of pub.
func publicKeyMatches(pub crypto.PublicKey, key crypto.Signer) bool {
	p, ok := pub.(interface{ Equal(crypto.PublicKey) bool })
	return ok && p.Equal(key.Public())
}
