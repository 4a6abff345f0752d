package deployconfig

// The Envoy Gateway and Gateway API kinds our manifests use, reduced to the fields they set
// (field names from envoyproxy/gateway api/v1alpha1 and sigs.k8s.io/gateway-api). Decoding is
// strict, so a field missing here, or misspelt in a manifest, fails the decode.

// ObjectRef is a Gateway API reference to an object, optionally in another namespace.
type ObjectRef struct {
	Group     *string `json:"group,omitempty"`
	Kind      string  `json:"kind,omitempty"`
	Name      string  `json:"name"`
	Namespace string  `json:"namespace,omitempty"`
	Port      uint32  `json:"port,omitempty"`
}

// Backend is gateway.envoyproxy.io/v1alpha1 Backend (FQDN endpoints).
type Backend = Object[backendSpec]

type backendSpec struct {
	Endpoints []struct {
		FQDN struct {
			Hostname string `json:"hostname"`
			Port     uint32 `json:"port"`
		} `json:"fqdn"`
	} `json:"endpoints"`
}

// SecurityPolicy is gateway.envoyproxy.io/v1alpha1 SecurityPolicy with extAuth.
type SecurityPolicy = Object[securityPolicySpec]

type securityPolicySpec struct {
	TargetRefs []ObjectRef `json:"targetRefs"`
	ExtAuth    struct {
		GRPC *struct {
			BackendRefs []ObjectRef `json:"backendRefs"`
		} `json:"grpc"`
		HeadersToExtAuth  []string `json:"headersToExtAuth"`
		ContextExtensions []struct {
			Name  string  `json:"name"`
			Type  string  `json:"type"`
			Value *string `json:"value,omitempty"`
		} `json:"contextExtensions,omitempty"`
		Timeout        string `json:"timeout"`
		FailOpen       *bool  `json:"failOpen"`
		StatusOnError  *int32 `json:"statusOnError,omitempty"`
		RecomputeRoute *bool  `json:"recomputeRoute"`
	} `json:"extAuth"`
}

// EnvoyProxy is gateway.envoyproxy.io/v1alpha1 EnvoyProxy (access-log telemetry only).
type EnvoyProxy = Object[envoyProxySpec]

type envoyProxySpec struct {
	Telemetry struct {
		AccessLog struct {
			Settings []struct {
				Matches []string `json:"matches,omitempty"`
				Sinks   []struct {
					Type string `json:"type"`
					ALS  *struct {
						Type        string      `json:"type"`
						LogName     string      `json:"logName,omitempty"`
						BackendRefs []ObjectRef `json:"backendRefs"`
						HTTP        *struct {
							RequestHeaders   []string `json:"requestHeaders,omitempty"`
							ResponseHeaders  []string `json:"responseHeaders,omitempty"`
							ResponseTrailers []string `json:"responseTrailers,omitempty"`
						} `json:"http,omitempty"`
					} `json:"als,omitempty"`
				} `json:"sinks"`
			} `json:"settings"`
		} `json:"accessLog"`
	} `json:"telemetry"`
}

// Gateway is gateway.networking.k8s.io/v1 Gateway.
type Gateway = Object[gatewaySpec]

type gatewaySpec struct {
	GatewayClassName string `json:"gatewayClassName"`
	Infrastructure   *struct {
		ParametersRef *ObjectRef `json:"parametersRef,omitempty"`
	} `json:"infrastructure,omitempty"`
	Listeners []struct {
		Name     string `json:"name"`
		Protocol string `json:"protocol"`
		Port     uint32 `json:"port"`
	} `json:"listeners"`
}

// HTTPRoute is gateway.networking.k8s.io/v1 HTTPRoute.
type HTTPRoute = Object[hTTPRouteSpec]

type hTTPRouteSpec struct {
	ParentRefs []ObjectRef `json:"parentRefs"`
	Rules      []struct {
		Matches []struct {
			Path struct {
				Type  string `json:"type"`
				Value string `json:"value"`
			} `json:"path"`
		} `json:"matches"`
		Filters []struct {
			Type       string `json:"type"`
			URLRewrite *struct {
				Hostname string `json:"hostname"`
				Path     *struct {
					Type               string `json:"type"`
					ReplacePrefixMatch string `json:"replacePrefixMatch"`
				} `json:"path,omitempty"`
			} `json:"urlRewrite"`
		} `json:"filters"`
		BackendRefs []ObjectRef `json:"backendRefs"`
		Timeouts    *struct {
			Request string `json:"request"`
		} `json:"timeouts"`
	} `json:"rules"`
}

// BackendTLSPolicy is gateway.networking.k8s.io/v1 BackendTLSPolicy.
type BackendTLSPolicy = Object[backendTLSPolicySpec]

type backendTLSPolicySpec struct {
	TargetRefs []ObjectRef `json:"targetRefs"`
	Validation struct {
		Hostname                string `json:"hostname"`
		WellKnownCACertificates string `json:"wellKnownCACertificates"`
	} `json:"validation"`
}

// ReferenceGrant is gateway.networking.k8s.io/v1beta1 ReferenceGrant.
type ReferenceGrant = Object[referenceGrantSpec]

type referenceGrantSpec struct {
	From []ObjectRef `json:"from"`
	To   []ObjectRef `json:"to"`
}
