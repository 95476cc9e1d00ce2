package cluster

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"time"

	"github.com/release-to-prod/release-to-prod/test/sandbox"
	"github.com/release-to-prod/release-to-prod/test/tools"
)

// alertmanagerPort is where Alertmanager listens on the pods' gateway address.
const alertmanagerPort = "9093"

// Alertmanager is a real Alertmanager (built by make tools) running inside the cluster's network
// namespace, where pods reach it at URL; Stop ends it with the cluster.
type Alertmanager struct {
	URL string // as pods see it
	c   *Cluster
}

// StartAlertmanager starts Alertmanager on the pods' gateway address, routing every alert to a
// receiver that notifies nobody, and waits until it is ready.
func (c *Cluster) StartAlertmanager(ctx context.Context) (*Alertmanager, error) {
	bin, err := tools.Path(ctx, tools.Alertmanager, c.log)
	if err != nil {
		return nil, fmt.Errorf("alertmanager binary: %w", err)
	}
	dir := filepath.Join(c.Dir, "alertmanager")
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return nil, fmt.Errorf("alertmanager: %w", err)
	}
	cfg := filepath.Join(dir, "alertmanager.yml")
	if err := os.WriteFile(cfg, []byte(sandbox.AlertmanagerConfig), 0o644); err != nil {
		return nil, fmt.Errorf("alertmanager config: %w", err)
	}
	addr := GatewayIP + ":" + alertmanagerPort
	if err := c.StartProcess("alertmanager", nil, bin, "--config.file="+cfg, "--storage.path="+filepath.Join(dir, "data"),
		"--web.listen-address="+addr, "--cluster.listen-address=", "--log.level=warn"); err != nil {
		return nil, fmt.Errorf("alertmanager: %w", err)
	}
	am := &Alertmanager{URL: "http://" + addr, c: c}
	client := c.HTTPClient()
	err = c.WaitFor(ctx, "Alertmanager ready", time.Minute, httpReady(client, am.URL+"/-/ready"))
	if err != nil {
		return nil, err
	}
	return am, nil
}

// PostAlerts fires alerts, as Prometheus would.
func (a *Alertmanager) PostAlerts(ctx context.Context, alerts ...sandbox.AlertmanagerAlert) error {
	return sandbox.SendAlerts(ctx, a.c.HTTPClient(), a.URL, alerts...)
}
