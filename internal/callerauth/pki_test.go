package callerauth

import (
	"net"
	"testing"

	"extauthz/internal/testpki"
)

// newCA makes a CA whose keys the suite's leak check knows.
func newCA(t testing.TB, name string) *testpki.CA {
	ca := testpki.NewCA(t, name)
	ca.Secrets = &suiteLogs
	return ca
}

// serverName is the name the test server's certificates carry.
const serverName = "extauthz.test"

// serverLeaf is a server certificate for the test server.
var serverLeaf = testpki.Leaf{CommonName: serverName, DNSNames: []string{serverName}, IPs: []net.IP{net.IPv4(127, 0, 0, 1)}}

// writeFile writes b to dir/name in place and returns the path.
var writeFile = testpki.WriteFile

// pemFiles writes a server pair and, if any, a client CA bundle into a
// fresh directory.
func pemFiles(t testing.TB, srv testpki.Pair, clientCAs ...*testpki.CA) TLSFiles {
	t.Helper()
	dir := t.TempDir()
	f := TLSFiles{
		CertFile: writeFile(t, dir, "tls.crt", srv.CertPEM),
		KeyFile:  writeFile(t, dir, "tls.key", srv.KeyPEM),
	}
	if len(clientCAs) > 0 {
		var b []byte
		for _, ca := range clientCAs {
			b = append(b, ca.PEM...)
		}
		f.ClientCAFile = writeFile(t, dir, "ca.crt", b)
	}
	return f
}
