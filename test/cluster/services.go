package cluster

import (
	"fmt"
	"net/http"
)

// Serve serves handler inside the cluster's network namespace on the pods' gateway address and
// returns its address as pods see it (10.88.0.1:port): stand-ins the steps call (a Slack sink,
// a release-service stand-in) run in the test process this way. Stop closes it.
func (c *Cluster) Serve(handler http.Handler) (string, error) {
	l, err := c.ns.listen(bridgeIP + ":0")
	if err != nil {
		return "", fmt.Errorf("cluster: serve: %w", err)
	}
	srv := &http.Server{Handler: handler}
	c.servers = append(c.servers, srv)
	go func() { _ = srv.Serve(l) }()
	return l.Addr().String(), nil
}

// HTTPClient is an HTTP client whose connections start inside the cluster's network namespace:
// the test reaches what runs there (Serve's handlers, a process started with StartProcess)
// without a packet on the host's network.
func (c *Cluster) HTTPClient() *http.Client {
	return &http.Client{Transport: &http.Transport{DialContext: c.ns.dial}}
}

// StartProcess runs a program inside the cluster's network namespace (Alertmanager, for one),
// with its output in the run's logs/<name>.log; Stop ends it.
func (c *Cluster) StartProcess(name string, env []string, bin string, args ...string) error {
	_, err := c.startDaemon(name, env, bin, args...)
	return err
}
