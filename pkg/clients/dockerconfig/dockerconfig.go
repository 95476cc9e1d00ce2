// Package dockerconfig reads registry credentials from a docker config.json (the format of a
// kubernetes.io/dockerconfigjson Secret its Task mounts) for one repository.
package dockerconfig

import (
	"encoding/base64"
	"encoding/json"
	"fmt"
	"os"
	"strings"

	"github.com/release-to-prod/release-to-prod/pkg/step"
)

// Credentials are a username and password (a robot account, or a token as password).
type Credentials struct {
	Username string
	Password string
}

type file struct {
	Auths map[string]struct {
		Auth     string `json:"auth"`
		Username string `json:"username"`
		Password string `json:"password"`
	} `json:"auths"`
}

// Lookup returns the credentials for repository (host/path) from the config.json at path. Keys
// may name a host or a host/path prefix, with or without a scheme; the longest matching prefix
// wins, as podman and Konflux do. ok is false when no key matches.
func Lookup(path, repository string) (c Credentials, ok bool, err error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return Credentials{}, false, fmt.Errorf("reading docker config: %w", err)
	}
	var f file
	if err := json.Unmarshal(b, &f); err != nil {
		// The error of encoding/json quotes no content, so it cannot leak a secret.
		return Credentials{}, false, fmt.Errorf("docker config %s is not valid JSON: %w", path, err)
	}
	best := -1
	for key, a := range f.Auths {
		k := strings.TrimSuffix(strings.TrimPrefix(strings.TrimPrefix(key, "https://"), "http://"), "/")
		k = strings.TrimSuffix(k, "/v1") // docker.io's legacy key
		if !(repository == k || strings.HasPrefix(repository, k+"/")) || len(k) <= best {
			continue
		}
		user, pass := a.Username, a.Password
		if a.Auth != "" {
			raw, err := base64.StdEncoding.DecodeString(a.Auth)
			if err != nil {
				return Credentials{}, false, fmt.Errorf("docker config %s: auth for %s is not base64", path, k)
			}
			var found bool
			user, pass, found = strings.Cut(string(raw), ":")
			if !found {
				return Credentials{}, false, fmt.Errorf("docker config %s: auth for %s is not user:password", path, k)
			}
		}
		best = len(k)
		c = Credentials{Username: user, Password: pass}
	}
	return c, best >= 0, nil
}

// Setting is the registry credentials setting of a step: a dockerconfigjson Secret its Task
// mounts from a volume named by a param (see step.Mounted).
type Setting struct {
	DockerConfigFile   string `env:"DOCKER_CONFIG_FILE" desc:"docker config.json with registry credentials (a Task sets it to the .dockerconfigjson of the mounted registry_secret); empty: anonymous"`
	DockerConfigSecret string `param:"registry_secret" env:"DOCKER_CONFIG_SECRET, default=release-to-prod-registry" desc:"dockerconfigjson Secret with pull credentials for the staging repository and Quay; absent under this default name: anonymous"`
}

// Mount is where the credentials of cfg (a step's config struct embedding Setting) come from.
func (s Setting) Mount(cfg any) step.Mounted {
	return step.MountOf(cfg, "Secret", "DOCKER_CONFIG_SECRET", s.DockerConfigSecret, s.DockerConfigFile)
}
