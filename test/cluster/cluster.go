// Package cluster starts a complete single-node Kubernetes cluster with the real Tekton
// Pipelines controller for tests, inside a network namespace the test run creates: etcd,
// kube-apiserver, kube-controller-manager, kube-scheduler, containerd with runc and the CNI
// bridge, the kubelet, the Tekton controller, and an OCI registry the node pulls from. The
// Kubernetes and Tekton binaries are built from source by test/tools at the versions the project
// pins; containerd, runc and the CNI plugins are Debian's (test/tools/node-deps.sh).
//
// The test process stays in the host's network namespace and reaches the cluster through
// sockets it opens inside the cluster's namespace (Config's Dial, the registry pushes): tests
// send no packet on the host's network. Stop gives the host back as it was — processes,
// mounts, cgroups, sysctls, the kubelet's log links — and the next Start sweeps what a killed
// run left behind. What a run does to the host and gives back is package host (one cluster at
// a time, under a lock in host.BaseDir); the release run on the cluster — tenants, the step
// images' world, PipelineRuns on the node and through tkn-local — is package world.
//
// In a test:
//
//	c := cluster.New(t, cluster.Options{Mirrors: []string{"quay.io"}})
//	ref, _ := c.Registry.PushLayout(ctx, "out/images/check-image", "release-to-prod/check-image", "0.1.0")
//	_ = c.RestrictedNamespace(ctx, "tenant")
//	sink, _ := c.Serve(slackSink) // "10.88.0.1:port", reachable from pods
//
// Needs root, Debian's containerd, runc and CNI plugins (test/tools/node-deps.sh), and a
// cgroup v1 or v2 host.
package cluster

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"os/signal"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/dynamic"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/rest"

	"github.com/release-to-prod/release-to-prod/test/cluster/host"
	"github.com/release-to-prod/release-to-prod/test/tools"
)

// Options configure Start.
type Options struct {
	// Log receives progress (tool builds, phases); default os.Stderr.
	Log io.Writer
	// FeatureFlags override entries of Tekton's feature-flags ConfigMap, over TenantFeatureFlags.
	FeatureFlags map[string]string
	// Mirrors are registry hosts (quay.io) whose images the node pulls from the cluster's
	// registry instead: an image pushed as <repo> is pulled as <mirror>/<repo>, so YAML naming
	// the real registry runs unchanged. Nothing is ever fetched from the real host (the
	// namespace has no route out anyway).
	Mirrors []string
	// WrapRegistry, when set, wraps the registry's handler: the Quay API stand-in is served
	// beside the registry on the same host, as quay.io does.
	WrapRegistry func(http.Handler) http.Handler
}

// Phase is one timed step of Start.
type Phase struct {
	Name     string
	Duration time.Duration
}

// Cluster is a running single-node cluster.
type Cluster struct {
	// Config is the admin's: client certificate of group system:masters, sockets opened inside
	// the cluster's network namespace.
	Config   *rest.Config
	Client   kubernetes.Interface
	Dynamic  dynamic.Interface
	Dir      string // the run's directory: configs, logs (logs/), state
	NodeName string
	Registry *Registry
	Phases   []Phase // how long each part of Start took
	// TektonRef holds the references by digest of Tekton's images in the cluster's registry,
	// by the names of the controller's flags (entrypoint, nop, workingdirinit,
	// sidecarlogresults).
	TektonRef map[string]string

	log        io.Writer
	host       *host.Run
	pki        *pki
	daemons    []*daemon
	stopOnce   sync.Once
	stopErr    error
	signals    chan os.Signal
	signalDone chan struct{}
	servers    []*http.Server
}

// Start starts the cluster. On error everything started so far is stopped and the host restored.
func Start(ctx context.Context, opts Options) (_ *Cluster, err error) {
	if opts.Log == nil {
		opts.Log = os.Stderr
	}
	if os.Geteuid() != 0 {
		return nil, errors.New("cluster: needs root (network namespace, mounts, cgroups, containerd)")
	}
	begin := time.Now()
	bins, err := resolveBinaries(ctx, opts.Log)
	if err != nil {
		return nil, err
	}
	phaseStart := time.Now()
	c := &Cluster{log: opts.Log, NodeName: nodeName, TektonRef: map[string]string{}}
	c.phase("tools (cached builds)", begin)

	if c.host, err = host.Begin(opts.Log); err != nil {
		return nil, err
	}
	c.Dir = c.host.Dir
	c.handleSignals()
	defer func() {
		if err != nil {
			if serr := c.Stop(); serr != nil {
				err = errors.Join(err, fmt.Errorf("and stopping what had started: %w", serr))
			}
		}
	}()
	kubeconfig, err := c.setUpHost(opts.WrapRegistry)
	if err != nil {
		return nil, err
	}
	c.phase("host set-up (netns, cgroups, certificates)", phaseStart)
	if err := c.startComponents(ctx, bins, kubeconfig, opts); err != nil {
		return nil, err
	}
	c.phase("total", begin)
	return c, nil
}

// setUpHost gives the run its cgroups and network namespace (lo, the Service IP, the pods'
// bridge), the registry, the certificates and the admin's kubeconfig, whose path it returns.
func (c *Cluster) setUpHost(wrapRegistry func(http.Handler) http.Handler) (string, error) {
	if err := c.host.Isolate(); err != nil {
		return "", err
	}
	for _, args := range [][]string{
		{"link", "set", "lo", "up"},
		{"addr", "add", APIServiceIP + "/32", "dev", "lo"},
		// The bridge exists before the first pod so that the node's IP and the registry's
		// address are up from the start (containerd pulls the pause image before the CNI
		// plugin would create it); the bridge plugin adopts it.
		{"link", "add", bridgeName, "type", "bridge"},
		{"addr", "add", GatewayIP + "/16", "dev", bridgeName},
		{"link", "set", bridgeName, "up"},
	} {
		if err := c.run("ip", args...); err != nil {
			return "", fmt.Errorf("cluster: network namespace: %w", err)
		}
	}
	var err error
	if c.Registry, err = c.startRegistry(wrapRegistry); err != nil {
		return "", fmt.Errorf("cluster: %w", err)
	}
	if c.pki, err = newPKI(filepath.Join(c.Dir, "pki"), []net.IP{net.ParseIP(APIServiceIP), net.ParseIP("127.0.0.1")},
		[]string{"kubernetes", "kubernetes.default", "kubernetes.default.svc", "kubernetes.default.svc.cluster.local", "localhost"}); err != nil {
		return "", fmt.Errorf("cluster: %w", err)
	}
	kubeconfig := filepath.Join(c.Dir, "kubeconfig")
	if err := c.pki.writeKubeconfig(kubeconfig, "https://"+APIServiceIP+":443"); err != nil {
		return "", fmt.Errorf("cluster: %w", err)
	}
	return kubeconfig, nil
}

// startComponents starts the control plane, then the node's daemons and Tekton, each phase
// timed; the system images are built and pushed while the control plane starts.
func (c *Cluster) startComponents(ctx context.Context, bins binaries, kubeconfig string, opts Options) error {
	phaseStart := time.Now()
	imagesDone := make(chan error, 1)
	go func() { imagesDone <- c.pushSystemImages(ctx, bins) }()

	if err := c.startControlPlane(ctx, bins, kubeconfig); err != nil {
		return err
	}
	c.phase("etcd + kube-apiserver ready", phaseStart)

	phaseStart = time.Now()
	if err := c.startNodeDaemons(ctx, bins, kubeconfig, opts.Mirrors); err != nil {
		return err
	}
	if err := c.installTekton(ctx, opts.FeatureFlags); err != nil {
		return err
	}
	if err := <-imagesDone; err != nil {
		return fmt.Errorf("cluster: images: %w", err)
	}
	c.phase("controllers, containerd, kubelet started; Tekton installed; images pushed", phaseStart)

	phaseStart = time.Now()
	if err := c.startTektonController(bins, kubeconfig); err != nil {
		return err
	}
	if err := c.waitReady(ctx); err != nil {
		return err
	}
	c.phase("node Ready, default ServiceAccount, Tekton controller up", phaseStart)
	return nil
}

// Log is where the cluster reports its progress (Options.Log).
func (c *Cluster) Log() io.Writer { return c.log }

// NetnsPath is the file that pins the cluster's network namespace: `nsenter --net=<path>` runs
// a program where the cluster's addresses are reached.
func (c *Cluster) NetnsPath() string { return c.host.NetnsPath() }

func (c *Cluster) phase(name string, since time.Time) {
	p := Phase{Name: name, Duration: time.Since(since).Round(time.Millisecond)}
	c.Phases = append(c.Phases, p)
	fmt.Fprintf(c.log, "cluster: %s: %s\n", p.Name, p.Duration)
}

// binaries are the paths of every program the cluster runs.
type binaries map[string]string

func resolveBinaries(ctx context.Context, log io.Writer) (binaries, error) {
	b := binaries{}
	for _, t := range []tools.Tool{tools.Etcd, tools.KubeAPIServer, tools.KubeControllerManager, tools.KubeScheduler, tools.Kubelet,
		tools.TektonController, tools.TektonEntrypoint, tools.TektonNop, tools.TektonWorkingDirInit, tools.TektonSidecarLogResults, tools.Pause} {
		p, err := tools.Path(ctx, t, log)
		if err != nil {
			return nil, fmt.Errorf("cluster: %w", err)
		}
		b[t.Name] = p
	}
	// Debian's, installed by test/tools/node-deps.sh (make tools).
	for _, name := range []string{"containerd", "containerd-shim-runc-v2", "runc", "nsenter", "ip", "iptables", "/usr/lib/cni/bridge", "/usr/lib/cni/host-local", "/usr/lib/cni/loopback"} {
		p, err := lookPath(name)
		if err != nil {
			return nil, fmt.Errorf("cluster: %s not installed (run test/tools/node-deps.sh, or make tools): %w", name, err)
		}
		b[filepath.Base(name)] = p
	}
	return b, nil
}

func lookPath(name string) (string, error) {
	if filepath.IsAbs(name) {
		if _, err := os.Stat(name); err != nil {
			return "", err
		}
		return name, nil
	}
	return exec.LookPath(name)
}

func (c *Cluster) startControlPlane(ctx context.Context, bins binaries, kubeconfig string) error {
	if _, err := c.startDaemon("etcd", nil, bins["etcd"],
		"--data-dir="+filepath.Join(c.Dir, "etcd"),
		"--listen-client-urls="+etcdClientURL, "--advertise-client-urls="+etcdClientURL,
		"--listen-peer-urls=http://127.0.0.1:2380", "--initial-advertise-peer-urls=http://127.0.0.1:2380",
		"--initial-cluster=default=http://127.0.0.1:2380",
		"--unsafe-no-fsync", "--log-level=warn"); err != nil {
		return fmt.Errorf("cluster: %w", err)
	}
	p := c.pki
	if _, err := c.startDaemon("kube-apiserver", nil, bins["kube-apiserver"],
		"--etcd-servers="+etcdClientURL,
		"--bind-address=0.0.0.0", "--secure-port=443", "--advertise-address="+APIServiceIP,
		"--cert-dir="+filepath.Join(c.Dir, "apiserver"),
		"--tls-cert-file="+p.serveCert, "--tls-private-key-file="+p.serveKey,
		"--client-ca-file="+p.caFile,
		"--service-account-issuer=https://kubernetes.default.svc.cluster.local",
		"--service-account-key-file="+p.saPub, "--service-account-signing-key-file="+p.saKey,
		"--service-cluster-ip-range="+serviceCIDR,
		"--authorization-mode=Node,RBAC",
		"--kubelet-client-certificate="+p.adminCertF, "--kubelet-client-key="+p.adminKeyF,
		// The node's name resolves nowhere (no DNS here): logs and exec go to its IP.
		"--kubelet-preferred-address-types=InternalIP",
		"--allow-privileged=false", "--profiling=false", "--v=1"); err != nil {
		return fmt.Errorf("cluster: %w", err)
	}
	c.Config = &rest.Config{
		Host: "https://" + APIServiceIP + ":443",
		TLSClientConfig: rest.TLSClientConfig{
			CAData: p.caCert, CertData: p.adminCert, KeyData: p.adminKey,
		},
		Dial:  c.host.Dial,
		QPS:   50,
		Burst: 100,
	}
	var err error
	if c.Client, err = kubernetes.NewForConfig(c.Config); err != nil {
		return fmt.Errorf("cluster: %w", err)
	}
	if c.Dynamic, err = dynamic.NewForConfig(c.Config); err != nil {
		return fmt.Errorf("cluster: %w", err)
	}
	return c.WaitFor(ctx, "kube-apiserver /readyz", 2*time.Minute, func(ctx context.Context) (bool, error) {
		body, err := c.Client.Discovery().RESTClient().Get().AbsPath("/readyz").DoRaw(ctx)
		return err == nil && string(body) == "ok", nil
	})
}

func (c *Cluster) startNodeDaemons(ctx context.Context, bins binaries, kubeconfig string, mirrors []string) error {
	if err := c.startControllers(bins, kubeconfig); err != nil {
		return err
	}
	if err := c.writeNodeConfig(mirrors); err != nil {
		return err
	}
	if err := c.startContainerd(ctx, bins); err != nil {
		return err
	}
	if _, err := c.startDaemon("kubelet", nil, bins["kubelet"],
		"--config="+filepath.Join(c.Dir, "kubelet.yaml"),
		"--kubeconfig="+kubeconfig,
		"--root-dir="+filepath.Join(c.Dir, "kubelet"),
		"--hostname-override="+nodeName, "--node-ip="+GatewayIP, "--v=1"); err != nil {
		return fmt.Errorf("cluster: %w", err)
	}
	return nil
}

// startControllers starts kube-controller-manager and kube-scheduler.
func (c *Cluster) startControllers(bins binaries, kubeconfig string) error {
	p := c.pki
	if _, err := c.startDaemon("kube-controller-manager", nil, bins["kube-controller-manager"],
		"--kubeconfig="+kubeconfig,
		"--root-ca-file="+p.caFile, // the kube-root-ca.crt ConfigMaps projected tokens need
		"--service-account-private-key-file="+p.saKey,
		"--use-service-account-credentials=false",
		"--leader-elect=false", "--bind-address=127.0.0.1", "--secure-port=10257",
		"--cluster-cidr="+podCIDR, "--allocate-node-cidrs=false", "--v=1"); err != nil {
		return fmt.Errorf("cluster: %w", err)
	}
	if _, err := c.startDaemon("kube-scheduler", nil, bins["kube-scheduler"],
		"--kubeconfig="+kubeconfig, "--leader-elect=false",
		"--bind-address=127.0.0.1", "--secure-port=10259", "--v=1"); err != nil {
		return fmt.Errorf("cluster: %w", err)
	}
	return nil
}

// writeNodeConfig writes the configuration of containerd (the registry and its mirrors), the
// CNI bridge and the kubelet.
func (c *Cluster) writeNodeConfig(mirrors []string) error {
	sandboxImage := RegistryHost + "/pause:test"
	files := map[string]string{
		filepath.Join(c.Dir, "containerd", "config.toml"):                         containerdConfig(c.Dir, sandboxImage),
		filepath.Join(c.Dir, "containerd", "certs.d", RegistryHost, "hosts.toml"): hostsToml(),
		filepath.Join(c.Dir, "cni", "net.d", "10-bridge.conflist"):                cniConfig(c.Dir),
		filepath.Join(c.Dir, "kubelet.yaml"):                                      kubeletConfig(c.Dir, c.host.CgroupName(), c.pki.caFile),
		filepath.Join(c.Dir, "resolv.conf"):                                       "# no DNS in the test cluster\n",
	}
	for _, m := range mirrors {
		if m == "" || strings.ContainsAny(m, "/ ") || m == RegistryHost {
			return fmt.Errorf("cluster: mirror %q: want a registry host name", m)
		}
		files[filepath.Join(c.Dir, "containerd", "certs.d", m, "hosts.toml")] = hostsToml()
	}
	for path, content := range files {
		if err := writeFile(path, content); err != nil {
			return fmt.Errorf("cluster: %w", err)
		}
	}
	return nil
}

// startContainerd starts containerd and waits until it listens.
func (c *Cluster) startContainerd(ctx context.Context, bins binaries) error {
	// containerd and the shims it starts look runc up in PATH.
	if _, err := c.startDaemon("containerd", nil, bins["containerd"],
		"--config="+filepath.Join(c.Dir, "containerd", "config.toml")); err != nil {
		return fmt.Errorf("cluster: %w", err)
	}
	// The kubelet checks the CRI endpoint once, at its start, and exits when nothing answers
	// there yet (seen on a loaded host): it starts once containerd listens.
	sock := filepath.Join(c.Dir, "containerd.sock")
	return c.WaitFor(ctx, "containerd to listen", time.Minute, func(context.Context) (bool, error) {
		conn, err := net.DialTimeout("unix", sock, time.Second)
		if err != nil {
			return false, nil
		}
		return true, conn.Close()
	})
}

// waitReady waits for what a TaskRun needs: the node Ready without taints, the default
// ServiceAccount and the root CA ConfigMap (kube-controller-manager's jobs), and the Tekton
// controller's probe.
func (c *Cluster) waitReady(ctx context.Context) error {
	err := c.WaitFor(ctx, "node Ready and untainted", 3*time.Minute, func(ctx context.Context) (bool, error) {
		n, err := c.Client.CoreV1().Nodes().Get(ctx, nodeName, metav1.GetOptions{})
		if apierrors.IsNotFound(err) {
			return false, nil
		}
		if err != nil {
			return false, nil
		}
		if len(n.Spec.Taints) > 0 {
			return false, nil
		}
		for _, cond := range n.Status.Conditions {
			if cond.Type == corev1.NodeReady {
				return cond.Status == corev1.ConditionTrue, nil
			}
		}
		return false, nil
	})
	if err != nil {
		return err
	}
	err = c.WaitFor(ctx, "default ServiceAccount and kube-root-ca.crt", 2*time.Minute, func(ctx context.Context) (bool, error) {
		if _, err := c.Client.CoreV1().ServiceAccounts("default").Get(ctx, "default", metav1.GetOptions{}); err != nil {
			return false, nil
		}
		_, err := c.Client.CoreV1().ConfigMaps("default").Get(ctx, "kube-root-ca.crt", metav1.GetOptions{})
		return err == nil, nil
	})
	if err != nil {
		return err
	}
	probe := &http.Client{Transport: &http.Transport{DialContext: c.host.Dial}, Timeout: 5 * time.Second}
	return c.WaitFor(ctx, "Tekton controller probe", 2*time.Minute, httpReady(probe, "http://127.0.0.1:"+tektonProbesPort+"/readiness"))
}

// WaitFor polls cond until it holds, the timeout passes, or a daemon dies (then its log says why).
func (c *Cluster) WaitFor(ctx context.Context, what string, timeout time.Duration, cond func(context.Context) (bool, error)) error {
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	tick := time.NewTicker(200 * time.Millisecond)
	defer tick.Stop()
	for {
		ok, err := cond(ctx)
		if err != nil {
			return fmt.Errorf("cluster: waiting for %s: %w", what, err)
		}
		if ok {
			return nil
		}
		if err := c.anyExited(); err != nil {
			return fmt.Errorf("cluster: waiting for %s: %w", what, err)
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("cluster: waiting for %s: %w (logs in %s)", what, ctx.Err(), filepath.Join(c.Dir, "logs"))
		case <-tick.C:
		}
	}
}

// httpReady is a WaitFor condition: a GET of url through client answers 200 (a readiness
// endpoint). Not answering yet is not an error.
func httpReady(client *http.Client, url string) func(context.Context) (bool, error) {
	return func(ctx context.Context) (bool, error) {
		req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
		if err != nil {
			return false, err
		}
		resp, err := client.Do(req)
		if err != nil {
			return false, nil
		}
		resp.Body.Close()
		return resp.StatusCode == http.StatusOK, nil
	}
}

// handleSignals stops the cluster when the test binary is interrupted (Ctrl-C, SIGTERM from a
// CI runner), then lets the signal end the process as it would have.
func (c *Cluster) handleSignals() {
	c.signals = make(chan os.Signal, 1)
	c.signalDone = make(chan struct{})
	signal.Notify(c.signals, os.Interrupt, syscall.SIGTERM)
	go func() {
		select {
		case s := <-c.signals:
			fmt.Fprintf(c.log, "cluster: %v: stopping the cluster and restoring the host\n", s)
			if err := c.Stop(); err != nil {
				fmt.Fprintf(c.log, "cluster: %v\n", err)
			}
			signal.Reset(s)
			if sig, ok := s.(syscall.Signal); ok {
				_ = syscall.Kill(os.Getpid(), sig)
			}
			os.Exit(1)
		case <-c.signalDone:
		}
	}()
}

// Stop stops every process of the run and restores the host; it is safe to call more than once.
func (c *Cluster) Stop() error {
	c.stopOnce.Do(func() { c.stopErr = c.stop() })
	return c.stopErr
}

func (c *Cluster) stop() error {
	var errs []error
	// Tekton and the control loops first, so nothing recreates pods; then the kubelet; then
	// every container (by cgroup) and shim (by namespace); containerd; the API server and etcd.
	byName := map[string]*daemon{}
	for _, d := range c.daemons {
		byName[d.name] = d
	}
	for _, n := range []string{"tekton-controller", "kube-scheduler", "kube-controller-manager", "kubelet"} {
		if d := byName[n]; d != nil {
			if err := d.stop(10 * time.Second); err != nil {
				errs = append(errs, err)
			}
		}
	}
	if c.host != nil {
		if err := c.host.KillAll(); err != nil {
			errs = append(errs, err)
		}
	}
	for i := len(c.daemons) - 1; i >= 0; i-- {
		if err := c.daemons[i].stop(10 * time.Second); err != nil {
			errs = append(errs, err)
		}
	}
	if c.Registry != nil {
		c.Registry.close()
	}
	for _, srv := range c.servers {
		_ = srv.Close()
	}
	// Anything that escaped (a shim started during the stop) goes now, with the rest.
	if c.host != nil {
		errs = c.host.Teardown(errs)
	}
	if c.signals != nil {
		signal.Stop(c.signals)
		close(c.signalDone)
	}
	if c.host != nil {
		c.host.Unlock()
	}
	if len(errs) > 0 {
		return fmt.Errorf("cluster: stop (state kept in %s): %w", c.Dir, errors.Join(errs...))
	}
	return nil
}

// New starts a cluster for a test and stops it when the test ends, holding the node tests'
// lock (host.LockTests) until then. It fails the test when the cluster cannot start — a
// missing or unbuildable component is a failure, not a skip; only -short skips.
func New(t testing.TB, opts Options) *Cluster {
	t.Helper()
	if testing.Short() {
		t.Skip("cluster: starts a Kubernetes node and the Tekton controller; not run with -short")
	}
	if opts.Log == nil {
		opts.Log = testLog{t}
	}
	// Held until the cluster has stopped (cleanups run last registered first).
	unlock, err := host.LockTests(opts.Log)
	if err != nil {
		t.Fatalf("cluster: %v", err)
	}
	t.Cleanup(unlock)
	ctx, cancel := context.WithTimeout(context.Background(), 45*time.Minute)
	defer cancel()
	c, err := Start(ctx, opts)
	if err != nil {
		t.Fatalf("cluster could not start (this is a failure, not a skip): %v", err)
	}
	t.Cleanup(func() {
		if t.Failed() {
			c.dumpLogs(t)
		}
		if err := c.Stop(); err != nil {
			t.Errorf("%v", err)
		}
	})
	return c
}

// dumpLogs writes the tail of every daemon's log to the test log, before Stop removes them.
func (c *Cluster) dumpLogs(t testing.TB) {
	for _, d := range c.daemons {
		t.Logf("---- %s (last lines of %s)\n%s", d.name, d.log, tail(d.log, 40))
	}
}

// TestLog is a writer to t's log: a cluster's progress, a run's.
func TestLog(t testing.TB) io.Writer { return testLog{t} }

type testLog struct{ t testing.TB }

func (l testLog) Write(p []byte) (int, error) {
	l.t.Log(string(p))
	return len(p), nil
}
