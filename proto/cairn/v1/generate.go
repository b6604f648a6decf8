// Package cairnv1 is the generated Go code of the Cairn gRPC API
// (cairn.proto; docs/api.md, "gRPC"). Do not edit the .pb.go files:
// regenerate them with `go generate ./proto/...`, which needs protoc (apt:
// protobuf-compiler) and runs the plugins pinned by go.mod's tool lines;
// TestGeneratedCodeIsFresh checks they match the .proto.
package cairnv1

//go:generate sh -c "go build -o .bin/ google.golang.org/protobuf/cmd/protoc-gen-go google.golang.org/grpc/cmd/protoc-gen-go-grpc && protoc --plugin=protoc-gen-go=.bin/protoc-gen-go --plugin=protoc-gen-go-grpc=.bin/protoc-gen-go-grpc --proto_path=. --go_out=. --go_opt=paths=source_relative --go-grpc_out=. --go-grpc_opt=paths=source_relative cairn.proto; s=$?; rm -rf .bin; exit $s"
