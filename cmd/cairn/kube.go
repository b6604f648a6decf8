package main

import (
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"

	"github.com/cairn-db/cairn/client"
	"github.com/cairn-db/cairn/internal/devnet"
	"github.com/cairn-db/cairn/internal/node"
)

// The layout deploy/kubernetes/statefulset.yaml mounts into each pod
// cairn-N (and follower.yaml into each cairn-follower-N): its config.json
// (from the ConfigMap cairn-config) as the home, its own key (from the
// Secret cairn-keys) and the genesis (ConfigMap cairn-genesis), each
// selected by the pod's name.
const (
	kubeName            = "cairn"
	kubeFollowerName    = "cairn-follower"
	kubeGenesisPath     = "/cairn/genesis/genesis.json"
	kubeKeyPath         = "/cairn/key/validator.key"
	kubeFollowerKeyPath = "/cairn/key/follower.key"
)

// kubeOptions lays a network out for the StatefulSets: validators named
// cairn-0.., reached through the headless Service as cairn-N.cairn, and
// followers cairn-follower-0.., whose APIs the validators name to clients
// for search as cairn-follower-N.cairn-follower (and they the validators'
// for writes).
func kubeOptions(o devnet.Options) devnet.Options {
	o.Containers, o.NamePrefix, o.PeerSuffix = true, kubeName+"-", "."+kubeName
	o.FollowerPrefix = kubeFollowerName + "-"
	validators := o.Validators
	o.Tune = func(i int, c *node.Config) {
		c.Genesis, c.Key = kubeGenesisPath, kubeKeyPath
		if i >= validators {
			c.Key = kubeFollowerKeyPath
		}
	}
	o.ClientAPI = func(i int, name string) string {
		service := kubeName
		if i >= validators {
			service = kubeFollowerName
		}
		return fmt.Sprintf("http://%s.%s:%d", name, service, devnet.ContainerAPIPort)
	}
	return o
}

// writeKubernetes writes DIR/kubernetes/: the ConfigMaps cairn-genesis and
// cairn-config and the Secret cairn-keys (one entry per validator and
// follower, keyed by pod name), as JSON manifests for kubectl apply.
func writeKubernetes(nw *client.Network) (string, error) {
	dir := filepath.Join(nw.Dir, "kubernetes")
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return "", fmt.Errorf("kubernetes: %w", err)
	}
	read := func(p string) (string, error) {
		b, err := os.ReadFile(p)
		if err != nil {
			return "", fmt.Errorf("kubernetes: %w", err)
		}
		return string(b), nil
	}
	genesis, err := read(filepath.Join(nw.Dir, "genesis.json"))
	if err != nil {
		return "", err
	}
	configs, keys := map[string]string{}, map[string]string{}
	members := append(append([]client.NetworkNode(nil), nw.Nodes...), nw.Followers...)
	for i, n := range members {
		keyFile := "validator.key"
		if i >= len(nw.Nodes) {
			keyFile = "follower.key"
		}
		if configs[n.Name+".json"], err = read(filepath.Join(n.Home, "config.json")); err != nil {
			return "", err
		}
		if keys[n.Name+".key"], err = read(filepath.Join(n.Home, keyFile)); err != nil {
			return "", err
		}
	}
	meta := func(name string) map[string]any {
		return map[string]any{"name": name, "labels": map[string]string{"app.kubernetes.io/name": kubeName}}
	}
	objs := []struct {
		file string
		mode os.FileMode
		obj  map[string]any
	}{
		{"genesis-configmap.json", 0o644, map[string]any{"apiVersion": "v1", "kind": "ConfigMap", "metadata": meta(kubeName + "-genesis"), "data": map[string]string{"genesis.json": genesis}}},
		{"config-configmap.json", 0o644, map[string]any{"apiVersion": "v1", "kind": "ConfigMap", "metadata": meta(kubeName + "-config"), "data": configs}},
		{"keys-secret.json", 0o600, map[string]any{"apiVersion": "v1", "kind": "Secret", "type": "Opaque", "metadata": meta(kubeName + "-keys"), "stringData": keys}},
	}
	for _, o := range objs {
		b, err := json.MarshalIndent(o.obj, "", "  ")
		if err != nil {
			return "", fmt.Errorf("kubernetes: %w", err)
		}
		if err := os.WriteFile(filepath.Join(dir, o.file), append(b, '\n'), o.mode); err != nil {
			return "", fmt.Errorf("kubernetes: %w", err)
		}
	}
	return dir, nil
}
