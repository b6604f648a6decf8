// Package containertest holds the tests that run Cairn the way an operator
// deploys it: the image built from the repository's Dockerfile (a static
// binary FROM scratch, built on the host; nothing is pulled), one
// container per validator (and follower) on private Docker networks, the network written
// by `cairn init --docker` inside a container onto a volume, one data
// volume per validator. Faults are Docker's own: a container disconnected
// from the peer network, two halves on two networks, containers stopped
// with SIGTERM and started again.
//
// The tests run only with -containers (go test ./internal/containertest
// -containers); without a Docker engine they skip, except under CI=true,
// where they fail. Invariants they hold the deployment to:
//
//   - a validator cut off from its peers stops committing while the other
//     three go on, and catches up after it is reconnected;
//   - with the validators split 2|2 no height commits and no two
//     validators disagree on a block; after healing the chain resumes;
//   - stopping and restarting every validator in turn under load loses no
//     acknowledged transaction, and each stops cleanly (exit 0) on SIGTERM;
//   - a validator whose container and data volume are removed is rebuilt
//     by state sync from the others' snapshots, rejoins and agrees with
//     them on every block it holds (TestNodeLoss);
//   - the follower `cairn init --docker` writes, in its own container,
//     holds the same blocks as the validators and answers a search for
//     an acknowledged transaction, which the validators leave to it
//     (TestPartitionOne);
//   - at the end every validator holds the same blocks (hash by hash, via
//     the API) and every acknowledged transaction at the same height.
//
// The host talks to containers only through API ports published on
// 127.0.0.1. Everything a run creates (image, containers, networks,
// volumes) carries the label cairn.containertest=RUN and is removed by
// that label when the test ends, passed or failed.
package containertest
