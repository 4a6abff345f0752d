package callerauth

import (
	"context"
	"crypto/sha256"
	"crypto/tls"
	"crypto/x509"
	"log/slog"
	"sync"
	"sync/atomic"
	"time"
)

// DefaultPollInterval is how often ServerTLS.Run re-reads the files. New
// files must be in use within 10 s (design.md, "Caller authentication"); a
// poll every 5 s meets that even when one poll finds a file half-written.
const DefaultPollInterval = 5 * time.Second

// TLSOptions configures LoadServerTLS.
type TLSOptions struct {
	// Logger receives the reload lines; default slog.Default().
	Logger *slog.Logger
	// Observer is told of each reported reload failure; optional.
	Observer Observer
	// PollInterval is Run's period; default DefaultPollInterval.
	PollInterval time.Duration
}

// ServerTLS is the gRPC listener's TLS material, re-read when its files
// change: cert-manager and SPIRE helpers rewrite files in place, and
// Kubernetes swaps a volume's ..data symlink. Changes are found by content
// (a digest of the resolved files), so every way of replacing a file counts.
// New handshakes use the newest usable material; connections already open
// keep theirs. It is safe for concurrent use.
type ServerTLS struct {
	files    TLSFiles
	log      *slog.Logger
	observer Observer
	interval time.Duration
	current  atomic.Pointer[material]

	mu         sync.Mutex        // serialises Reload
	pending    [sha256.Size]byte // broken content seen by the previous poll, not reported yet
	hasPending bool
	reported   [sha256.Size]byte // broken content already reported
	hasReport  bool
}

// LoadServerTLS reads and checks the files. Every problem is returned at
// once, each a *FileError naming its file (unreadable, not PEM, a key that
// does not match the certificate, an expired certificate, a CA bundle without
// certificates, a certificate without its key or the reverse); the message
// never holds the files' content.
//
// An expired certificate is an error, not a warning: every client would
// refuse it, and failing at start names the file; after start, a new expired
// certificate is a broken file like any other.
func LoadServerTLS(files TLSFiles, o TLSOptions) (*ServerTLS, error) {
	s := &ServerTLS{files: files, log: o.Logger, observer: o.Observer, interval: o.PollInterval}
	if s.log == nil {
		s.log = slog.Default()
	}
	if s.observer == nil {
		s.observer = nopObserver{}
	}
	if s.interval <= 0 {
		s.interval = DefaultPollInterval
	}
	c := readTLSFiles(files)
	m, err := parseMaterial(files, &c, time.Now())
	if err != nil {
		return nil, err
	}
	s.current.Store(m)
	return s, nil
}

// Config returns the server configuration to give credentials.NewTLS: every
// handshake gets the current material through GetConfigForClient. Every
// configuration it hands out offers ALPN "h2" and TLS ≥ 1.2.
func (s *ServerTLS) Config() *tls.Config {
	return &tls.Config{
		MinVersion:             tls.VersionTLS12,
		NextProtos:             []string{"h2"},
		SessionTicketsDisabled: true,
		GetConfigForClient: func(*tls.ClientHelloInfo) (*tls.Config, error) {
			return s.current.Load().config, nil
		},
	}
}

// VerifiesClients reports whether clients must present a certificate that
// the client CA bundle verifies.
func (s *ServerTLS) VerifiesClients() bool { return s.files.ClientCAFile != "" }

// Certificate is the leaf certificate new handshakes present (for logs and
// an expiry metric).
func (s *ServerTLS) Certificate() *x509.Certificate { return s.current.Load().leaf }

// Run re-reads the files every poll interval until ctx ends.
func (s *ServerTLS) Run(ctx context.Context) {
	t := time.NewTicker(s.interval)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
			_ = s.Reload() // Reload logs what needs saying
		}
	}
}

// Reload re-reads the files now. It returns nil when their content is
// unchanged or the new material is in use, and the problems (each a
// *FileError) when the files cannot be used: the previous material stays in
// use.
//
// A broken state is reported — one ERROR line and one
// Observer.TLSReloadFailed — when two polls in a row find the same broken
// content, and once per content: a file caught half-written, or a
// certificate written a moment before its key, is fixed by the next poll
// and is not an error.
func (s *ServerTLS) Reload() error {
	s.mu.Lock()
	defer s.mu.Unlock()
	c := readTLSFiles(s.files)
	d := c.digest()
	old := s.current.Load()
	if d == old.digest {
		s.hasPending = false
		return nil
	}
	m, err := parseMaterial(s.files, &c, time.Now())
	if err == nil {
		s.current.Store(m)
		s.hasPending, s.hasReport = false, false
		s.log.Info("TLS files reloaded; new connections use them", materialAttrs(m)...)
		return nil
	}
	switch {
	case s.hasReport && d == s.reported:
		// Already said.
	case s.hasPending && d == s.pending:
		s.hasPending = false
		s.reported, s.hasReport = d, true
		s.observer.TLSReloadFailed()
		s.log.Error("TLS files changed but cannot be used; still serving the previous ones",
			slog.String("error", err.Error()), slog.Time("serving_not_after", old.leaf.NotAfter))
	default:
		s.pending, s.hasPending = d, true
	}
	return err
}

// materialAttrs describe material for a log line: nothing in them is secret.
func materialAttrs(m *material) []any {
	return []any{
		slog.String("subject", m.leaf.Subject.String()),
		slog.String("serial", m.leaf.SerialNumber.Text(16)),
		slog.Time("not_after", m.leaf.NotAfter),
		slog.Int("client_ca_certificates", m.clientCAs),
	}
}
