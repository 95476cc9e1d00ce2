package httpclient

import (
	"fmt"

	"github.com/release-to-prod/release-to-prod/pkg/step"
)

// CABundle is the setting of a step that trusts a CA bundle besides the system roots: a
// ConfigMap its Task mounts from a volume named by a param (see step.Mounted), by default
// Konflux's trusted-ca, whose key is ca-bundle.crt.
type CABundle struct {
	CAFile      string `env:"CA_FILE" desc:"PEM CA bundle trusted besides the system roots (a Task sets it to the key ca-bundle.crt of the mounted ca_bundle_configmap; ca.crt is read when it is missing); empty for system roots only"`
	CAConfigMap string `param:"ca_bundle_configmap" env:"CA_CONFIGMAP, default=trusted-ca" desc:"ConfigMap with a PEM CA bundle (key ca-bundle.crt or ca.crt) trusted besides the system roots; absent under this default name: system roots only"`
}

// CAMount is where the CA bundle of cfg (a step's config struct embedding CABundle) comes from.
func (b CABundle) CAMount(cfg any) step.Mounted {
	m := step.MountOf(cfg, "ConfigMap", "CA_CONFIGMAP", b.CAConfigMap, b.CAFile)
	m.Alternates = CABundleKeys
	return m
}

// CAOption returns the client option that trusts the bundle (nil when none is configured) and,
// when none is, the line that says so.
func (b CABundle) CAOption(cfg any) (Option, string, error) {
	if b.CAFile == "" {
		return nil, "", nil
	}
	m := b.CAMount(cfg)
	file, err := m.Resolve()
	if err != nil {
		return nil, "", err
	}
	if file == "" {
		return nil, fmt.Sprintf("CA bundle %s: system roots only", m.NotConfigured()), nil
	}
	return WithCAFile(file), "", nil
}
