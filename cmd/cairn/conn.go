package main

import (
	"flag"
	"os"

	"github.com/cairn-db/cairn/client"
)

// The connection flags every client command takes next to --node: the
// API token and the TLS trust (docs/security.md). A command registers them
// through nodeFlag and runs once per process, so one set of values is
// enough.
var conn struct {
	token, ca, cert, key *string
}

func envOr(name string) string { return os.Getenv(name) }

// connFlagsOn registers --token, --ca, --cert and --cert-key on fs.
func connFlagsOn(fs *flag.FlagSet) {
	conn.token = fs.String("token", envOr("CAIRN_TOKEN"), "API bearer `TOKEN` (default: $CAIRN_TOKEN; `cairn token create`)")
	conn.ca = fs.String("ca", envOr("CAIRN_CA"), "PEM `FILE` of the CA (or self-signed certificate) an https node is trusted by (default: $CAIRN_CA)")
	conn.cert = fs.String("cert", envOr("CAIRN_CERT"), "PEM client certificate `FILE`, for a node that asks for one (default: $CAIRN_CERT)")
	conn.key = fs.String("cert-key", envOr("CAIRN_CERT_KEY"), "PEM key `FILE` of --cert (default: $CAIRN_CERT_KEY)")
}

// connOptions turns the connection flags (or, for commands without them,
// the environment) into client options.
func connOptions() ([]client.Option, error) {
	val := func(p *string, env string) string {
		if p != nil {
			return *p
		}
		return os.Getenv(env)
	}
	var opts []client.Option
	if t := val(conn.token, "CAIRN_TOKEN"); t != "" {
		opts = append(opts, client.WithToken(t))
	}
	if ca := val(conn.ca, "CAIRN_CA"); ca != "" {
		opts = append(opts, client.WithCA(ca))
	}
	cert, key := val(conn.cert, "CAIRN_CERT"), val(conn.key, "CAIRN_CERT_KEY")
	if cert != "" || key != "" {
		opts = append(opts, client.WithClientCert(cert, key))
	}
	return opts, nil
}
