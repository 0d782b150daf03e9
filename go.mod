module github.com/ticksync/ticksync

go 1.26.0

require google.golang.org/protobuf v1.36.12

require (
	github.com/klauspost/compress v1.20.1 // indirect
	github.com/lxzan/gws v1.10.2 // indirect
	github.com/prometheus/client_golang v1.25.0 // indirect
	github.com/stretchr/testify v1.12.1 // indirect
	go.yaml.in/yaml/v3 v3.0.5 // indirect
)

tool google.golang.org/protobuf/cmd/protoc-gen-go
