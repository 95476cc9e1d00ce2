// Package store reads and writes the team knowledge ConfigMap (the format is package
// knowledge's): Parse turns its YAML keys into a validated store, Read gets it from the API
// server, Teach adds a learned fix with optimistic concurrency. It links client-go, so only
// the steps that talk to Kubernetes (and tkn-local) import it; the others read the store file.
package store

import (
	"context"
	"errors"
	"fmt"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/client-go/dynamic"

	"github.com/release-to-prod/release-to-prod/pkg/step/failure"
	"github.com/release-to-prod/release-to-prod/pkg/step/knowledge"
)

var configMaps = schema.GroupVersionResource{Version: "v1", Resource: "configmaps"}

// Read gets the knowledge ConfigMap name in namespace and parses it. A missing ConfigMap is an
// empty store (Found false): a team without knowledge yet runs as before.
func Read(ctx context.Context, dyn dynamic.Interface, namespace, name string) (*knowledge.Store, []knowledge.Warning, error) {
	u, err := dyn.Resource(configMaps).Namespace(namespace).Get(ctx, name, metav1.GetOptions{})
	if apierrors.IsNotFound(err) {
		return &knowledge.Store{Namespace: namespace, ConfigMap: name}, nil, nil
	}
	if err != nil {
		return nil, nil, apiError(fmt.Errorf("reading the team knowledge store: %w", err), namespace, name, "get")
	}
	data, _, err := unstructured.NestedStringMap(u.Object, "data")
	if err != nil {
		return nil, nil, fmt.Errorf("ConfigMap %s/%s: data: %w", namespace, name, err)
	}
	s, warns := Parse(data)
	s.Namespace, s.ConfigMap, s.Found = namespace, name, true
	return s, warns, nil
}

// apiError explains an API error the way the catalog knows it.
func apiError(err error, namespace, name, verb string) error {
	switch {
	case apierrors.IsUnauthorized(err), apierrors.IsForbidden(err):
		return failure.Wrap(failure.Unauthorized, map[string]string{
			"service":    "the Kubernetes API server",
			"secret":     "of the release-to-prod ServiceAccount (or your kubeconfig login)",
			"permission": verb + " on ConfigMap " + name + " in " + namespace,
		}, err)
	case apierrors.IsTooManyRequests(err):
		return failure.Wrap(failure.RateLimited, map[string]string{"service": "the Kubernetes API server"}, err)
	case apierrors.IsInternalError(err), apierrors.IsServiceUnavailable(err):
		return failure.Wrap(failure.ServerError, map[string]string{"service": "the Kubernetes API server"}, err)
	case errors.Is(err, context.DeadlineExceeded):
		return failure.Wrap(failure.Timeout, map[string]string{"what": "the Kubernetes API server"}, err)
	}
	return err
}
