// Package deployconfig decodes the project's deployment files strictly, so that tests can hold
// them to what the service needs without Docker or a cluster: the compose file through the
// compose specification's own loader (LoadCompose), Kubernetes, Istio and Envoy Gateway
// manifests into typed objects where unknown fields fail (DecodeManifests), and the Dockerfile
// into build stages (ParseDockerfile).
package deployconfig
