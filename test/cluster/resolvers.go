package cluster

import (
	"context"
	"fmt"
	"maps"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"

	"github.com/release-to-prod/release-to-prod/test/tools"
)

// ResolversNamespace is where Tekton's resolvers and their ConfigMaps live.
const ResolversNamespace = "tekton-pipelines-resolvers"

// KonfluxResolverFlags are the entries of the resolvers-feature-flags ConfigMap a Konflux
// cluster sets (through its TektonConfig, whose defaults turn every resolver on): the git
// resolver fetches a Pipeline a PipelineRun names by URL and revision, the bundles resolver one
// from an OCI bundle. The others stay as the release ships them.
var KonfluxResolverFlags = map[string]string{
	"enable-git-resolver":     "true",
	"enable-bundles-resolver": "true",
}

// ResolverOptions configure StartResolvers.
type ResolverOptions struct {
	// GitURLRewrites maps a host's base URL (https://github.com/) to another
	// (GitServer.Base): git, run by the git resolver, fetches every URL under the first from
	// the second (git's url.<base>.insteadOf). A PipelineRun that names the real host then runs
	// unchanged, as Mirrors does for images; nothing is fetched from the real host (the
	// namespace has no route out anyway).
	GitURLRewrites map[string]string
	// GitResolverConfig overrides entries of the git-resolver-config ConfigMap.
	GitResolverConfig map[string]string
}

// StartResolvers installs Tekton's resolvers' namespace and ConfigMaps from the module source
// the resolvers are built from (config/resolvers), with KonfluxResolverFlags, and runs the
// resolvers (cmd/resolvers, the version the controller is) as a process in the cluster's
// network namespace, with the environment their Deployment sets. Like the controller here, they
// act with the admin's credentials instead of their ServiceAccount's. Stop ends them.
func (c *Cluster) StartResolvers(ctx context.Context, o ResolverOptions) error {
	bin, err := tools.Path(ctx, tools.TektonResolvers, c.log)
	if err != nil {
		return fmt.Errorf("cluster: resolvers: %w", err)
	}
	if err := c.installResolverConfig(ctx, o.GitResolverConfig); err != nil {
		return err
	}
	env, err := c.resolverEnv(o.GitURLRewrites)
	if err != nil {
		return err
	}
	if _, err := c.startDaemon("tekton-resolvers", env, bin, "-kubeconfig="+filepath.Join(c.Dir, "kubeconfig")); err != nil {
		return fmt.Errorf("cluster: %w", err)
	}
	// The resolvers reconcile once they hold their leases (knative's leader election, one
	// lease per reconciler and bucket): until then a ResolutionRequest would wait.
	return c.WaitFor(ctx, "the git and bundles resolvers to hold their leases", 2*time.Minute, func(ctx context.Context) (bool, error) {
		leases, err := c.Client.CoordinationV1().Leases(ResolversNamespace).List(ctx, metav1.ListOptions{})
		if err != nil {
			return false, nil
		}
		held := map[string]bool{}
		for _, l := range leases.Items {
			if l.Spec.HolderIdentity != nil && *l.Spec.HolderIdentity != "" {
				held[strings.ToLower(l.Name)] = true
			}
		}
		return leaseHeld(held, "git") && leaseHeld(held, "bundle"), nil
	})
}

// installResolverConfig creates the resolvers' namespace and ConfigMaps from config/resolvers,
// with KonfluxResolverFlags and gitConfig over the release's entries.
func (c *Cluster) installResolverConfig(ctx context.Context, gitConfig map[string]string) error {
	dir, err := tools.ModuleDir(ctx, "resolvers", "github.com/tektoncd/pipeline")
	if err != nil {
		return fmt.Errorf("cluster: resolvers: %w", err)
	}
	files, err := filepath.Glob(filepath.Join(dir, "config", "resolvers", "*.yaml"))
	if err != nil || len(files) == 0 {
		return fmt.Errorf("cluster: resolvers: no YAML under %s/config/resolvers", dir)
	}
	slices.Sort(files) // 100-namespace.yaml first
	overrides := map[string]map[string]string{
		"resolvers-feature-flags": KonfluxResolverFlags,
		"git-resolver-config":     gitConfig,
	}
	for _, f := range files {
		objs, err := readObjects(f)
		if err != nil {
			return fmt.Errorf("cluster: resolvers: %w", err)
		}
		for _, obj := range objs {
			// The Deployment and Service are what this process stands for; RBAC is not needed
			// with the admin's credentials.
			if k := obj.GetKind(); k != "Namespace" && k != "ConfigMap" {
				continue
			}
			for k, v := range overrides[obj.GetName()] {
				if err := unstructured.SetNestedField(obj.Object, v, "data", k); err != nil {
					return fmt.Errorf("cluster: resolvers: %s: %w", obj.GetName(), err)
				}
			}
			if err := c.create(ctx, obj); err != nil {
				return fmt.Errorf("cluster: resolvers: %s: %w", f, err)
			}
		}
	}
	return nil
}

// resolverEnv writes the resolvers' gitconfig (the URL rewrites) and clone folder under the
// run's directory and returns the environment their Deployment sets, pointing at them.
func (c *Cluster) resolverEnv(gitURLRewrites map[string]string) ([]string, error) {
	// git reads this file instead of the user's ~/.gitconfig: the rewrites, nothing of the host.
	var gitconfig strings.Builder
	for _, from := range slices.Sorted(maps.Keys(gitURLRewrites)) {
		fmt.Fprintf(&gitconfig, "[url %q]\n\tinsteadOf = %s\n", gitURLRewrites[from], from)
	}
	gitconfigPath := filepath.Join(c.Dir, "resolvers", "gitconfig")
	if err := writeFile(gitconfigPath, gitconfig.String()); err != nil {
		return nil, fmt.Errorf("cluster: resolvers: %w", err)
	}
	tmp := filepath.Join(c.Dir, "resolvers", "tmp") // the Deployment's /tmp clone volume
	if err := os.MkdirAll(tmp, 0o700); err != nil {
		return nil, fmt.Errorf("cluster: resolvers: %w", err)
	}
	return []string{
		"SYSTEM_NAMESPACE=" + ResolversNamespace,
		"KUBERNETES_MIN_VERSION=v1.28.0",
		"CONFIG_LOGGING_NAME=config-logging",
		"CONFIG_OBSERVABILITY_NAME=config-observability",
		"CONFIG_FEATURE_FLAGS_NAME=feature-flags",
		"CONFIG_LEADERELECTION_NAME=config-leader-election-resolvers",
		"METRICS_DOMAIN=tekton.dev/resolution",
		"TEKTON_HUB_API=",
		"ARTIFACT_HUB_API=https://artifacthub.io/",
		// The controller in the same namespace holds knative's default profiling and metrics
		// ports (8008, 9090). Both try knative's fixed health-probe port 8080: whichever loses
		// only logs it, its controllers run on.
		"PROFILING_PORT=8009",
		"METRICS_PROMETHEUS_PORT=9091",
		"TMPDIR=" + tmp,
		"GIT_CONFIG_GLOBAL=" + gitconfigPath,
		"GIT_CONFIG_NOSYSTEM=1",
	}, nil
}

// leaseHeld says whether a held lease names the resolver.
func leaseHeld(held map[string]bool, resolver string) bool {
	for name := range held {
		if strings.Contains(name, "resolverframework."+resolver) {
			return true
		}
	}
	return false
}
