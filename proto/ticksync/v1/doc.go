// Package ticksyncv1 is ticksync's wire protocol and recording format, generated from the
// .proto files beside it by buf (protoc-gen-go). Never edit the *.pb.go files: change the
// .proto, run buf generate, commit both. The .proto comments are the reference for third-party
// clients.
package ticksyncv1
