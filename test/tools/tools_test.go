package tools

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestLdflags(t *testing.T) {
	for _, tc := range []struct {
		name, module, gomod string
		want                []string // substrings of the flags
		wantErr             string
	}{
		{name: "kube is stamped with the pinned version", module: "kube",
			gomod: "module x\n\nrequire (\n\tgo.etcd.io/etcd/server/v3 v3.7.0\n\tk8s.io/kubernetes v1.37.2\n)\n",
			want:  []string{"-s -w", "version.gitVersion=v1.37.2", "version.gitMajor=1", "version.gitMinor=37"}},
		{name: "other modules are only stripped", module: "tekton", gomod: "module x\n", want: []string{"-s -w"}},
		{name: "tkn is stamped with the pinned version", module: "tkn", gomod: "module x\n\nrequire github.com/tektoncd/cli v0.45.0\n",
			want: []string{"-s -w", "version.clientVersion=v0.45.0"}},
		{name: "tkn without a cli requirement", module: "tkn", gomod: "module x\n", wantErr: "no github.com/tektoncd/cli"},
		{name: "kube without a kubernetes requirement", module: "kube", gomod: "module x\n", wantErr: "no k8s.io/kubernetes"},
		{name: "kube with a malformed version", module: "kube", gomod: "module x\nrequire k8s.io/kubernetes v1\n", wantErr: "no k8s.io/kubernetes"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			dir := t.TempDir()
			if err := os.WriteFile(filepath.Join(dir, "go.mod"), []byte(tc.gomod), 0o644); err != nil {
				t.Fatal(err)
			}
			got, err := ldflags(dir, tc.module)
			if tc.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
					t.Fatalf("ldflags error = %v, want one containing %q", err, tc.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			for _, w := range tc.want {
				if !strings.Contains(got, w) {
					t.Errorf("ldflags = %q, want it to contain %q", got, w)
				}
			}
			if tc.module != "kube" && tc.module != "tkn" && strings.Contains(got, "-X") {
				t.Errorf("ldflags = %q: only the kube and tkn modules are stamped", got)
			}
		})
	}
}

// The relink that stamps the version must happen: the flags are part of the cache key.
func TestCacheKeyIncludesFlags(t *testing.T) {
	dir := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, "go.mod"), []byte("module x\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	a, err := cacheKey(dir, "-s -w")
	if err != nil {
		t.Fatal(err)
	}
	b, err := cacheKey(dir, "-s -w -X k8s.io/component-base/version.gitVersion=v1.37.2")
	if err != nil {
		t.Fatal(err)
	}
	if a == b {
		t.Fatalf("cache key %s is the same for different link flags", a)
	}
}

func TestSelect(t *testing.T) {
	for _, tc := range []struct {
		names   []string
		want    []string
		wantErr bool
	}{
		{names: nil, want: names(All)},
		{names: []string{"kubelet", "tekton-controller"}, want: []string{"kubelet", "tekton-controller"}},
		{names: []string{"kubelet", "no-such-tool"}, wantErr: true},
	} {
		got, err := Select(tc.names)
		if tc.wantErr {
			if err == nil {
				t.Errorf("Select(%v): want an error", tc.names)
			}
			continue
		}
		if err != nil {
			t.Fatalf("Select(%v): %v", tc.names, err)
		}
		if strings.Join(names(got), ",") != strings.Join(tc.want, ",") {
			t.Errorf("Select(%v) = %v, want %v", tc.names, names(got), tc.want)
		}
	}
}

func names(ts []Tool) []string {
	var out []string
	for _, t := range ts {
		out = append(out, t.Name)
	}
	return out
}

// The resolvers are built from a module of their own (so that adding them left the cached
// controller untouched): they must stay at the Tekton version the controller and the project
// pin, or the node would run a controller and resolvers of two releases.
func TestResolversPinTheControllersTekton(t *testing.T) {
	version := func(path string) string {
		t.Helper()
		b, err := os.ReadFile(path)
		if err != nil {
			t.Fatal(err)
		}
		for _, line := range strings.Split(string(b), "\n") {
			f := strings.Fields(strings.TrimPrefix(strings.TrimSpace(line), "require "))
			if len(f) >= 2 && f[0] == "github.com/tektoncd/pipeline" {
				return f[1]
			}
		}
		t.Fatalf("%s: no github.com/tektoncd/pipeline requirement", path)
		return ""
	}
	project, controller, resolvers := version("../../go.mod"), version("tekton/go.mod"), version("resolvers/go.mod")
	if controller != project || resolvers != project {
		t.Errorf("github.com/tektoncd/pipeline: project %s, controller (tekton/) %s, resolvers (resolvers/) %s: pin one version", project, controller, resolvers)
	}
}
