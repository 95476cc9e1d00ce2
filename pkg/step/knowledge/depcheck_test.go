package knowledge

import (
	"os/exec"
	"strings"
	"testing"
)

// TestDependencies keeps the promise the package makes: every step binary links it (through
// package step), so it must not pull in client-go, the API machinery or a YAML parser; the
// ConfigMap side is package knowledge/store.
func TestDependencies(t *testing.T) {
	out, err := exec.Command("go", "list", "-deps", ".").CombinedOutput()
	if err != nil {
		t.Fatalf("go list -deps: %v\n%s", err, out)
	}
	for _, dep := range strings.Fields(string(out)) {
		// package step itself, not the packages beside this one under pkg/step
		if dep == "github.com/release-to-prod/release-to-prod/pkg/step" {
			t.Errorf("package knowledge links %s", dep)
		}
		for _, banned := range []string{"k8s.io/", "sigs.k8s.io/", "yaml"} {
			if strings.Contains(dep, banned) {
				t.Errorf("package knowledge links %s", dep)
			}
		}
	}
}
