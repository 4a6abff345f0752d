package envoyconfig

import (
	"net/netip"

	bootstrapv3 "github.com/envoyproxy/go-control-plane/envoy/config/bootstrap/v3"
	clusterv3 "github.com/envoyproxy/go-control-plane/envoy/config/cluster/v3"
	corev3 "github.com/envoyproxy/go-control-plane/envoy/config/core/v3"
	tlsv3 "github.com/envoyproxy/go-control-plane/envoy/extensions/transport_sockets/tls/v3"
)

// Check's answer carries the credential, so whoever reaches extauthz can take it. The file alone
// can prove two layouts safe: a unix socket (a pipe address), whose directory and peer-uid check
// keep everyone but Envoy out, or TLS in which Envoy presents a client certificate that extauthz
// verifies (EXTAUTHZ_TLS_CLIENT_CA_FILE). A TCP address without a client certificate is safe only
// if something outside this file keeps the network away (a mesh, a NetworkPolicy), which the
// manifests' own checks (internal/deployconfig) have to show; no bootstrap of this project does it.

// authzIsolation checks that the cluster ext_authz calls is a unix socket, or TLS with a client
// certificate.
func (c *checker) authzIsolation(path string, cl *clusterv3.Cluster) {
	if onlyPipes(cl) {
		return
	}
	tls := upstreamTLSContext(cl.GetTransportSocket())
	if tls == nil {
		c.add(path+".load_assignment", ErrAuthzReachable,
			"cluster %q is on a TCP address without TLS: any process that can connect to it can ask for the credential", cl.GetName())
		return
	}
	if !presentsClientCertificate(tls.GetCommonTlsContext()) {
		c.add(path+".transport_socket", ErrAuthzReachable,
			"cluster %q speaks TLS but presents no client certificate, so extauthz cannot tell Envoy from anyone else", cl.GetName())
	}
}

// onlyPipes reports whether every endpoint of the cluster is a unix socket. A cluster without
// endpoints in this file (EDS) is not one.
func onlyPipes(cl *clusterv3.Cluster) bool {
	n := 0
	for _, locality := range cl.GetLoadAssignment().GetEndpoints() {
		for _, lb := range locality.GetLbEndpoints() {
			if lb.GetEndpoint().GetAddress().GetPipe() == nil {
				return false
			}
			n++
		}
	}
	return n > 0
}

// upstreamTLSContext returns the UpstreamTlsContext of a transport socket, or nil.
func upstreamTLSContext(ts *corev3.TransportSocket) *tlsv3.UpstreamTlsContext {
	if ts == nil {
		return nil
	}
	ctx := new(tlsv3.UpstreamTlsContext)
	if ts.GetTypedConfig().UnmarshalTo(ctx) != nil {
		return nil
	}
	return ctx
}

// presentsClientCertificate reports whether a TLS context has a certificate to present, inline,
// from SDS or from a certificate provider.
func presentsClientCertificate(ctx *tlsv3.CommonTlsContext) bool {
	return len(ctx.GetTlsCertificates()) > 0 || len(ctx.GetTlsCertificateSdsSecretConfigs()) > 0 ||
		ctx.GetTlsCertificateProviderInstance() != nil
}

// adminBesideWorkload reports an admin interface on loopback TCP in a bootstrap that also listens
// on loopback: whoever calls that listener shares Envoy's network namespace and can reach the
// admin interface too (raise the log level so the router logs the injected bearer, dump config,
// quit). Such a bootstrap puts its admin interface on a unix socket.
func (c *checker) adminBesideWorkload(b *bootstrapv3.Bootstrap) {
	admin := b.GetAdmin().GetAddress().GetSocketAddress()
	if admin == nil || !isLoopbackHost(admin.GetAddress()) {
		return // a pipe, none, or not loopback (reported by admin)
	}
	for _, l := range b.GetStaticResources().GetListeners() {
		if sa := l.GetAddress().GetSocketAddress(); sa != nil && isLoopbackHost(sa.GetAddress()) {
			c.add("admin.address", ErrAdminExposed,
				"%q is on loopback, where the workload calling listener %q on %s can reach it; use a pipe in a private directory",
				admin.GetAddress(), l.GetName(), sa.GetAddress())
			return
		}
	}
}

func isLoopbackHost(host string) bool {
	ip, err := netip.ParseAddr(host)
	return (err == nil && ip.IsLoopback()) || host == "localhost"
}
