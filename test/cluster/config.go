package cluster

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
)

// Addresses inside the cluster's network namespace. Nothing here is routed on the host: the
// namespace holds only lo and the pods' bridge.
const (
	// APIServiceIP is the `kubernetes` Service's ClusterIP. There is no kube-proxy: the address
	// sits on the namespace's lo and the API server listens on it, so pods reach the API at the
	// address their in-cluster config names.
	APIServiceIP  = "10.96.0.1"
	serviceCIDR   = "10.96.0.0/24"
	bridgeName    = "cni0"
	podCIDR       = "10.88.0.0/16"
	registryPort  = "5000"
	nodeName      = "node"
	etcdClientURL = "http://127.0.0.1:2379"
)

// PodTerminationMessageCap is the node's kubelet's cap on the termination messages of a pod's
// containers together (pkg/kubelet/status normalizeStatus): 12 KiB shared by every container,
// init containers included, on top of the 4 KiB each container may write.
const PodTerminationMessageCap = 12 * 1024

// GatewayIP is the gateway of the pod network, and the node's IP: pods reach the registry,
// Serve's handlers and Alertmanager there.
const GatewayIP = "10.88.0.1"

// RegistryHost is the registry's address as pods and containerd see it.
const RegistryHost = GatewayIP + ":" + registryPort

func writeFile(path, content string) error {
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		return fmt.Errorf("writing %s: %w", path, err)
	}
	if err := os.WriteFile(path, []byte(content), 0o644); err != nil {
		return fmt.Errorf("writing %s: %w", path, err)
	}
	return nil
}

// containerdConfig keeps every containerd and runc path under dir, and reaches the cluster's
// registry in plain HTTP through a hosts.toml. restrict_oom_score_adj: root here lacks
// CAP_SYS_RESOURCE, and runc fails every sandbox ("can't get final child's PID from pipe: EOF")
// when it tries to lower oom_score_adj.
func containerdConfig(dir, sandboxImage string) string {
	r := strings.NewReplacer("DIR", dir, "SANDBOX", sandboxImage)
	return r.Replace(`version = 2
root = "DIR/containerd/root"
state = "DIR/containerd/state"
disabled_plugins = ["io.containerd.snapshotter.v1.aufs", "io.containerd.snapshotter.v1.btrfs", "io.containerd.snapshotter.v1.devmapper", "io.containerd.snapshotter.v1.zfs", "io.containerd.tracing.processor.v1.otlp", "io.containerd.internal.v1.tracing"]

[grpc]
  address = "DIR/containerd.sock"

[ttrpc]
  address = "DIR/containerd-ttrpc.sock"

[metrics]
  address = ""

[plugins."io.containerd.internal.v1.opt"]
  path = "DIR/containerd/opt"

[plugins."io.containerd.grpc.v1.cri"]
  sandbox_image = "SANDBOX"
  restrict_oom_score_adj = true
  disable_apparmor = true
  enable_selinux = false
  [plugins."io.containerd.grpc.v1.cri".containerd]
    snapshotter = "overlayfs"
    default_runtime_name = "runc"
    [plugins."io.containerd.grpc.v1.cri".containerd.runtimes.runc]
      runtime_type = "io.containerd.runc.v2"
      [plugins."io.containerd.grpc.v1.cri".containerd.runtimes.runc.options]
        Root = "DIR/runc"
        SystemdCgroup = false
  [plugins."io.containerd.grpc.v1.cri".cni]
    bin_dir = "/usr/lib/cni"
    conf_dir = "DIR/cni/net.d"
  [plugins."io.containerd.grpc.v1.cri".registry]
    config_path = "DIR/containerd/certs.d"
`)
}

// hostsToml lets containerd pull from the cluster's plain-HTTP registry; written for another
// host's name (quay.io), it makes the cluster's registry that host's only source.
func hostsToml() string {
	return fmt.Sprintf(`server = "http://%[1]s"

[host."http://%[1]s"]
  capabilities = ["pull", "resolve"]
  skip_verify = true
`, RegistryHost)
}

// cniConfig is the pods' network: a bridge whose gateway is the node, a default route through
// it (the Service IP and the registry are reached that way), no masquerading (nothing leaves
// the namespace), and IPAM state kept under dir.
func cniConfig(dir string) string {
	return fmt.Sprintf(`{
  "cniVersion": "1.0.0",
  "name": "release-to-prod-test",
  "plugins": [
    {
      "type": "bridge",
      "bridge": %q,
      "isGateway": true,
      "ipMasq": false,
      "hairpinMode": true,
      "ipam": {
        "type": "host-local",
        "dataDir": %q,
        "ranges": [[{"subnet": %q, "gateway": %q}]],
        "routes": [{"dst": "0.0.0.0/0"}]
      }
    }
  ]
}
`, bridgeName, filepath.Join(dir, "cni", "ipam"), podCIDR, GatewayIP)
}

// kubeletConfig: cgroup v1 is still accepted (failCgroupV1: false; kubelet ≥ 1.35 refuses it by
// default), every pod cgroup lives below cgroupRoot (removed on Stop), pod logs stay under dir,
// and the eviction thresholds are low enough that a busy shared disk does not evict test pods.
func kubeletConfig(dir, cgroupRoot, caFile string) string {
	return fmt.Sprintf(`apiVersion: kubelet.config.k8s.io/v1beta1
kind: KubeletConfiguration
failCgroupV1: false
cgroupDriver: cgroupfs
cgroupRoot: %q
containerRuntimeEndpoint: "unix://%s/containerd.sock"
address: %q
port: 10250
readOnlyPort: 0
healthzBindAddress: 127.0.0.1
healthzPort: 10248
authentication:
  anonymous: {enabled: false}
  webhook: {enabled: false}
  x509: {clientCAFile: %q}
authorization: {mode: AlwaysAllow}
failSwapOn: false
resolvConf: %q
podLogsDir: %q
serializeImagePulls: false
maxPods: 50
evictionHard:
  memory.available: "50Mi"
  nodefs.available: "1%%"
  nodefs.inodesFree: "1%%"
  imagefs.available: "1%%"
imageGCHighThresholdPercent: 100
imageGCLowThresholdPercent: 99
`, cgroupRoot, dir, GatewayIP, caFile, filepath.Join(dir, "resolv.conf"), filepath.Join(dir, "pod-logs"))
}
