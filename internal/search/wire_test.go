package search

import "github.com/cairn-db/cairn/client"

// Short names for the wire types of GET /v1/search (package client) in
// this package's tests.
type (
	Request = client.SearchRequest
	Result  = client.SearchResult
	Hit     = client.SearchHit
)
