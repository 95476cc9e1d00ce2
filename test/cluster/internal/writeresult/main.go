// Command write-result is the step of the test cluster's own tests: it writes one Tekton result
// of a chosen size, so that a test can check a result end to end and what the kubelet's
// termination-message cap does to a big one.
//
//	RESULT_PATH   file to write ($(results.<name>.path))
//	RESULT_VALUE  the value; padded with 'x' up to RESULT_SIZE bytes when that is larger
//	FETCH_URL     instead: GET this URL and write "<status> <start of the body>"; an https URL
//	              is called with the pod's ServiceAccount token and the cluster's CA, as
//	              client-go's in-cluster config does
package main

import (
	"crypto/tls"
	"crypto/x509"
	"fmt"
	"io"
	"net/http"
	"os"
	"strconv"
	"strings"
	"time"
)

const serviceAccountDir = "/var/run/secrets/kubernetes.io/serviceaccount"

func main() {
	if err := run(); err != nil {
		fmt.Fprintln(os.Stderr, "write-result:", err)
		os.Exit(1)
	}
}

func run() error {
	path := os.Getenv("RESULT_PATH")
	if path == "" {
		return fmt.Errorf("RESULT_PATH is empty: set it to $(results.<name>.path)")
	}
	value := os.Getenv("RESULT_VALUE")
	if u := os.Getenv("FETCH_URL"); u != "" {
		v, err := fetch(u)
		if err != nil {
			return err
		}
		value = v
	}
	if s := os.Getenv("RESULT_SIZE"); s != "" {
		n, err := strconv.Atoi(s)
		if err != nil || n < 0 {
			return fmt.Errorf("RESULT_SIZE=%q: want a byte count", s)
		}
		if n > len(value) {
			value += strings.Repeat("x", n-len(value))
		}
	}
	if err := os.WriteFile(path, []byte(value), 0o644); err != nil {
		return fmt.Errorf("writing the result: %w", err)
	}
	fmt.Printf("✓ wrote %d bytes to %s as uid %d\n", len(value), path, os.Getuid())
	return nil
}

func fetch(url string) (string, error) {
	client := &http.Client{Timeout: 30 * time.Second}
	req, err := http.NewRequest(http.MethodGet, url, nil)
	if err != nil {
		return "", fmt.Errorf("FETCH_URL: %w", err)
	}
	if strings.HasPrefix(url, "https://") {
		ca, err := os.ReadFile(serviceAccountDir + "/ca.crt")
		if err != nil {
			return "", fmt.Errorf("in-cluster CA: %w", err)
		}
		pool := x509.NewCertPool()
		if !pool.AppendCertsFromPEM(ca) {
			return "", fmt.Errorf("in-cluster CA: no certificate in %s/ca.crt", serviceAccountDir)
		}
		token, err := os.ReadFile(serviceAccountDir + "/token")
		if err != nil {
			return "", fmt.Errorf("ServiceAccount token: %w", err)
		}
		client.Transport = &http.Transport{TLSClientConfig: &tls.Config{RootCAs: pool, MinVersion: tls.VersionTLS12}}
		req.Header.Set("Authorization", "Bearer "+strings.TrimSpace(string(token)))
	}
	resp, err := client.Do(req)
	if err != nil {
		return "", fmt.Errorf("GET %s: %w", url, err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(io.LimitReader(resp.Body, 64))
	if err != nil {
		return "", fmt.Errorf("GET %s: %w", url, err)
	}
	return strings.TrimSpace(fmt.Sprintf("%d %s", resp.StatusCode, strings.Join(strings.Fields(string(body)), " "))), nil
}
