// Package deploy holds no Go code: it is the container image (Dockerfile) and the
// Kubernetes manifests that run ticksync as an Agones Fleet with its lobby (agones/, lobby/,
// secret.example.yaml). Its test (manifests_test.go, in make test) checks the invariants the
// pieces share: flag values against manifest keys, ports, resources, non-root, the drain
// against the termination grace. `make deploy-validate` checks them against the schemas.
package deploy
