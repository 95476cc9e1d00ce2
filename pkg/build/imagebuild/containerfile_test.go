package imagebuild

import (
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// The Containerfile (for Konflux's buildah) and this package must build the same image; nothing
// here can run buildah, so the test holds the Containerfile to the same paths, user and flags.
func TestContainerfileMatchesImagebuild(t *testing.T) {
	root, err := ModuleRoot(".")
	require.NoError(t, err)
	b, err := os.ReadFile(filepath.Join(root, "images", "Containerfile"))
	require.NoError(t, err)
	cf := string(b)

	froms := regexp.MustCompile(`(?m)^FROM\s+(\S+)`).FindAllStringSubmatch(cf, -1)
	require.NotEmpty(t, froms)
	for _, f := range froms {
		img := f[1]
		if img == "scratch" {
			continue
		}
		assert.Regexp(t, `:\d+\.\d+(\.\d+)?(@sha256:[0-9a-f]{64})?$`, img, "base images pinned by version")
		assert.NotContains(t, img, ":latest")
	}
	for _, want := range []string{
		"ARG STEP",
		"USER " + User,
		`CGO_ENABLED=0 go build -trimpath -ldflags="-s -w"`,
		"/step" + BinDir + "/${STEP}",
		"/rootfs" + BinDir + " ",
		"/rootfs" + CACertPath,
		"SSL_CERT_FILE=" + CACertPath,
		strings.ReplaceAll(passwd, "\n", `\n`),
		strings.ReplaceAll(group, "\n", `\n`),
		LabelSource, LabelRevision, LabelDescription,
		"ENTRYPOINT [",
	} {
		assert.Contains(t, cf, want)
	}
	// Two layers as Image makes them: the base every step shares, then the step's binary.
	assert.Regexp(t, `(?s)COPY --from=build /rootfs/ /\nCOPY --from=build /step/ /\n`, cf)
}
