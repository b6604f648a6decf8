package blobstore_test

import (
	"context"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/cairn-db/cairn/internal/natstest"
)

// streamState describes a stream's replicas as its leader sees them, for
// the logs of the failure tests.
func streamState(t *testing.T, c *natstest.Cluster, name string) string {
	nc, err := nats.Connect(strings.Join(c.URLs(), ","))
	if err != nil {
		return err.Error()
	}
	defer nc.Close()
	js, _ := jetstream.New(nc)
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Second)
	defer cancel()
	st, err := js.Stream(ctx, name)
	if err != nil {
		return err.Error()
	}
	i := st.CachedInfo()
	s := fmt.Sprintf("msgs=%d leader=%s", i.State.Msgs, i.Cluster.Leader)
	for _, r := range i.Cluster.Replicas {
		s += fmt.Sprintf(" %s(current=%v lag=%d)", r.Name, r.Current, r.Lag)
	}
	return s
}
