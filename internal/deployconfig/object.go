package deployconfig

import metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

// Object is the shape of a Kubernetes custom resource: type and object metadata and a spec.
// The Istio, Envoy Gateway and Gateway API kinds in istio.go and gateway.go are Objects with
// a spec that holds the fields our manifests set.
type Object[Spec any] struct {
	metav1.TypeMeta `json:",inline"`
	Metadata        metav1.ObjectMeta `json:"metadata"`
	Spec            Spec              `json:"spec"`
}
