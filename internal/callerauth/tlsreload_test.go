package callerauth

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"testing"
	"testing/synctest"
	"time"

	"extauthz/internal/testpki"
)

const reloadError = "TLS files changed but cannot be used"

// rotation loads a first server pair and issues a second from the same CA.
func rotation(t *testing.T) (h *harness, s *ServerTLS, files TLSFiles, first, second testpki.Pair) {
	t.Helper()
	h = newHarness(t)
	ca := newCA(t, "ca")
	first, second = ca.Issue(t, serverLeaf), ca.Issue(t, serverLeaf)
	files = pemFiles(t, first)
	return h, h.loadTLS(files), files, first, second
}

// replacePair rewrites the certificate and key files in place.
func replacePair(t *testing.T, files TLSFiles, p testpki.Pair) {
	t.Helper()
	writeFile(t, filepath.Dir(files.CertFile), filepath.Base(files.CertFile), p.CertPEM)
	writeFile(t, filepath.Dir(files.KeyFile), filepath.Base(files.KeyFile), p.KeyPEM)
}

func TestReloadInPlace(t *testing.T) {
	h, s, files, _, second := rotation(t)
	if err := s.Reload(); err != nil || h.logs.String() != "" {
		t.Fatalf("unchanged files: %v; logs %q", err, h.logs)
	}
	replacePair(t, files, second)
	if err := s.Reload(); err != nil {
		t.Fatal(err)
	}
	if !s.Certificate().Equal(second.Cert) {
		t.Error("the new certificate is not in use")
	}
	if h.logs.count("TLS files reloaded") != 1 {
		t.Errorf("want one reload line:\n%s", h.logs)
	}
}

// k8sVolume lays files out as a Kubernetes secret volume does: each file a
// symlink through ..data, which points at a timestamped directory and is
// swapped atomically by rename.
type k8sVolume struct {
	t   *testing.T
	dir string
	gen int
}

func newK8sVolume(t *testing.T, files map[string][]byte) (*k8sVolume, TLSFiles) {
	v := &k8sVolume{t: t, dir: t.TempDir()}
	v.update(files)
	for name := range files {
		if err := os.Symlink(filepath.Join("..data", name), filepath.Join(v.dir, name)); err != nil {
			t.Fatal(err)
		}
	}
	return v, TLSFiles{CertFile: filepath.Join(v.dir, "tls.crt"), KeyFile: filepath.Join(v.dir, "tls.key"), ClientCAFile: filepath.Join(v.dir, "ca.crt")}
}

// update writes files into a new timestamped directory and swaps ..data.
func (v *k8sVolume) update(files map[string][]byte) {
	v.gen++
	gen := filepath.Join(v.dir, "..gen"+string(rune('0'+v.gen)))
	if err := os.Mkdir(gen, 0o755); err != nil {
		v.t.Fatal(err)
	}
	for name, b := range files {
		writeFile(v.t, gen, name, b)
	}
	tmp := filepath.Join(v.dir, "..data_tmp")
	if err := os.Symlink(filepath.Base(gen), tmp); err != nil {
		v.t.Fatal(err)
	}
	if err := os.Rename(tmp, filepath.Join(v.dir, "..data")); err != nil {
		v.t.Fatal(err)
	}
}

func TestReloadSymlinkSwap(t *testing.T) {
	h := newHarness(t)
	ca, ca2 := newCA(t, "ca"), newCA(t, "ca2")
	first, second := ca.Issue(t, serverLeaf), ca2.Issue(t, serverLeaf)
	vol, files := newK8sVolume(t, map[string][]byte{"tls.crt": first.CertPEM, "tls.key": first.KeyPEM, "ca.crt": ca.PEM})
	s := h.loadTLS(files)
	vol.update(map[string][]byte{"tls.crt": second.CertPEM, "tls.key": second.KeyPEM, "ca.crt": ca2.PEM})
	if err := s.Reload(); err != nil {
		t.Fatal(err)
	}
	if !s.Certificate().Equal(second.Cert) {
		t.Error("the swapped certificate is not in use")
	}
	cfg := mustConfigForClient(t, s)
	if _, err := second.Cert.Verify(verifyAgainst(cfg)); err != nil {
		t.Errorf("the swapped CA bundle is not in use: %v", err)
	}
}

// TestBrokenFileKeepsTheOldMaterial: a broken file is reported once — an
// ERROR and one TLSReloadFailed — when two polls in a row find it, and the
// previous material stays in use until a good file replaces it.
func TestBrokenFileKeepsTheOldMaterial(t *testing.T) {
	h, s, files, first, second := rotation(t)
	broken := second.CertPEM[:len(second.CertPEM)/2]
	writeFile(t, filepath.Dir(files.CertFile), "tls.crt", broken)

	if err := s.Reload(); !errors.Is(err, ErrCorruptPEM) {
		t.Fatalf("first poll: %v, want ErrCorruptPEM", err)
	}
	if h.obs.reloadFailed.Load() != 0 || h.logs.count(reloadError) != 0 {
		t.Fatal("reported after one poll: it might have been a file still being written")
	}
	for range 3 {
		if err := s.Reload(); err == nil {
			t.Fatal("a broken file reloaded")
		}
	}
	if n := h.obs.reloadFailed.Load(); n != 1 {
		t.Errorf("%d reload failures counted, want 1", n)
	}
	if n := h.logs.count(reloadError); n != 1 {
		t.Errorf("%d ERROR lines, want 1:\n%s", n, h.logs)
	}
	if !s.Certificate().Equal(first.Cert) {
		t.Fatal("the old certificate is no longer in use")
	}

	replacePair(t, files, second)
	if err := s.Reload(); err != nil || !s.Certificate().Equal(second.Cert) {
		t.Fatalf("repaired files: %v", err)
	}
	writeFile(t, filepath.Dir(files.CertFile), "tls.crt", broken)
	s.Reload()
	s.Reload()
	if n := h.obs.reloadFailed.Load(); n != 2 {
		t.Errorf("breaking again after a repair: %d failures, want 2", n)
	}
}

// TestCertificateBeforeKeyIsNotAnError: a helper that writes the new
// certificate and then the key leaves a moment where they do not match; a
// poll in that moment keeps the old pair and reports nothing.
func TestCertificateBeforeKeyIsNotAnError(t *testing.T) {
	h, s, files, first, second := rotation(t)
	writeFile(t, filepath.Dir(files.CertFile), "tls.crt", second.CertPEM)
	if err := s.Reload(); !errors.Is(err, ErrKeyMismatch) {
		t.Fatalf("cert without its key: %v", err)
	}
	if !s.Certificate().Equal(first.Cert) {
		t.Fatal("a certificate without its key replaced the old pair")
	}
	writeFile(t, filepath.Dir(files.KeyFile), "tls.key", second.KeyPEM)
	if err := s.Reload(); err != nil || !s.Certificate().Equal(second.Cert) {
		t.Fatalf("key arrived: %v", err)
	}
	if h.obs.reloadFailed.Load() != 0 || h.logs.count(reloadError) != 0 {
		t.Errorf("a rotation in two writes was reported as a failure:\n%s", h.logs)
	}
}

// TestRunPollsTheFiles: Run picks up a change within one poll interval,
// without a restart (fake time: no sleeping).
func TestRunPollsTheFiles(t *testing.T) {
	ca := newCA(t, "ca")
	first, second := ca.Issue(t, serverLeaf), ca.Issue(t, serverLeaf)
	files := pemFiles(t, first)
	synctest.Test(t, func(t *testing.T) {
		logger, _ := testLogger()
		s, err := LoadServerTLS(files, TLSOptions{Logger: logger})
		if err != nil {
			t.Fatal(err)
		}
		ctx, cancel := context.WithCancel(context.Background())
		done := make(chan struct{})
		go func() { s.Run(ctx); close(done) }()

		writeFile(t, filepath.Dir(files.CertFile), "tls.crt", second.CertPEM)
		writeFile(t, filepath.Dir(files.KeyFile), "tls.key", second.KeyPEM)
		time.Sleep(DefaultPollInterval - time.Millisecond)
		synctest.Wait()
		if !s.Certificate().Equal(first.Cert) {
			t.Fatal("changed before the first poll")
		}
		time.Sleep(time.Millisecond)
		synctest.Wait()
		if !s.Certificate().Equal(second.Cert) {
			t.Fatal("the first poll did not pick up the new files")
		}
		cancel()
		<-done
	})
}
