// Package cairnv1 is the generated Go code of the Cairn gRPC API
// (cairn.proto; docs/api.md, "gRPC"). Do not edit the .pb.go files:
// regenerate them with `go generate ./proto/...` (protoc, protoc-gen-go
// v1.36.12 and protoc-gen-go-grpc v1.6.2 on PATH); TestGeneratedCodeIsFresh
// checks they match the .proto.
package cairnv1

//go:generate protoc --proto_path=. --go_out=. --go_opt=paths=source_relative --go-grpc_out=. --go-grpc_opt=paths=source_relative cairn.proto
