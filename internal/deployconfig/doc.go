// Package deployconfig decodes the project's deployment files strictly, so that tests can hold
// them to what the service needs without Docker or a cluster: the compose file through the
// compose specification's own loader (LoadCompose), Kubernetes, Istio and Envoy Gateway
// manifests into typed objects where unknown fields fail (DecodeManifests), and the Dockerfile
// into build stages (ParseDockerfile).
//
// Check's answer carries the credential, so whoever can call extauthz can take it. CheckCompose
// and CheckManifests fail a deployment in which anything but Envoy (or the mesh's gateway) could
// reach extauthz's gRPC listener, and one whose parts do not fit (the credentials Envoy or the
// gateways select against those extauthz holds, the gateways' access logs against extauthz's
// port). Each problem is a *Finding that names the field.
package deployconfig
