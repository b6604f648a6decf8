module github.com/cairn-db/cairn

go 1.26.8

require github.com/oasisprotocol/curve25519-voi v0.0.0-20230904125328-1f23a7beb09a

require (
	golang.org/x/crypto v0.7.0 // indirect
	golang.org/x/sys v0.18.0 // indirect
)
