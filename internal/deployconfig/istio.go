package deployconfig

// The Istio kinds our manifests use, reduced to the fields they set (istio/api field names).
// Decoding is strict, so a field missing here, or misspelt in a manifest, fails the decode.

// IstioOperator is install.istio.io/v1alpha1 IstioOperator.
type IstioOperator = Object[istioOperatorSpec]

type istioOperatorSpec struct {
	MeshConfig struct {
		ExtensionProviders []ExtensionProvider `json:"extensionProviders"`
	} `json:"meshConfig"`
	Components struct {
		EgressGateways []struct {
			Name    string `json:"name"`
			Enabled bool   `json:"enabled"`
		} `json:"egressGateways"`
	} `json:"components"`
}

// ExtensionProvider is MeshConfig.ExtensionProvider with its gRPC ext_authz and gRPC HTTP
// access-log variants.
type ExtensionProvider struct {
	Name              string `json:"name"`
	EnvoyExtAuthzGrpc *struct {
		Service       string `json:"service"`
		Port          uint32 `json:"port"`
		Timeout       string `json:"timeout"`
		FailOpen      bool   `json:"failOpen"`
		StatusOnError string `json:"statusOnError"`
	} `json:"envoyExtAuthzGrpc"`
	EnvoyHTTPAls *EnvoyHTTPAls `json:"envoyHttpAls"`
}

// EnvoyHTTPAls is MeshConfig.ExtensionProvider.EnvoyHttpGrpcV3LogProvider.
type EnvoyHTTPAls struct {
	Service                         string   `json:"service"`
	Port                            uint32   `json:"port"`
	LogName                         string   `json:"logName,omitempty"`
	FilterStateObjectsToLog         []string `json:"filterStateObjectsToLog,omitempty"`
	AdditionalRequestHeadersToLog   []string `json:"additionalRequestHeadersToLog,omitempty"`
	AdditionalResponseHeadersToLog  []string `json:"additionalResponseHeadersToLog,omitempty"`
	AdditionalResponseTrailersToLog []string `json:"additionalResponseTrailersToLog,omitempty"`
}

// IstioPort is networking.istio.io Port / ServicePort.
type IstioPort struct {
	Number   uint32 `json:"number"`
	Name     string `json:"name,omitempty"`
	Protocol string `json:"protocol,omitempty"`
}

// ServiceEntry is networking.istio.io/v1 ServiceEntry.
type ServiceEntry = Object[serviceEntrySpec]

type serviceEntrySpec struct {
	Hosts      []string    `json:"hosts"`
	Location   string      `json:"location"`
	Resolution string      `json:"resolution"`
	Ports      []IstioPort `json:"ports"`
}

// IstioGateway is networking.istio.io/v1 Gateway.
type IstioGateway = Object[istioGatewaySpec]

type istioGatewaySpec struct {
	Selector map[string]string `json:"selector"`
	Servers  []struct {
		Port  IstioPort `json:"port"`
		Hosts []string  `json:"hosts"`
		TLS   *struct {
			Mode string `json:"mode"`
		} `json:"tls,omitempty"`
	} `json:"servers"`
}

// VirtualService is networking.istio.io/v1 VirtualService (HTTP routes only).
type VirtualService = Object[virtualServiceSpec]

type virtualServiceSpec struct {
	Hosts    []string `json:"hosts"`
	Gateways []string `json:"gateways"`
	HTTP     []struct {
		Match []struct {
			Gateways []string `json:"gateways"`
			Port     uint32   `json:"port"`
		} `json:"match"`
		Route []struct {
			Destination struct {
				Host   string `json:"host"`
				Subset string `json:"subset,omitempty"`
				Port   struct {
					Number uint32 `json:"number"`
				} `json:"port"`
			} `json:"destination"`
		} `json:"route"`
	} `json:"http"`
}

// DestinationRule is networking.istio.io/v1 DestinationRule (port-level TLS, subsets).
type DestinationRule = Object[destinationRuleSpec]

type destinationRuleSpec struct {
	Host          string        `json:"host"`
	ExportTo      []string      `json:"exportTo,omitempty"`
	TrafficPolicy TrafficPolicy `json:"trafficPolicy,omitzero"`
	Subsets       []struct {
		Name          string        `json:"name"`
		TrafficPolicy TrafficPolicy `json:"trafficPolicy"`
	} `json:"subsets,omitempty"`
}

// TrafficPolicy is a DestinationRule's traffic policy, port-level TLS only.
type TrafficPolicy struct {
	PortLevelSettings []struct {
		Port struct {
			Number uint32 `json:"number"`
		} `json:"port"`
		TLS ClientTLS `json:"tls"`
	} `json:"portLevelSettings"`
}

// ClientTLS is networking.istio.io ClientTLSSettings.
type ClientTLS struct {
	Mode            string   `json:"mode"`
	SNI             string   `json:"sni,omitempty"`
	CACertificates  string   `json:"caCertificates,omitempty"`
	SubjectAltNames []string `json:"subjectAltNames,omitempty"`
}

// WorkloadSelector is istio.type.v1beta1.WorkloadSelector.
type WorkloadSelector struct {
	MatchLabels map[string]string `json:"matchLabels"`
}

// AuthorizationPolicy is security.istio.io/v1 AuthorizationPolicy.
type AuthorizationPolicy = Object[authorizationPolicySpec]

type authorizationPolicySpec struct {
	Selector *WorkloadSelector `json:"selector,omitempty"`
	Action   string            `json:"action,omitempty"`
	Provider *struct {
		Name string `json:"name"`
	} `json:"provider,omitempty"`
	Rules []AuthorizationRule `json:"rules"`
}

// AuthorizationRule is one AuthorizationPolicy rule: sources (from), operations (to).
type AuthorizationRule struct {
	From []struct {
		Source struct {
			Principals []string `json:"principals,omitempty"`
			Namespaces []string `json:"namespaces,omitempty"`
			IPBlocks   []string `json:"ipBlocks,omitempty"`
		} `json:"source"`
	} `json:"from,omitempty"`
	To []struct {
		Operation struct {
			Hosts []string `json:"hosts,omitempty"`
			Ports []string `json:"ports,omitempty"`
		} `json:"operation"`
	} `json:"to,omitempty"`
}

// PeerAuthentication is security.istio.io/v1 PeerAuthentication.
type PeerAuthentication = Object[peerAuthenticationSpec]

// MutualTLS is PeerAuthentication.MutualTLS: UNSET, DISABLE, PERMISSIVE or STRICT.
type MutualTLS struct {
	Mode string `json:"mode"`
}

type peerAuthenticationSpec struct {
	Selector      *WorkloadSelector    `json:"selector,omitempty"`
	MTLS          *MutualTLS           `json:"mtls,omitempty"`
	PortLevelMTLS map[string]MutualTLS `json:"portLevelMtls,omitempty"`
}

// Telemetry is telemetry.istio.io/v1 Telemetry (access logging only).
type Telemetry = Object[telemetrySpec]

type telemetrySpec struct {
	Selector      *WorkloadSelector `json:"selector,omitempty"`
	AccessLogging []struct {
		Providers []struct {
			Name string `json:"name"`
		} `json:"providers"`
		Disabled *bool `json:"disabled,omitempty"`
		Filter   *struct {
			Expression string `json:"expression"`
		} `json:"filter,omitempty"`
	} `json:"accessLogging"`
}
