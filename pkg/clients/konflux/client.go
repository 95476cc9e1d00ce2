// Package konflux reads and writes the Konflux objects the release uses — Application,
// Component, Snapshot, ReleasePlan, Release — through the client-go dynamic client, keeping only
// the few fields the project reads in small Go types. (The Konflux API Go modules are not used:
// the dynamic client keeps every step binary small and free of their dependency tree.)
package konflux

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"strings"
	"time"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/client-go/dynamic"
	"k8s.io/client-go/rest"
	"k8s.io/client-go/tools/clientcmd"

	"github.com/release-to-prod/release-to-prod/pkg/step/failure"
)

// Group and version of every Konflux kind the project uses.
const (
	Group   = "appstudio.redhat.com"
	Version = "v1alpha1"
)

// The resources, by kind.
var (
	ApplicationsResource = schema.GroupVersionResource{Group: Group, Version: Version, Resource: "applications"}
	ComponentsResource   = schema.GroupVersionResource{Group: Group, Version: Version, Resource: "components"}
	SnapshotsResource    = schema.GroupVersionResource{Group: Group, Version: Version, Resource: "snapshots"}
	ReleasePlansResource = schema.GroupVersionResource{Group: Group, Version: Version, Resource: "releaseplans"}
	ReleasesResource     = schema.GroupVersionResource{Group: Group, Version: Version, Resource: "releases"}
	// TaskRunsResource: the report reads its own run's TaskRuns (package taskruns).
	TaskRunsResource = schema.GroupVersionResource{Group: "tekton.dev", Version: "v1", Resource: "taskruns"}
)

// Client reads Konflux objects in one namespace.
type Client struct {
	Dynamic   dynamic.Interface
	Namespace string
}

// ClientQPS and ClientBurst are the client-side rate limit of the API client: kubectl's.
const (
	ClientQPS   = 50
	ClientBurst = 300
)

// RequestTimeout bounds one API request.
const RequestTimeout = 30 * time.Second

// RESTConfig loads the client configuration: the kubeconfig file when one is named (or
// $KUBECONFIG / ~/.kube/config exist), else the in-cluster ServiceAccount.
func RESTConfig(kubeconfig string) (*rest.Config, error) {
	rules := clientcmd.NewDefaultClientConfigLoadingRules()
	if kubeconfig != "" {
		rules.ExplicitPath = kubeconfig
	}
	cfg, err := clientcmd.NewNonInteractiveDeferredLoadingClientConfig(rules, &clientcmd.ConfigOverrides{}).ClientConfig()
	if err != nil {
		return nil, failure.New(failure.InvalidInput, nil, "loading Kubernetes client configuration (kubeconfig %q or in-cluster): %w", kubeconfig, err)
	}
	cfg.UserAgent = "release-to-prod"
	if cfg.Timeout == 0 {
		// Per request: a hung API server fails the call (and its retries) instead of holding
		// the step until its whole TIMEOUT.
		cfg.Timeout = RequestTimeout
	}
	// client-go's own default limit (5 requests a second once 10 are spent) held a preflight of
	// 11 requests 200 ms, and one reading 10,000 Releases page by page 40 s; kubectl's limits.
	// The API server protects itself (API Priority and Fairness).
	if cfg.QPS == 0 {
		cfg.QPS = ClientQPS
	}
	if cfg.Burst == 0 {
		cfg.Burst = ClientBurst
	}
	cfg.Wrap(func(rt http.RoundTripper) http.RoundTripper { return retryReads{next: rt} })
	return cfg, nil
}

// NewClient returns a Client for namespace from the configuration RESTConfig loads.
func NewClient(kubeconfig, namespace string) (*Client, error) {
	cfg, err := RESTConfig(kubeconfig)
	if err != nil {
		return nil, err
	}
	dyn, err := dynamic.NewForConfig(cfg)
	if err != nil {
		return nil, fmt.Errorf("creating Kubernetes client: %w", err)
	}
	return &Client{Dynamic: dyn, Namespace: namespace}, nil
}

func (c *Client) get(ctx context.Context, gvr schema.GroupVersionResource, kind, name string) (*unstructured.Unstructured, error) {
	u, err := c.Dynamic.Resource(gvr).Namespace(c.Namespace).Get(ctx, name, getOptions)
	if err != nil {
		return nil, c.APIError(err, kind, gvr.Resource, name)
	}
	return u, nil
}

// getAs reads the object name and converts it with from.
func getAs[T any](ctx context.Context, c *Client, gvr schema.GroupVersionResource, kind, name string, from func(*unstructured.Unstructured) T) (*T, error) {
	u, err := c.get(ctx, gvr, kind, name)
	if err != nil {
		return nil, err
	}
	v := from(u)
	return &v, nil
}

// listAs lists the objects matching the label selector, page by page, converted with from. On
// an error it returns what the pages before it held.
func listAs[T any](ctx context.Context, c *Client, gvr schema.GroupVersionResource, kind, selector string, from func(*unstructured.Unstructured) T) ([]T, error) {
	var out []T
	err := c.list(ctx, gvr, kind, selector, func(u *unstructured.Unstructured) {
		out = append(out, from(u))
	})
	return out, err
}

// APIError classifies an API server error for the failure catalog.
func (c *Client) APIError(err error, kind, resource, name string) error {
	facts := map[string]string{"kind": kind, "name": name, "namespace": c.Namespace, "resource": resource}
	msg := fmt.Errorf("%s %s/%s: %w", kind, c.Namespace, name, err)
	switch {
	case apierrors.IsNotFound(err):
		return failure.Wrap(failure.ResourceNotFound, facts, msg)
	case apierrors.IsForbidden(err):
		// The ServiceAccount authenticated and lacks a right: a missing RoleBinding, which no
		// secret refresh fixes. The verb is the one the API server names in its message.
		return failure.Wrap(failure.NotPermitted, map[string]string{
			"verb": forbiddenVerb(err, name), "resource": resource, "namespace": c.Namespace,
		}, msg)
	case apierrors.IsUnauthorized(err):
		return failure.Wrap(failure.Unauthorized, map[string]string{
			"service":    "the Kubernetes API server",
			"secret":     "of the release-to-prod ServiceAccount (or your kubeconfig login)",
			"permission": "the verbs of the release-to-prod Role on " + resource,
		}, msg)
	case apierrors.IsTooManyRequests(err):
		return failure.Wrap(failure.RateLimited, map[string]string{"service": "the Kubernetes API server"}, msg)
	case apierrors.IsInternalError(err), apierrors.IsServiceUnavailable(err), apierrors.IsServerTimeout(err), apierrors.IsTimeout(err):
		return failure.Wrap(failure.ServerError, map[string]string{"service": "the Kubernetes API server"}, msg)
	case Transient(err):
		// The connection dropped on every try (EOF, reset): the API server or a load balancer
		// in front of it is failing.
		return failure.Wrap(failure.ServerError, map[string]string{"service": "the Kubernetes API server (or a load balancer in front of it)"}, msg)
	}
	return msg
}

// IsNotFound reports whether err says an object does not exist.
func IsNotFound(err error) bool {
	var fe *failure.Error
	if errors.As(err, &fe) && fe.ID == failure.ResourceNotFound {
		return true
	}
	return apierrors.IsNotFound(err)
}

// TaskRuns returns the TaskRuns of PipelineRun pipelineRun in the namespace, as objects.
func (c *Client) TaskRuns(ctx context.Context, pipelineRun string) ([]map[string]any, error) {
	ctx, cancel := context.WithTimeout(ctx, RequestTimeout)
	defer cancel()
	list, err := c.Dynamic.Resource(TaskRunsResource).Namespace(c.Namespace).List(ctx, metav1.ListOptions{LabelSelector: "tekton.dev/pipelineRun=" + pipelineRun})
	if err != nil {
		return nil, fmt.Errorf("listing the TaskRuns of PipelineRun %s: %w", pipelineRun, err)
	}
	out := make([]map[string]any, 0, len(list.Items))
	for _, it := range list.Items {
		out = append(out, it.Object)
	}
	return out, nil
}

// forbiddenVerb is the verb a Forbidden answer refused. The API server's status carries the
// resource but not the verb, which only its message names ("… cannot list resource …"): the
// message is the API server's own, stable across releases (k8s.io/apiserver's authorization
// filter); without it the verb is inferred from the call (a name: get, none: list).
func forbiddenVerb(err error, name string) string {
	var status apierrors.APIStatus
	if errors.As(err, &status) {
		msg := status.Status().Message
		if _, rest, ok := strings.Cut(msg, " cannot "); ok {
			if verb, _, ok := strings.Cut(rest, " "); ok && verb != "" {
				return verb
			}
		}
	}
	if name == "" {
		return "list"
	}
	return "get"
}
