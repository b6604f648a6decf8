package main

import (
	"fmt"
	"slices"
	"strings"
	"testing"

	"sigs.k8s.io/yaml"
)

// composeFile is the part of deploy/compose.yaml the checks below read.
type composeFile struct {
	Services map[string]struct {
		Image     string            `json:"image"`
		Command   []string          `json:"command"`
		Volumes   []string          `json:"volumes"`
		Ports     []string          `json:"ports"`
		Networks  []string          `json:"networks"`
		DependsOn map[string]any    `json:"depends_on"`
		Health    map[string]any    `json:"healthcheck"`
		Env       map[string]string `json:"environment"`
	} `json:"services"`
	Volumes map[string]any `json:"volumes"`
}

// deploy/compose.yaml runs what cairn init --docker writes: validators
// and followers named as init names them, each with its own data volume, the network
// volume read-only, APIs published on 127.0.0.1 only, after init.
func TestComposeFile(t *testing.T) {
	var f composeFile
	if err := yaml.Unmarshal([]byte(readRepoFile(t, "deploy/compose.yaml")), &f); err != nil {
		t.Fatal(err)
	}
	init, ok := f.Services["init"]
	if !ok || !slices.Contains(init.Command, "--docker") || !slices.Contains(init.Command, "--exist-ok") || !slices.Contains(init.Volumes, "network:/cairn") {
		t.Fatalf("compose: want an init service running cairn init --docker --exist-ok onto the network volume, got %+v", init)
	}
	n, followers := 0, 0
	dataVolumes := map[string]bool{}
	for name, s := range f.Services {
		if name == "init" {
			continue
		}
		if strings.HasPrefix(name, "follower") {
			followers++
		} else {
			n++
		}
		if want := []string{"node", "--home", "/cairn/" + name}; !slices.Equal(s.Command, want) {
			t.Errorf("%s runs %v, want %v (init --docker names its validators node0.., its followers follower0..)", name, s.Command, want)
		}
		if !slices.Contains(s.Volumes, "network:/cairn:ro") {
			t.Errorf("%s does not mount the network volume read-only", name)
		}
		data := name + "-data:/data"
		if !slices.Contains(s.Volumes, data) {
			t.Errorf("%s: want its own data volume %s", name, data)
		}
		dataVolumes[name+"-data"] = true
		if _, ok := f.Volumes[name+"-data"]; !ok {
			t.Errorf("volume %s-data is not declared", name)
		}
		if len(s.Ports) != 1 || !strings.HasPrefix(s.Ports[0], "127.0.0.1:") || !strings.HasSuffix(s.Ports[0], ":8080") {
			t.Errorf("%s publishes %v, want its API on 127.0.0.1 only", name, s.Ports)
		}
		if c, _ := s.DependsOn["init"].(map[string]any); c == nil || c["condition"] != "service_completed_successfully" {
			t.Errorf("%s does not wait for init to complete", name)
		}
		if test := fmt.Sprint(s.Health["test"]); !strings.Contains(test, "/usr/local/bin/cairn health") {
			t.Errorf("%s health check %s, want cairn health", name, test)
		}
	}
	if n != 4 || followers != 1 || len(dataVolumes) != 5 {
		t.Errorf("%d validators and %d followers with %d data volumes, want 4, 1 and 5", n, followers, len(dataVolumes))
	}
	if i := slices.Index(init.Command, "--validators"); i < 0 || i+1 >= len(init.Command) || init.Command[i+1] != fmt.Sprint(n) {
		t.Errorf("init runs %v, compose runs %d validators", init.Command, n)
	}
	if i := slices.Index(init.Command, "--followers"); i < 0 || i+1 >= len(init.Command) || init.Command[i+1] != fmt.Sprint(followers) {
		t.Errorf("init runs %v, compose runs %d followers", init.Command, followers)
	}
}
