package bench

import (
	"net"
	"net/http"
	"time"
)

// httpClient keeps many connections per node open: the load generator
// must not be limited by Go's default of two idle connections per host.
func httpClient() *http.Client {
	tr := &http.Transport{
		DialContext:         (&net.Dialer{Timeout: 5 * time.Second, KeepAlive: 30 * time.Second}).DialContext,
		MaxIdleConns:        256,
		MaxIdleConnsPerHost: 64,
		IdleConnTimeout:     90 * time.Second,
	}
	return &http.Client{Transport: tr, Timeout: 60 * time.Second}
}
