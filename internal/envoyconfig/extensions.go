package envoyconfig

// protojson resolves every "@type" in a bootstrap through protoregistry.GlobalTypes, which a
// message type joins only when its Go package is linked in. These imports register the
// extensions our configs use; a config naming any other extension fails to decode with
// `unable to resolve "type.googleapis.com/…"` until its package is added here.
import (
	_ "github.com/envoyproxy/go-control-plane/envoy/extensions/access_loggers/file/v3"
	_ "github.com/envoyproxy/go-control-plane/envoy/extensions/access_loggers/grpc/v3"
	_ "github.com/envoyproxy/go-control-plane/envoy/extensions/access_loggers/stream/v3"
	_ "github.com/envoyproxy/go-control-plane/envoy/extensions/clusters/dns/v3"
	_ "github.com/envoyproxy/go-control-plane/envoy/extensions/filters/http/router/v3"
)
