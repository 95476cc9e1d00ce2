package cluster

import (
	"crypto/tls"
	"crypto/x509"
	"fmt"
	"net"
	"net/http"
	"sync/atomic"

	"github.com/release-to-prod/release-to-prod/pkg/build/imagebuild"
)

var serial atomic.Int64

// Serve serves handler inside the cluster's network namespace on the pods' gateway address and
// returns its address as pods see it (10.88.0.1:port): stand-ins the steps call (a Slack sink,
// a release-service stand-in) run in the test process this way. Stop closes it.
func (c *Cluster) Serve(handler http.Handler) (string, error) {
	l, err := c.host.Listen(GatewayIP + ":0")
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
	return &http.Client{Transport: &http.Transport{DialContext: c.host.Dial}}
}

// StartProcess runs a program inside the cluster's network namespace (Alertmanager, for one),
// with its output in the run's logs/<name>.log; Stop ends it.
func (c *Cluster) StartProcess(name string, env []string, bin string, args ...string) error {
	_, err := c.startDaemon(name, env, bin, args...)
	return err
}

// ServeTLS is Serve over HTTPS, with a certificate for the pods' gateway address signed by the
// cluster's CA (CACert): steps that refuse to send a secret in clear (the Slack webhook URL)
// talk to it when their image or CA bundle trusts that CA. It returns the address as pods see
// it.
func (c *Cluster) ServeTLS(handler http.Handler) (string, error) {
	certPEM, keyPEM, err := c.pki.issue(100+serial.Add(1), "test service", nil, x509.ExtKeyUsageServerAuth,
		[]net.IP{net.ParseIP(GatewayIP)}, nil)
	if err != nil {
		return "", fmt.Errorf("cluster: serve TLS: %w", err)
	}
	cert, err := tls.X509KeyPair(certPEM, keyPEM)
	if err != nil {
		return "", fmt.Errorf("cluster: serve TLS: %w", err)
	}
	l, err := c.host.Listen(GatewayIP + ":0")
	if err != nil {
		return "", fmt.Errorf("cluster: serve TLS: %w", err)
	}
	srv := &http.Server{Handler: handler, TLSConfig: &tls.Config{Certificates: []tls.Certificate{cert}, MinVersion: tls.VersionTLS12}}
	c.servers = append(c.servers, srv)
	go func() { _ = srv.ServeTLS(l, "", "") }()
	return l.Addr().String(), nil
}

// CACert is the PEM certificate of the cluster's CA: it signs the API server's and ServeTLS's
// certificates.
func (c *Cluster) CACert() []byte { return append([]byte(nil), c.pki.caCert...) }

// TrustedCAs is the CA bundle of a client of the cluster's stand-ins: the host's CA
// certificates and the cluster's CA (CACert), as the step images trust them.
func (c *Cluster) TrustedCAs() ([]byte, error) {
	certs, err := imagebuild.ReadCACerts(hostCACerts)
	if err != nil {
		return nil, err
	}
	return append(append(certs, '\n'), c.CACert()...), nil
}
