package main

import (
	"bytes"
	"encoding/json"
	"fmt"
	"maps"
	"net"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"testing"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	policyv1 "k8s.io/api/policy/v1"
	"sigs.k8s.io/yaml"

	"github.com/cairn-db/cairn/internal/node"
)

// The Kubernetes manifests cannot be applied here (no cluster), so they are
// checked in two layers. Shape: every document is decoded strictly into the
// Kubernetes API's own Go types (k8s.io/api, from which the published
// OpenAPI/JSON schemas are generated), so an unknown or misspelt field, a
// duplicate field or a wrong type fails. Meaning: the references between
// the objects and to what `cairn init --kubernetes` writes (names, labels,
// ports, mounts, paths, the image's user) are checked one by one.

// kubeObjects decodes every document of the files, strictly, by kind.
func kubeObjects(t *testing.T, files ...string) map[string][]any {
	t.Helper()
	objs := map[string][]any{}
	for _, f := range files {
		b, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		for k, doc := range regexp.MustCompile(`(?m)^---\s*$`).Split(string(b), -1) {
			if strings.TrimSpace(stripComments(doc)) == "" {
				continue
			}
			var head struct {
				APIVersion string `json:"apiVersion"`
				Kind       string `json:"kind"`
			}
			if err := yaml.Unmarshal([]byte(doc), &head); err != nil {
				t.Fatalf("%s document %d: %v", f, k, err)
			}
			var obj any
			switch head.APIVersion + " " + head.Kind {
			case "apps/v1 StatefulSet":
				obj = &appsv1.StatefulSet{}
			case "v1 Service":
				obj = &corev1.Service{}
			case "v1 ConfigMap":
				obj = &corev1.ConfigMap{}
			case "v1 Secret":
				obj = &corev1.Secret{}
			case "policy/v1 PodDisruptionBudget":
				obj = &policyv1.PodDisruptionBudget{}
			default:
				t.Fatalf("%s document %d: unexpected %q %q", f, k, head.APIVersion, head.Kind)
			}
			if err := yaml.UnmarshalStrict([]byte(doc), obj); err != nil {
				t.Fatalf("%s document %d (%s): %v", f, k, head.Kind, err)
			}
			objs[head.Kind] = append(objs[head.Kind], obj)
		}
	}
	return objs
}

func stripComments(doc string) string {
	var b strings.Builder
	for _, l := range strings.Split(doc, "\n") {
		if !strings.HasPrefix(strings.TrimSpace(l), "#") {
			b.WriteString(l + "\n")
		}
	}
	return b.String()
}

func TestKubernetesManifests(t *testing.T) {
	dir := t.TempDir()
	var out, errb bytes.Buffer
	if code := dispatch([]string{"init", "--kubernetes", "--home", dir}, &out, &errb); code != 0 {
		t.Fatalf("init --kubernetes: %d %s", code, errb.String())
	}
	gen, err := filepath.Glob(filepath.Join(dir, "kubernetes", "*.json"))
	if err != nil || len(gen) != 3 {
		t.Fatalf("init --kubernetes wrote %v (%v), want 3 manifests", gen, err)
	}
	static, err := filepath.Glob(filepath.Join("..", "..", "deploy", "kubernetes", "*.yaml"))
	if err != nil || len(static) == 0 {
		t.Fatalf("deploy/kubernetes: %v %v", static, err)
	}
	objs := kubeObjects(t, append(static, gen...)...)
	for _, k := range []string{"StatefulSet", "Service", "ConfigMap", "Secret", "PodDisruptionBudget"} {
		if len(objs[k]) == 0 {
			t.Fatalf("no %s among the manifests", k)
		}
	}
	sets := map[string]*appsv1.StatefulSet{}
	for _, o := range objs["StatefulSet"] {
		sets[o.(*appsv1.StatefulSet).Name] = o.(*appsv1.StatefulSet)
	}
	ss, fs := sets[kubeName], sets[kubeFollowerName]
	if len(sets) != 2 || ss == nil || fs == nil {
		t.Fatalf("StatefulSets %v, want the validators' %s and the followers' %s", slices.Collect(maps.Keys(sets)), kubeName, kubeFollowerName)
	}
	configMaps, secrets, services := map[string]*corev1.ConfigMap{}, map[string]*corev1.Secret{}, map[string]*corev1.Service{}
	for _, o := range objs["ConfigMap"] {
		configMaps[o.(*corev1.ConfigMap).Name] = o.(*corev1.ConfigMap)
	}
	for _, o := range objs["Secret"] {
		secrets[o.(*corev1.Secret).Name] = o.(*corev1.Secret)
	}
	for _, o := range objs["Service"] {
		services[o.(*corev1.Service).Name] = o.(*corev1.Service)
	}

	m := kubeSet{configMaps: configMaps, secrets: secrets, services: services, validators: ss, followers: fs}
	pod := ss.Spec.Template
	n := m.check(t, ss, "validator.key")
	if n < 4 {
		t.Fatalf("replicas %d: a BFT network needs at least 4", n)
	}
	if hl := services[ss.Spec.ServiceName]; !hl.Spec.PublishNotReadyAddresses {
		t.Errorf("Service %s: want publishNotReadyAddresses (a validator is ready only once its peers find it)", hl.Name)
	}
	f := m.check(t, fs, "follower.key")
	if f < 1 {
		t.Errorf("follower replicas %d, want at least 1", f)
	}
	for _, s := range services {
		if selects(s.Spec.Selector, pod.Labels) == selects(s.Spec.Selector, fs.Spec.Template.Labels) {
			t.Errorf("Service %s selects %v: want either the validator or the follower pods", s.Name, s.Spec.Selector)
		}
	}
	if selects(ss.Spec.Selector.MatchLabels, fs.Spec.Template.Labels) || selects(fs.Spec.Selector.MatchLabels, pod.Labels) {
		t.Error("the two StatefulSets' selectors overlap")
	}
	if cfgs := configMaps[kubeName+"-config"]; len(cfgs.Data) != n+f {
		t.Errorf("%d configs for %d validators and %d followers", len(cfgs.Data), n, f)
	}
	if keys := secrets[kubeName+"-keys"]; len(keys.StringData) != n+f {
		t.Errorf("%d keys for %d validators and %d followers", len(keys.StringData), n, f)
	}

	// The budget: at most f = (n-1)/3 validators away at once.
	for _, o := range objs["PodDisruptionBudget"] {
		pdb := o.(*policyv1.PodDisruptionBudget)
		if pdb.Spec.Selector == nil || !selects(pdb.Spec.Selector.MatchLabels, pod.Labels) {
			t.Errorf("PodDisruptionBudget %s does not select the validators", pdb.Name)
		}
		if mu := pdb.Spec.MaxUnavailable; mu == nil || mu.IntValue() < 1 || mu.IntValue() > (n-1)/3 {
			t.Errorf("PodDisruptionBudget %s: maxUnavailable %v, want 1..%d", pdb.Name, mu, (n-1)/3)
		}
	}
}

func selects(selector, labels map[string]string) bool {
	if len(selector) == 0 {
		return false
	}
	for k, v := range selector {
		if labels[k] != v {
			return false
		}
	}
	return true
}

func hasEnvFromField(env []corev1.EnvVar, name, path string) bool {
	for _, e := range env {
		if e.Name == name && e.ValueFrom != nil && e.ValueFrom.FieldRef != nil && e.ValueFrom.FieldRef.FieldPath == path {
			return true
		}
	}
	return false
}

func mountOf(t *testing.T, mounts map[string]corev1.VolumeMount, volume string) corev1.VolumeMount {
	t.Helper()
	for _, m := range mounts {
		if m.Name == volume {
			return m
		}
	}
	t.Fatalf("volume %s is not mounted", volume)
	return corev1.VolumeMount{}
}

func port(t *testing.T, addr string) int32 {
	t.Helper()
	_, p, err := net.SplitHostPort(addr)
	if err != nil {
		t.Fatal(err)
	}
	v, err := strconv.Atoi(p)
	if err != nil {
		t.Fatal(err)
	}
	return int32(v)
}

// kubeSet checks one StatefulSet (validators or followers) against the
// Services and what cairn init --kubernetes wrote.
type kubeSet struct {
	configMaps            map[string]*corev1.ConfigMap
	secrets               map[string]*corev1.Secret
	services              map[string]*corev1.Service
	validators, followers *appsv1.StatefulSet
}

// check checks ss's pods (their key mounted as keyFile) and returns its
// replicas.
func (m kubeSet) check(t *testing.T, ss *appsv1.StatefulSet, keyFile string) int {
	t.Helper()
	configMaps, secrets, services := m.configMaps, m.secrets, m.services
	// The StatefulSet: selector, replicas, headless Service, start policy.
	pod := ss.Spec.Template
	if ss.Spec.Selector == nil || !selects(ss.Spec.Selector.MatchLabels, pod.Labels) {
		t.Fatalf("StatefulSet %s selector %v does not select its pods %v", ss.Name, ss.Spec.Selector, pod.Labels)
	}
	if ss.Spec.Replicas == nil {
		t.Fatalf("StatefulSet %s: no replicas", ss.Name)
	}
	n := int(*ss.Spec.Replicas)
	if ss.Spec.PodManagementPolicy != appsv1.ParallelPodManagement {
		t.Errorf("podManagementPolicy %q: an ordered start waits forever for cairn-0 to be ready, which needs a quorum", ss.Spec.PodManagementPolicy)
	}
	hl, ok := services[ss.Spec.ServiceName]
	if !ok || hl.Spec.ClusterIP != corev1.ClusterIPNone || !selects(hl.Spec.Selector, pod.Labels) {
		t.Fatalf("serviceName %q: want a headless Service selecting the pods", ss.Spec.ServiceName)
	}

	// The container: image user, probes, ports, mounts.
	if len(pod.Spec.Containers) != 1 {
		t.Fatalf("%d containers, want 1", len(pod.Spec.Containers))
	}
	c := pod.Spec.Containers[0]
	sc := pod.Spec.SecurityContext
	if sc == nil || sc.RunAsNonRoot == nil || !*sc.RunAsNonRoot || sc.RunAsUser == nil || sc.FSGroup == nil {
		t.Fatal("pod securityContext: want runAsNonRoot, runAsUser and fsGroup")
	}
	dockerfile := readRepoFile(t, "Dockerfile")
	if want := fmt.Sprintf("\nUSER %d:", *sc.RunAsUser); !strings.Contains(dockerfile, want) {
		t.Errorf("runAsUser %d is not the Dockerfile's USER", *sc.RunAsUser)
	}
	ports := map[string]int32{}
	for _, p := range c.Ports {
		ports[p.Name] = p.ContainerPort
	}
	for _, s := range services {
		if !selects(s.Spec.Selector, pod.Labels) {
			continue
		}
		for _, p := range s.Spec.Ports {
			if _, ok := ports[p.TargetPort.String()]; !ok {
				t.Errorf("Service %s port %s targets %q, which the container does not name", s.Name, p.Name, p.TargetPort.String())
			}
		}
	}
	for what, pr := range map[string]*corev1.Probe{"/readyz": c.ReadinessProbe, "/healthz": c.LivenessProbe} {
		if pr == nil || pr.HTTPGet == nil || pr.HTTPGet.Path != what {
			t.Errorf("want a probe on GET %s", what)
			continue
		}
		if _, ok := ports[pr.HTTPGet.Port.String()]; !ok {
			t.Errorf("probe %s on port %q, which the container does not name", what, pr.HTTPGet.Port.String())
		}
	}
	if !hasEnvFromField(c.Env, "POD_NAME", "metadata.name") {
		t.Error("the container needs POD_NAME from metadata.name for its subPathExpr mounts")
	}
	volumes := map[string]corev1.Volume{}
	for _, v := range pod.Spec.Volumes {
		volumes[v.Name] = v
	}
	claims := map[string]bool{}
	for _, pvc := range ss.Spec.VolumeClaimTemplates {
		claims[pvc.Name] = true
		if len(pvc.Spec.AccessModes) != 1 || pvc.Spec.AccessModes[0] != corev1.ReadWriteOnce || pvc.Spec.Resources.Requests.Storage().IsZero() {
			t.Errorf("claim template %s: want one ReadWriteOnce claim with a storage request", pvc.Name)
		}
	}
	mounts := map[string]corev1.VolumeMount{}
	for _, m := range c.VolumeMounts {
		if _, ok := volumes[m.Name]; !ok && !claims[m.Name] {
			t.Errorf("mount %s names no volume or claim template", m.Name)
		}
		mounts[m.MountPath] = m
	}

	// Every generated config agrees with the pod: names, peers' DNS names
	// under the headless Service, ports, and the paths it mounts.
	cfgMap := volumes["config"].ConfigMap
	keyVol := volumes["keys"].Secret
	genVol := volumes["genesis"].ConfigMap
	if cfgMap == nil || keyVol == nil || genVol == nil {
		t.Fatal("want volumes config (ConfigMap), keys (Secret) and genesis (ConfigMap)")
	}
	configs, ok1 := configMaps[cfgMap.Name]
	keys, ok2 := secrets[keyVol.SecretName]
	genesis, ok3 := configMaps[genVol.Name]
	if !ok1 || !ok2 || !ok3 {
		t.Fatalf("init --kubernetes does not write %s, %s and %s", cfgMap.Name, keyVol.SecretName, genVol.Name)
	}
	if _, ok := genesis.Data["genesis.json"]; !ok {
		t.Errorf("ConfigMap %s has no genesis.json", genesis.Name)
	}
	if len(cfgMap.Items) != n || len(keyVol.Items) != n {
		t.Fatalf("%s: %d replicas but %d config items, %d key items", ss.Name, n, len(cfgMap.Items), len(keyVol.Items))
	}
	if keyVol.DefaultMode == nil || *keyVol.DefaultMode&0o007 != 0 {
		t.Error("the keys Secret must not be readable by others (defaultMode)")
	}
	home, keyDir, genDir := mountOf(t, mounts, "config"), mountOf(t, mounts, "keys"), mountOf(t, mounts, "genesis")
	if home.SubPathExpr != "$(POD_NAME)" || keyDir.SubPathExpr != "$(POD_NAME)" {
		t.Error("config and keys must be mounted per pod (subPathExpr: $(POD_NAME)), so a pod sees only its own key")
	}
	for i := 0; i < n; i++ {
		pod := fmt.Sprintf("%s-%d", ss.Name, i)
		if cfgMap.Items[i].Key != pod+".json" || cfgMap.Items[i].Path != pod+"/config.json" {
			t.Errorf("config item %d: %+v, want %s.json at %s/config.json", i, cfgMap.Items[i], pod, pod)
		}
		if keyVol.Items[i].Key != pod+".key" || keyVol.Items[i].Path != pod+"/"+keyFile {
			t.Errorf("key item %d: %+v, want %s.key at %s/%s", i, keyVol.Items[i], pod, pod, keyFile)
		}
		raw, ok := configs.Data[pod+".json"]
		if !ok {
			t.Fatalf("no config for pod %s", pod)
		}
		if _, ok := keys.StringData[pod+".key"]; !ok {
			t.Fatalf("no key for pod %s", pod)
		}
		cfg := node.DefaultConfig(home.MountPath)
		if err := json.Unmarshal([]byte(raw), &cfg); err != nil {
			t.Fatalf("config of %s: %v", pod, err)
		}
		if err := cfg.Check(); err != nil {
			t.Errorf("config of %s: %v", pod, err)
		}
		if cfg.Name != pod {
			t.Errorf("config of %s names %q", pod, cfg.Name)
		}
		if cfg.Key != keyDir.MountPath+"/"+keyFile || cfg.Genesis != genDir.MountPath+"/genesis.json" {
			t.Errorf("config of %s: key %q, genesis %q; the pod mounts them under %s and %s", pod, cfg.Key, cfg.Genesis, keyDir.MountPath, genDir.MountPath)
		}
		if m, ok := mounts[cfg.DataDir]; !ok || !claims[m.Name] {
			t.Errorf("config of %s keeps data in %q, which is not the claim's mount", pod, cfg.DataDir)
		}
		if port(t, cfg.APIAddr) != ports["api"] || port(t, cfg.P2PAddr) != ports["p2p"] {
			t.Errorf("config of %s listens on %s and %s; the container names ports %v", pod, cfg.APIAddr, cfg.P2PAddr, ports)
		}
		m.checkRole(t, ss, cfg)
		for _, p := range cfg.Peers {
			if want := fmt.Sprintf("%s.%s:%d", p.Name, m.validators.Spec.ServiceName, ports["p2p"]); p.Addr != want {
				t.Errorf("config of %s dials %s at %s, want %s (the headless Service's name for it)", pod, p.Name, p.Addr, want)
			}
		}
	}
	return n
}

// checkRole checks what a config names by its role: a validator dials the
// other validators, admits every follower and sends searches to the
// followers' pod names; a follower dials every validator and sends writes
// to their pod names.
func (m kubeSet) checkRole(t *testing.T, ss *appsv1.StatefulSet, cfg node.Config) {
	t.Helper()
	podURLs := func(set *appsv1.StatefulSet) []string {
		var urls []string
		for i := 0; i < int(*set.Spec.Replicas); i++ {
			urls = append(urls, fmt.Sprintf("http://%s-%d.%s:%d", set.Name, i, set.Spec.ServiceName, 8080))
		}
		return urls
	}
	nv, nf := int(*m.validators.Spec.Replicas), int(*m.followers.Spec.Replicas)
	if ss == m.followers {
		if cfg.Role != node.RoleFollower || len(cfg.Peers) != nv {
			t.Errorf("config of %s: role %q with %d peers, want a follower dialing the %d validators", cfg.Name, cfg.Role, len(cfg.Peers), nv)
		}
		if !slices.Equal(cfg.SubmitTo, podURLs(m.validators)) {
			t.Errorf("config of %s sends writes to %v, want the validators' pods %v", cfg.Name, cfg.SubmitTo, podURLs(m.validators))
		}
		return
	}
	if cfg.Role == node.RoleFollower || len(cfg.Peers) != nv-1 || len(cfg.Followers) != nf {
		t.Errorf("config of %s: role %q, %d peers, %d followers; want a validator with %d and %d", cfg.Name, cfg.Role, len(cfg.Peers), len(cfg.Followers), nv-1, nf)
	}
	if cfg.Search.Index == "on" || !slices.Equal(cfg.Search.Elsewhere, podURLs(m.followers)) {
		t.Errorf("config of %s: search %+v, want it left to the followers' pods %v", cfg.Name, cfg.Search, podURLs(m.followers))
	}
}
