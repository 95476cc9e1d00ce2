package imagebuild

import (
	"context"
	"fmt"
	"io"
	"os"
	"os/signal"
	"strings"
	"syscall"

	"github.com/google/go-containerregistry/pkg/name"
)

// DefaultSource is the org.opencontainers.image.source label of the project's images and bundles.
const DefaultSource = "https://github.com/release-to-prod/release-to-prod"

// Command runs a build command (cmd/build-images, cmd/build-bundles) as its main: run gets the
// arguments and stdout, and a context cancelled by SIGINT or SIGTERM; an error is printed after
// the command's name and exits 1.
func Command(command string, run func(ctx context.Context, args []string, stdout io.Writer) error) {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	err := run(ctx, os.Args[1:], os.Stdout)
	stop()
	if err != nil {
		fmt.Fprintln(os.Stderr, command+":", err)
		os.Exit(1)
	}
}

// Tag is the reference <registry>/<repository>:<tag>; insecure: the registry talks plain HTTP.
func Tag(registry, repository, tag string, insecure bool) (name.Tag, error) {
	var opts []name.Option
	if insecure {
		opts = append(opts, name.Insecure)
	}
	return name.NewTag(strings.TrimSuffix(registry, "/")+"/"+repository+":"+tag, opts...)
}
