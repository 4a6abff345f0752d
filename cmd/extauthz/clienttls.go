package main

import (
	"crypto/tls"
	"crypto/x509"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"strings"
)

// tlsFlags are the client TLS options of the commands that dial extauthz
// (check, health; status and refresh later): register them on each
// command's FlagSet, then build the configuration with config.
type tlsFlags struct {
	caCert, cert, key, serverName string
}

// register adds --cacert, --cert, --key and --server-name to fs.
func (f *tlsFlags) register(fs *flag.FlagSet) {
	fs.StringVar(&f.caCert, "cacert", "", "PEM file of the CA certificates that verify the server (default: the system's); any TLS flag turns TLS on")
	fs.StringVar(&f.cert, "cert", "", "PEM client certificate chain, for a listener that requires client certificates (with --key)")
	fs.StringVar(&f.key, "key", "", "PEM private key of --cert")
	fs.StringVar(&f.serverName, "server-name", "", "name the server's certificate must carry (default: the host of --addr; localhost for unix:)")
}

// config is the client TLS configuration, or nil when no TLS flag was given
// (plaintext, as before). Errors name the flag at fault and never hold a
// file's content.
func (f *tlsFlags) config() (*tls.Config, error) {
	if f.caCert == "" && f.cert == "" && f.key == "" && f.serverName == "" {
		return nil, nil
	}
	cfg := &tls.Config{MinVersion: tls.VersionTLS12, ServerName: f.serverName}
	var errs []error
	if f.caCert != "" {
		pool, err := readRoots(f.caCert)
		if err != nil {
			errs = append(errs, fmt.Errorf("--cacert: %w", err))
		}
		cfg.RootCAs = pool
	}
	switch {
	case f.cert != "" && f.key == "":
		errs = append(errs, errors.New("--cert needs --key"))
	case f.key != "" && f.cert == "":
		errs = append(errs, errors.New("--key needs --cert"))
	case f.cert != "":
		pair, err := readPair(f.cert, f.key)
		if err != nil {
			errs = append(errs, err)
		}
		cfg.Certificates = []tls.Certificate{pair}
	}
	if err := errors.Join(errs...); err != nil {
		return nil, err
	}
	return cfg, nil
}

// printProblems writes one line per problem in err (an errors.Join), each
// prefixed with the command's name.
func printProblems(w io.Writer, cmd string, err error) {
	for _, line := range strings.Split(err.Error(), "\n") {
		fmt.Fprintf(w, "extauthz %s: %s\n", cmd, line)
	}
}

// readRoots reads a PEM bundle of CA certificates.
func readRoots(path string) (*x509.CertPool, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	pool := x509.NewCertPool()
	if !pool.AppendCertsFromPEM(b) {
		return nil, fmt.Errorf("%s holds no PEM certificate", path)
	}
	return pool, nil
}

// readPair reads the client certificate and key, naming the flag whose
// file is unreadable, or both when they do not make a pair.
func readPair(certPath, keyPath string) (tls.Certificate, error) {
	certPEM, err := os.ReadFile(certPath)
	if err != nil {
		return tls.Certificate{}, fmt.Errorf("--cert: %w", err)
	}
	keyPEM, err := os.ReadFile(keyPath)
	if err != nil {
		return tls.Certificate{}, fmt.Errorf("--key: %w", err)
	}
	pair, err := tls.X509KeyPair(certPEM, keyPEM)
	if err != nil {
		// crypto/tls's messages name PEM block types, never key bytes.
		return tls.Certificate{}, fmt.Errorf("--cert/--key: %w", err)
	}
	return pair, nil
}
