package depcheck

import (
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestForbidden(t *testing.T) {
	deps := map[string][]string{
		"example.com/cmd":                 {"example.com/pkg/a", "fmt"},
		"example.com/pkg/a":               {"k8s.io/client-go/dynamic", "strings"},
		"k8s.io/client-go/dynamic":        {"k8s.io/apimachinery/pkg/runtime"},
		"k8s.io/apimachinery/pkg/runtime": nil,
		"fmt":                             nil,
		"strings":                         nil,
	}
	bad, entries := Forbidden(deps, Kubernetes)
	assert.Equal(t, []string{"k8s.io/apimachinery/pkg/runtime", "k8s.io/client-go/dynamic"}, bad)
	assert.Equal(t, []string{"example.com/pkg/a imports k8s.io/client-go/dynamic"}, entries)

	bad, entries = Forbidden(map[string][]string{"example.com/cmd": {"fmt"}, "fmt": nil}, Kubernetes)
	assert.Empty(t, bad)
	assert.Empty(t, entries)
}

// TestLinkedSeesClientGo is the control of the step tests: check-image reads the Component
// through the API server, so the check must find client-go in it and name the import.
func TestLinkedSeesClientGo(t *testing.T) {
	const checkImage = "github.com/release-to-prod/release-to-prod/steps/check-image"
	root, deps, err := Linked(checkImage)
	require.NoError(t, err)
	assert.Equal(t, checkImage, root)
	bad, entries := Forbidden(deps, []string{"k8s.io/client-go/"})
	assert.NotEmpty(t, bad)
	assert.Contains(t, entries, "github.com/release-to-prod/release-to-prod/pkg/clients/konflux imports k8s.io/client-go/dynamic")
}
