package sandbox

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/release-to-prod/release-to-prod/test/tools"
)

// Alertmanager is a real Alertmanager (v0.27.0, built by test/tools) on a loopback port, with
// its own configuration and storage in a temporary folder and clustering off. Tests post alerts
// and silences to it through its API v2, as Prometheus and people do.
type Alertmanager struct {
	URL string // http://127.0.0.1:PORT

	cmd  *exec.Cmd
	log  *alertmanagerLog
	done chan struct{}
}

// AlertmanagerAlert is an alert as POST /api/v2/alerts takes it (postableAlert).
type AlertmanagerAlert struct {
	Labels       map[string]string `json:"labels"`
	Annotations  map[string]string `json:"annotations,omitempty"`
	StartsAt     time.Time         `json:"startsAt,omitzero"`
	EndsAt       time.Time         `json:"endsAt,omitzero"`
	GeneratorURL string            `json:"generatorURL,omitempty"`
}

// AlertmanagerConfig routes everything to a receiver that notifies nobody (the sandbox's
// Alertmanager, and the test cluster's).
const AlertmanagerConfig = `route:
  receiver: blackhole
  group_wait: 1h
receivers:
  - name: blackhole
`

// StartAlertmanager starts Alertmanager and waits until /-/ready answers 200; t.Cleanup stops
// it. The first call may build the binary (under a minute).
func StartAlertmanager(t testing.TB) *Alertmanager {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Minute)
	defer cancel()
	am, err := RunAlertmanager(ctx, t.TempDir(), os.Stderr)
	if err != nil {
		t.Fatalf("starting alertmanager: %v", err)
	}
	t.Cleanup(func() {
		am.Stop()
		if t.Failed() {
			t.Logf("alertmanager log:\n%s", am.log.String())
		}
	})
	return am
}

// RunAlertmanager starts Alertmanager with its files in dir (the demo uses it; tests use
// StartAlertmanager). The caller stops it.
func RunAlertmanager(ctx context.Context, dir string, log io.Writer) (*Alertmanager, error) {
	bin, err := tools.Path(ctx, tools.Alertmanager, log)
	if err != nil {
		return nil, fmt.Errorf("alertmanager binary: %w", err)
	}
	cfg := filepath.Join(dir, "alertmanager.yml")
	if err := os.WriteFile(cfg, []byte(AlertmanagerConfig), 0o644); err != nil {
		return nil, fmt.Errorf("alertmanager config: %w", err)
	}
	// The port is found free and then handed over, so another process can take it in between:
	// try again with a new one when Alertmanager exits early.
	var lastErr error
	for try := 0; try < 3; try++ {
		am, err := startAlertmanagerOnce(bin, cfg, filepath.Join(dir, fmt.Sprintf("data-%d", try)))
		if err == nil {
			return am, nil
		}
		lastErr = err
	}
	return nil, lastErr
}

func startAlertmanagerOnce(bin, cfg, storage string) (*Alertmanager, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, err
	}
	addr := l.Addr().String()
	if err := l.Close(); err != nil {
		return nil, err
	}
	am := &Alertmanager{URL: "http://" + addr, log: &alertmanagerLog{}, done: make(chan struct{})}
	am.cmd = exec.Command(bin,
		"--config.file="+cfg,
		"--storage.path="+storage,
		"--web.listen-address="+addr,
		"--cluster.listen-address=", // no gossip: a single, isolated instance
		"--log.level=warn",
	)
	am.cmd.Stdout, am.cmd.Stderr = am.log, am.log
	if err := am.cmd.Start(); err != nil {
		return nil, err
	}
	go func() { _ = am.cmd.Wait(); close(am.done) }()
	deadline := time.Now().Add(30 * time.Second)
	c := &http.Client{Timeout: 2 * time.Second}
	for {
		select {
		case <-am.done:
			return nil, fmt.Errorf("alertmanager exited before it was ready:\n%s", am.log.String())
		default:
		}
		resp, err := c.Get(am.URL + "/-/ready")
		if err == nil {
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				break
			}
		}
		if time.Now().After(deadline) {
			am.Stop()
			return nil, fmt.Errorf("alertmanager not ready after 30s:\n%s", am.log.String())
		}
		time.Sleep(50 * time.Millisecond) // polling interval, bounded by the deadline above
	}
	return am, nil
}

// Stop ends the process (idempotent).
func (a *Alertmanager) Stop() {
	select {
	case <-a.done:
		return
	default:
	}
	_ = a.cmd.Process.Signal(os.Interrupt)
	select {
	case <-a.done:
	case <-time.After(10 * time.Second):
		_ = a.cmd.Process.Kill()
		<-a.done
	}
}

// PostAlerts posts firing alerts; without StartsAt they start now, without EndsAt they end
// after Alertmanager's resolve_timeout (5m).
func (a *Alertmanager) PostAlerts(t testing.TB, alerts ...AlertmanagerAlert) {
	t.Helper()
	if err := SendAlerts(context.Background(), &http.Client{Timeout: 10 * time.Second}, a.URL, alerts...); err != nil {
		t.Fatal(err)
	}
}

// SendAlerts posts firing alerts to the Alertmanager at baseURL through client, as Prometheus
// does.
func SendAlerts(ctx context.Context, client *http.Client, baseURL string, alerts ...AlertmanagerAlert) error {
	b, err := json.Marshal(alerts)
	if err != nil {
		return fmt.Errorf("alertmanager: alerts: %w", err)
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, baseURL+"/api/v2/alerts", bytes.NewReader(b))
	if err != nil {
		return fmt.Errorf("alertmanager: %w", err)
	}
	req.Header.Set("Content-Type", "application/json")
	resp, err := client.Do(req)
	if err != nil {
		return fmt.Errorf("alertmanager: posting alerts: %w", err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		rb, _ := io.ReadAll(io.LimitReader(resp.Body, 4096))
		return fmt.Errorf("alertmanager: posting alerts: %s: %s", resp.Status, rb)
	}
	return nil
}

// Silence silences alerts whose labels equal every one of matchers, for an hour from now, and
// returns the silence ID.
func (a *Alertmanager) Silence(t testing.TB, matchers map[string]string, comment string) string {
	t.Helper()
	type matcher struct {
		Name    string `json:"name"`
		Value   string `json:"value"`
		IsRegex bool   `json:"isRegex"`
		IsEqual bool   `json:"isEqual"`
	}
	body := struct {
		Matchers  []matcher `json:"matchers"`
		StartsAt  time.Time `json:"startsAt"`
		EndsAt    time.Time `json:"endsAt"`
		CreatedBy string    `json:"createdBy"`
		Comment   string    `json:"comment"`
	}{StartsAt: time.Now().Add(-time.Minute).UTC(), EndsAt: time.Now().Add(time.Hour).UTC(), CreatedBy: "release-to-prod tests", Comment: comment}
	for k, v := range matchers {
		body.Matchers = append(body.Matchers, matcher{Name: k, Value: v, IsEqual: true})
	}
	var reply struct {
		SilenceID string `json:"silenceID"`
	}
	a.post(t, "/api/v2/silences", body, &reply)
	if reply.SilenceID == "" {
		t.Fatalf("alertmanager: silence created without an ID")
	}
	return reply.SilenceID
}

func (a *Alertmanager) post(t testing.TB, path string, body, reply any) {
	t.Helper()
	b, err := json.Marshal(body)
	if err != nil {
		t.Fatal(err)
	}
	c := &http.Client{Timeout: 10 * time.Second}
	resp, err := c.Post(a.URL+path, "application/json", bytes.NewReader(b))
	if err != nil {
		t.Fatalf("alertmanager POST %s: %v", path, err)
	}
	defer resp.Body.Close()
	rb, _ := io.ReadAll(resp.Body)
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("alertmanager POST %s: %d: %s", path, resp.StatusCode, rb)
	}
	if reply != nil {
		if err := json.Unmarshal(rb, reply); err != nil {
			t.Fatalf("alertmanager POST %s: reply %s: %v", path, rb, err)
		}
	}
}

// alertmanagerLog keeps the process output for a failed test's log.
type alertmanagerLog struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (l *alertmanagerLog) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.buf.Len() > 1<<20 {
		return len(p), nil
	}
	return l.buf.Write(p)
}

func (l *alertmanagerLog) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.buf.String()
}
