package deployconfig

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"io"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	networkingv1 "k8s.io/api/networking/v1"
	policyv1 "k8s.io/api/policy/v1"
	utilyaml "k8s.io/apimachinery/pkg/util/yaml"
	"sigs.k8s.io/yaml"
)

// ErrManifest marks a manifest document that DecodeManifests cannot decode.
var ErrManifest = errors.New("invalid manifest")

// A Manifest is one decoded document of a multi-document YAML file.
type Manifest struct {
	// APIVersion and Kind identify the document's type.
	APIVersion, Kind string
	// Name and Namespace are the document's metadata.name and metadata.namespace.
	Name, Namespace string
	// Object is the decoded document: a k8s.io/api type for Kubernetes kinds, or this
	// package's schema for the Istio, Envoy Gateway and Gateway API kinds.
	Object any
}

// kinds maps apiVersion/kind to a constructor of the type a document decodes into. Kubernetes
// kinds use the official k8s.io/api types; Istio, Envoy Gateway and Gateway API kinds use the
// schemas in istio.go and gateway.go, which hold the fields our manifests set.
var kinds = map[string]func() any{
	"v1/Namespace":                                     func() any { return new(corev1.Namespace) },
	"v1/ServiceAccount":                                func() any { return new(corev1.ServiceAccount) },
	"v1/ConfigMap":                                     func() any { return new(corev1.ConfigMap) },
	"v1/Service":                                       func() any { return new(corev1.Service) },
	"apps/v1/Deployment":                               func() any { return new(appsv1.Deployment) },
	"policy/v1/PodDisruptionBudget":                    func() any { return new(policyv1.PodDisruptionBudget) },
	"networking.k8s.io/v1/NetworkPolicy":               func() any { return new(networkingv1.NetworkPolicy) },
	"install.istio.io/v1alpha1/IstioOperator":          func() any { return new(IstioOperator) },
	"networking.istio.io/v1/ServiceEntry":              func() any { return new(ServiceEntry) },
	"networking.istio.io/v1/Gateway":                   func() any { return new(IstioGateway) },
	"networking.istio.io/v1/VirtualService":            func() any { return new(VirtualService) },
	"networking.istio.io/v1/DestinationRule":           func() any { return new(DestinationRule) },
	"security.istio.io/v1/AuthorizationPolicy":         func() any { return new(AuthorizationPolicy) },
	"security.istio.io/v1/PeerAuthentication":          func() any { return new(PeerAuthentication) },
	"telemetry.istio.io/v1/Telemetry":                  func() any { return new(Telemetry) },
	"gateway.envoyproxy.io/v1alpha1/EnvoyProxy":        func() any { return new(EnvoyProxy) },
	"gateway.networking.k8s.io/v1/Gateway":             func() any { return new(Gateway) },
	"gateway.envoyproxy.io/v1alpha1/Backend":           func() any { return new(Backend) },
	"gateway.envoyproxy.io/v1alpha1/SecurityPolicy":    func() any { return new(SecurityPolicy) },
	"gateway.networking.k8s.io/v1/HTTPRoute":           func() any { return new(HTTPRoute) },
	"gateway.networking.k8s.io/v1/BackendTLSPolicy":    func() any { return new(BackendTLSPolicy) },
	"gateway.networking.k8s.io/v1beta1/ReferenceGrant": func() any { return new(ReferenceGrant) },
}

// header is what every document carries, read before the type is known.
type header struct {
	APIVersion string `json:"apiVersion"`
	Kind       string `json:"kind"`
	Metadata   struct {
		Name      string `json:"name"`
		Namespace string `json:"namespace"`
	} `json:"metadata"`
}

// DecodeManifests decodes every document of a multi-document YAML file into the type of its
// apiVersion and kind, strictly: an unknown or misspelt field, a duplicate key, a value of the
// wrong type or an unknown kind is an error (ErrManifest) that names the document.
func DecodeManifests(data []byte) ([]Manifest, error) {
	r := utilyaml.NewYAMLReader(bufio.NewReader(bytes.NewReader(data)))
	var out []Manifest
	for i := 1; ; i++ {
		doc, err := r.Read()
		if errors.Is(err, io.EOF) {
			return out, nil
		}
		if err != nil {
			return nil, fmt.Errorf("%w: document %d: %w", ErrManifest, i, err)
		}
		m, ok, err := decodeDocument(doc)
		if err != nil {
			return nil, fmt.Errorf("%w: document %d (%s %s): %w", ErrManifest, i, m.Kind, m.Name, err)
		}
		if ok {
			out = append(out, m)
		}
	}
}

// decodeDocument decodes one document; ok is false for a document with no content.
func decodeDocument(doc []byte) (m Manifest, ok bool, err error) {
	var h header
	if err := yaml.Unmarshal(doc, &h); err != nil {
		return m, false, err
	}
	m = Manifest{APIVersion: h.APIVersion, Kind: h.Kind, Name: h.Metadata.Name, Namespace: h.Metadata.Namespace}
	if h.APIVersion == "" && h.Kind == "" {
		if js, err := yaml.YAMLToJSON(doc); err == nil && string(js) == "null" {
			return m, false, nil // only comments
		}
	}
	newObject, known := kinds[h.APIVersion+"/"+h.Kind]
	if !known {
		return m, false, fmt.Errorf("unknown kind %s/%s", h.APIVersion, h.Kind)
	}
	m.Object = newObject()
	if err := yaml.UnmarshalStrict(doc, m.Object); err != nil {
		return m, false, err
	}
	return m, true, nil
}
