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

// ExtensionProvider is MeshConfig.ExtensionProvider with its gRPC ext_authz variant.
type ExtensionProvider struct {
	Name              string `json:"name"`
	EnvoyExtAuthzGrpc *struct {
		Service       string `json:"service"`
		Port          uint32 `json:"port"`
		Timeout       string `json:"timeout"`
		FailOpen      bool   `json:"failOpen"`
		StatusOnError string `json:"statusOnError"`
	} `json:"envoyExtAuthzGrpc"`
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
				Host string `json:"host"`
				Port struct {
					Number uint32 `json:"number"`
				} `json:"port"`
			} `json:"destination"`
		} `json:"route"`
	} `json:"http"`
}

// DestinationRule is networking.istio.io/v1 DestinationRule (port-level TLS only).
type DestinationRule = Object[destinationRuleSpec]

type destinationRuleSpec struct {
	Host          string   `json:"host"`
	ExportTo      []string `json:"exportTo"`
	TrafficPolicy struct {
		PortLevelSettings []struct {
			Port struct {
				Number uint32 `json:"number"`
			} `json:"port"`
			TLS struct {
				Mode            string   `json:"mode"`
				SNI             string   `json:"sni"`
				CACertificates  string   `json:"caCertificates"`
				SubjectAltNames []string `json:"subjectAltNames"`
			} `json:"tls"`
		} `json:"portLevelSettings"`
	} `json:"trafficPolicy"`
}

// AuthorizationPolicy is security.istio.io/v1 AuthorizationPolicy.
type AuthorizationPolicy = Object[authorizationPolicySpec]

type authorizationPolicySpec struct {
	Selector struct {
		MatchLabels map[string]string `json:"matchLabels"`
	} `json:"selector"`
	Action   string `json:"action"`
	Provider struct {
		Name string `json:"name"`
	} `json:"provider"`
	Rules []struct {
		To []struct {
			Operation struct {
				Hosts []string `json:"hosts"`
			} `json:"operation"`
		} `json:"to"`
	} `json:"rules"`
}
