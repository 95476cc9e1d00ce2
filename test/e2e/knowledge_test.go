package e2e

import (
	"context"
	"fmt"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"

	"github.com/release-to-prod/release-to-prod/pkg/step"
	"github.com/release-to-prod/release-to-prod/pkg/step/knowledge"
	"github.com/release-to-prod/release-to-prod/pkg/step/knowledge/store"
	"github.com/release-to-prod/release-to-prod/test/faults"
	"github.com/release-to-prod/release-to-prod/test/sandbox"
	"github.com/release-to-prod/release-to-prod/test/stepexec"
	"github.com/release-to-prod/release-to-prod/test/tools"
)

// pod stands in for the preflight TaskRun's pod: one folder per step (results, exit code, as
// Tekton lays out /tekton/steps) and the shared knowledge file.
type pod struct {
	dir  string
	file string
}

func newPod(t *testing.T) *pod {
	dir := t.TempDir()
	return &pod{dir: dir, file: filepath.Join(dir, "workspace", "knowledge.json")}
}

// run runs one step of the pod with KNOWLEDGE_FILE set, and leaves its exit code where the
// verdict reads it.
func (p *pod) run(t *testing.T, name string, env map[string]string) Run {
	t.Helper()
	stepDir := filepath.Join(p.dir, "step-"+name)
	results := filepath.Join(stepDir, "results")
	require.NoError(t, os.MkdirAll(results, 0o755))
	procEnv := []string{"PATH=" + os.Getenv("PATH"), "HOME=" + t.TempDir(), "RESULTS_DIR=" + results, "KNOWLEDGE_FILE=" + p.file}
	for k, v := range env {
		procEnv = append(procEnv, k+"="+v)
	}
	res := stepexec.Run(t, stepBinary(t, name), procEnv)
	require.NoError(t, os.WriteFile(filepath.Join(stepDir, "exitCode"), []byte(fmt.Sprint(res.Code)), 0o644))
	r := Run{Code: res.Code, Output: res.Output, Results: map[string]string{}}
	entries, err := os.ReadDir(results)
	require.NoError(t, err)
	for _, e := range entries {
		b, err := os.ReadFile(filepath.Join(results, e.Name()))
		require.NoError(t, err)
		switch e.Name() {
		case step.AdviceFile:
			r.Advice = string(b)
		case knowledge.UnmatchedFile:
		default:
			r.Results[e.Name()] = string(b)
		}
	}
	t.Logf("%s exited %d:\n%s", name, r.Code, strings.TrimSpace(r.Output))
	return r
}

func (p *pod) exitCode(name string) string {
	return filepath.Join(p.dir, "step-"+name, "exitCode")
}

// tknLocal builds cmd/tkn-local and returns its path and a function that runs it.
func tknLocal(t *testing.T) (string, func(args ...string) (int, string)) {
	t.Helper()
	root, err := tools.Root()
	require.NoError(t, err)
	bin := filepath.Join(t.TempDir(), "tkn-local")
	cmd := exec.Command("go", "build", "-o", bin, "./cmd/tkn-local")
	cmd.Dir = root
	out, err := cmd.CombinedOutput()
	require.NoError(t, err, "%s", out)
	return bin, func(args ...string) (int, string) {
		res := stepexec.Run(t, bin, []string{"PATH=" + os.Getenv("PATH"), "HOME=" + t.TempDir(), "USER=carol"}, args...)
		t.Logf("tkn-local %s exited %d:\n%s", strings.Join(args, " "), res.Code, res.Output)
		return res.Code, res.Output
	}
}

// TestTeamKnowledgeLoop runs the whole loop at the step level against the sandbox: a failure
// nobody knows (a proxy in front of Alertmanager demanding credentials, 407) → its fingerprint
// in the history → tkn-local failures list and teach (the real CLI) → the same failure in a new
// run shows the taught cause and fix in the log, the verdict and Slack; and the known issues:
// an active one printed and in Slack, an expired one ignored, bad entries warned about and
// skipped, a blocking one stopping the release with its text.
func TestTeamKnowledgeLoop(t *testing.T) {
	if testing.Short() {
		t.Skip("sandbox")
	}
	s := sandbox.New(t)
	ctx := context.Background()
	tn := kxSeed(t, s, "knowledge-tenant", sandbox.TenantOptions{})
	am := sandbox.StartAlertmanager(t)
	inj := faults.New(faults.Fault{Kind: faults.Status, Code: http.StatusProxyAuthRequired, Match: faults.MethodPath("GET", "/api/v2/alerts")})
	proxy, err := inj.NewProxy(am.URL, nil)
	require.NoError(t, err)
	t.Cleanup(proxy.Server.Close)
	t.Cleanup(inj.Close)
	sink := sandbox.StartSlackSink(t)
	hook := sink.Webhook("knowledge")
	urlFile := filepath.Join(t.TempDir(), "url")
	require.NoError(t, os.WriteFile(urlFile, []byte(hook.URL), 0o600))
	tknBin, tkn := tknLocal(t)
	kube := map[string]string{"NAMESPACE": tn.Namespace, "KUBECONFIG": s.Kubeconfig}
	alertsEnv := map[string]string{"ALERTMANAGER_URL": proxy.URL, "TIMEOUT": "5s"}

	preflight := func(t *testing.T) (*pod, Run, Run, Run) {
		p := newPod(t)
		known := p.run(t, "check-known-issues", kube)
		alerts := p.run(t, "check-alerts", alertsEnv)
		verdict := p.run(t, "gate-verdict", map[string]string{
			"GATES": "known-issues=" + p.exitCode("check-known-issues") + ",alerts=" + p.exitCode("check-alerts")})
		return p, known, alerts, verdict
	}
	notify := func(t *testing.T, known, verdict Run) string {
		n := len(hook.Posts())
		r := runStep(t, "notify", map[string]string{"WEBHOOK_URL_FILE": urlFile, "STATUS": "Failed", "COMPONENT": tn.Component,
			"COMMIT_SHA": tn.SHA, "GATE_SUMMARY": verdict.Results["GATE_SUMMARY"], "FAILURE_CAUSE": verdict.Results["FAILURE_CAUSE"],
			"FAILURE_FIX": verdict.Results["FAILURE_FIX"], "KNOWN_ISSUES": known.Results["KNOWN_ISSUES"]})
		require.Equal(t, 0, r.Code)
		posts := hook.Posts()
		require.Len(t, posts, n+1)
		return slackTexts(t, posts[n:])
	}

	// 1. Nobody knows the failure: its fingerprint, how to teach it, and the history.
	var fp string
	t.Run("an unknown failure is fingerprinted and recorded", func(t *testing.T) {
		_, known, alerts, verdict := preflight(t)
		require.Equal(t, 0, known.Code)
		assert.Contains(t, known.Output, "no team knowledge store yet (ConfigMap release-knowledge does not exist in knowledge-tenant)")
		require.Equal(t, 1, alerts.Code)
		m := regexp.MustCompile(`no known cause yet: .*\(fingerprint ([0-9a-f]{12})\)`).FindStringSubmatch(alerts.Output)
		require.NotNil(t, m, "the output names the fingerprint")
		fp = m[1]
		assert.Contains(t, alerts.Output, "tkn-local failures teach "+fp+" -n knowledge-tenant --cause")
		assert.Contains(t, alerts.Output, "kubectl edit configmap release-knowledge -n knowledge-tenant")
		assert.Contains(t, alerts.Output, "- match: {step: check-alerts, fingerprint: "+fp+"}")
		assert.Empty(t, alerts.Advice, "no cause to advise")

		require.Equal(t, 1, verdict.Code)
		assert.Contains(t, verdict.Results["FAILURE_CAUSE"], "alerts: blocked (exit 1), no known cause yet (fingerprint "+fp+")")
		assert.Contains(t, verdict.Results["FAILURE_FIX"], "tkn-local failures teach "+fp+" -n knowledge-tenant")
		unknown, err := knowledge.DecodeUnmatched(verdict.Results["UNKNOWN_FAILURES"])
		require.NoError(t, err)
		require.Len(t, unknown, 1)
		assert.Equal(t, knowledge.Unmatched{Step: "check-alerts", ID: knowledge.UnknownID, Status: 407, Fingerprint: fp, Message: unknown[0].Message}, unknown[0])
		assert.Contains(t, unknown[0].Message, "407 Proxy Authentication Required")

		for i := range 2 { // two runs met it
			r := runStep(t, "record-history", map[string]string{"COMMIT_SHA": tn.SHA, "COMPONENT": tn.Component, "NAMESPACE": tn.Namespace,
				"KUBECONFIG": s.Kubeconfig, "STATUS": "Blocked", "PIPELINE_RUN": fmt.Sprintf("run-%d", i), "UNKNOWN_FAILURES": verdict.Results["UNKNOWN_FAILURES"]})
			require.Equal(t, 0, r.Code)
		}
		history := kxReadHistory(t, s, tn.Namespace, "release-history")
		require.Len(t, history, 2)
		require.Len(t, history[0].Unmatched, 1)
		assert.Equal(t, fp, history[0].Unmatched[0].Fingerprint)
		assert.Contains(t, history[0].Unmatched[0].Message, "Proxy Authentication Required", "the raw message, bounded")

		body := notify(t, known, verdict)
		assert.Contains(t, body, "fingerprint "+fp)
		assert.Contains(t, body, "tkn-local failures teach "+fp)
	})
	require.NotEmpty(t, fp)

	// 2. Taught with the real CLI.
	t.Run("tkn-local failures list and teach", func(t *testing.T) {
		code, out := tkn("failures", "list", "-n", tn.Namespace, "--kubeconfig", s.Kubeconfig)
		require.Equal(t, 0, code)
		assert.Regexp(t, fp+`\s+2\s+\S+\s+check-alerts\s+unknown\s+no\s+listing firing alerts from Alertmanager`, out, "counted per fingerprint, not taught yet")

		code, out = tkn("failures", "teach", fp, "-n", tn.Namespace, "--kubeconfig", s.Kubeconfig,
			"--cause", "the egress proxy wants credentials: the *proxy-auth* secret expired",
			"--fix", "renew the proxy-auth secret (ask #it-proxy), then re-run", "--by", "alice")
		require.Equal(t, 0, code)
		assert.Contains(t, out, "✓ taught "+fp+" in ConfigMap release-knowledge in knowledge-tenant")

		code, out = tkn("failures", "list", "-n", tn.Namespace, "--kubeconfig", s.Kubeconfig)
		require.Equal(t, 0, code)
		assert.Regexp(t, fp+`\s+2\s+\S+\s+check-alerts\s+unknown\s+yes`, out)

		code, out = tkn("failures", "teach", "not-a-fingerprint", "--cause", "c", "--fix", "f")
		assert.Equal(t, 2, code)
		assert.Contains(t, out, "is not a fingerprint")

		// A pattern over the complexity budget is refused before anything is written.
		code, out = tkn("failures", "teach", fp, "-n", tn.Namespace, "--kubeconfig", s.Kubeconfig, "--cause", "c", "--fix", "f",
			"--pattern", strings.Repeat("[^!]{0,999}", 22)+"!")
		assert.Equal(t, 2, code)
		assert.Contains(t, out, "pattern")
		assert.Contains(t, out, "too complex: a repeat count of 999 is over the limit of 100")
	})

	// The team adds known issues by hand (kubectl edit), with mistakes.
	cms := s.Dynamic.Resource(sandbox.ConfigMaps).Namespace(tn.Namespace)
	setKey := func(t *testing.T, key, value string) {
		u, err := cms.Get(ctx, "release-knowledge", metav1.GetOptions{})
		require.NoError(t, err)
		require.NoError(t, unstructured.SetNestedField(u.Object, value, "data", key))
		_, err = cms.Update(ctx, u, metav1.UpdateOptions{})
		require.NoError(t, err)
	}
	getKey := func(t *testing.T, key string) string {
		u, err := cms.Get(ctx, "release-knowledge", metav1.GetOptions{})
		require.NoError(t, err)
		v, _, _ := unstructured.NestedString(u.Object, "data", key)
		return v
	}
	issues := `version: 1
issues:
  - id: quay-slow
    service: quay
    message: Quay security scans are delayed (incident 1234) <!channel>
    expires: 2099-01-01
  - id: old-outage
    service: konflux
    message: the Konflux outage of last year
    expires: 2020-01-01T00:00:00Z
  - id: typo
    service: slack
    mesage: misspelt field
    blocks: false
  - id: bad-date
    message: expiry is not a date
    expires: next tuesday
    blocks: false
`

	// 3. The same failure in a new run: the taught cause and fix.
	t.Run("the next run explains it", func(t *testing.T) {
		setKey(t, knowledge.KnownIssuesKey, issues)
		setKey(t, knowledge.LearnedFixesKey, getKey(t, knowledge.LearnedFixesKey)+
			"  - id: broken-pattern\n    match: {pattern: 'proxy (auth'}\n    cause: c\n    fix: f\n")
		_, known, alerts, verdict := preflight(t)
		require.Equal(t, 0, known.Code)
		assert.Contains(t, known.Output, `! known issue: quay: Quay security scans are delayed (incident 1234) <!channel> (until 2099-01-02T00:00:00Z)`)
		assert.Contains(t, known.Output, "- known issue old-outage expired 2020-01-01T00:00:00Z: ignored")
		assert.Contains(t, known.Output, `entry "typo" skipped: unknown field "mesage"`)
		assert.Contains(t, known.Output, `entry "bad-date" skipped: expires: "next tuesday" is not`)
		assert.Contains(t, known.Output, `entry "broken-pattern" skipped: match: pattern is not a valid regexp`)
		assert.Equal(t, "quay: Quay security scans are delayed (incident 1234) <!channel> (until 2099-01-02T00:00:00Z)", known.Results["KNOWN_ISSUES"])

		require.Equal(t, 1, alerts.Code)
		assert.Contains(t, alerts.Output, "likely cause: the egress proxy wants credentials: the ∗proxy-auth∗ secret expired")
		assert.Contains(t, alerts.Output, "fix: renew the proxy-auth secret (ask #it-proxy), then re-run")
		assert.Contains(t, alerts.Output, "(team knowledge, from the team knowledge store (ConfigMap release-knowledge in knowledge-tenant), by alice")
		assert.NotContains(t, alerts.Output, "no known cause yet")
		assert.Contains(t, alerts.Advice, "the egress proxy wants credentials")

		require.Equal(t, 1, verdict.Code)
		assert.Contains(t, verdict.Results["FAILURE_CAUSE"], "alerts: the egress proxy wants credentials: the ∗proxy-auth∗ secret expired [team knowledge, by alice]")
		assert.Contains(t, verdict.Results["FAILURE_FIX"], "alerts: renew the proxy-auth secret")
		assert.Empty(t, verdict.Results["UNKNOWN_FAILURES"])

		body := notify(t, known, verdict)
		assert.Contains(t, body, "the egress proxy wants credentials")
		assert.Contains(t, body, "renew the proxy-auth secret")
		assert.Contains(t, body, "Known issues")
		assert.Contains(t, body, "Quay security scans are delayed (incident 1234) &lt;!channel&gt;", "escaped: no mention")
		assert.NotContains(t, body, "*proxy-auth*", "no Slack formatting from the store")
		assert.NotContains(t, body, "Konflux outage of last year", "expired")
	})

	// 4. A blocking known issue stops the release with its text.
	t.Run("a blocking known issue stops the release", func(t *testing.T) {
		setKey(t, knowledge.KnownIssuesKey, issues+"  - id: freeze\n    message: release freeze until the 2.5 GA\n    blocks: true\n")
		_, known, _, verdict := preflight(t)
		require.Equal(t, 1, known.Code)
		assert.Contains(t, known.Output, "✗ known issue (blocks releases): any: release freeze until the 2.5 GA")
		assert.Contains(t, known.Output, "likely cause: the team marked a known issue as blocking releases: any: release freeze until the 2.5 GA")
		assert.Contains(t, known.Output, "kubectl edit configmap release-knowledge -n knowledge-tenant")
		assert.True(t, strings.HasPrefix(known.Advice, "the team marked a known issue as blocking releases: any: release freeze"), known.Advice)
		require.Equal(t, 1, verdict.Code)
		assert.Contains(t, verdict.Results["FAILED_GATES"], "known-issues")
		assert.Contains(t, verdict.Results["FAILURE_CAUSE"], "known-issues: the team marked a known issue as blocking releases: any: release freeze until the 2.5 GA")
		body := notify(t, known, verdict)
		assert.Contains(t, body, "release freeze until the 2.5 GA")
	})

	// 4b. A store that cannot be read whole blocks (fail closed): what cannot be read may be a
	// release freeze. Expired entries and an archive key hide nothing.
	t.Run("a known issue that cannot be read blocks", func(t *testing.T) {
		t.Cleanup(func() { setKey(t, knowledge.KnownIssuesKey, issues) })
		var expired strings.Builder
		for i := range 50 {
			fmt.Fprintf(&expired, "  - {id: old-%d, message: an old outage, expires: 2020-01-01}\n", i)
		}
		tests := []struct {
			name, issues, archive string
			cause                 string // the failure's cause; "" when the known issue blocks by itself
		}{
			{name: "blocks: yes", issues: issues + "  - id: freeze\n    message: release freeze\n    blocks: yes\n",
				cause: `known-issues.yaml: entry "freeze" skipped: blocks is not true or false`},
			{name: "unquoted colon", issues: issues + "  - id: freeze\n    message: freeze: no releases\n    blocks: true\n",
				cause: `known-issues.yaml: not valid YAML`},
			{name: "misspelt blocks", issues: issues + "  - id: freeze\n    message: release freeze\n    block: true\n",
				cause: `known-issues.yaml: entry "freeze" skipped: unknown field "block"`},
			{name: "50 expired entries before it", issues: "version: 1\nissues:\n" + expired.String() + "  - id: freeze\n    message: release freeze after 50 expired\n    blocks: true\n"},
			{name: "an archive key beside it", issues: "version: 1\nissues:\n  - id: freeze\n    message: release freeze beside an archive\n    blocks: true\n",
				archive: "[" + strings.Repeat("x", knowledge.MaxStoreBytes-1000)},
		}
		for _, tt := range tests {
			t.Run(tt.name, func(t *testing.T) {
				setKey(t, knowledge.KnownIssuesKey, tt.issues)
				if tt.archive != "" {
					setKey(t, "archive.yaml", tt.archive)
					t.Cleanup(func() {
						u, err := cms.Get(ctx, "release-knowledge", metav1.GetOptions{})
						require.NoError(t, err)
						unstructured.RemoveNestedField(u.Object, "data", "archive.yaml")
						_, err = cms.Update(ctx, u, metav1.UpdateOptions{})
						require.NoError(t, err)
					})
				}
				p := newPod(t)
				known := p.run(t, "check-known-issues", kube)
				verdict := p.run(t, "gate-verdict", map[string]string{"GATES": "known-issues=" + p.exitCode("check-known-issues")})
				require.Equal(t, 1, known.Code, "fails closed")
				require.Equal(t, 1, verdict.Code)
				assert.Contains(t, verdict.Results["FAILED_GATES"], "known-issues")
				if tt.cause == "" {
					assert.Contains(t, known.Output, "✗ known issue (blocks releases): any: release freeze")
					assert.Contains(t, verdict.Results["FAILURE_CAUSE"], "known-issues: the team marked a known issue as blocking releases: any: release freeze")
					return
				}
				assert.Contains(t, known.Output, "✗ team knowledge: "+tt.cause)
				assert.Contains(t, known.Output, "it may be a blocking known issue")
				assert.Contains(t, known.Output, "kubectl edit configmap release-knowledge -n knowledge-tenant")
				assert.Contains(t, verdict.Results["FAILURE_CAUSE"], "known-issues: the team knowledge store holds known issues that cannot be read")
				assert.Contains(t, verdict.Results["FAILURE_CAUSE"], tt.cause)
			})
		}
	})

	// 5. Teaching concurrently (two people at once) loses no entry: optimistic concurrency.
	t.Run("concurrent teaches all land", func(t *testing.T) {
		const n = 6
		errs := make(chan error, n)
		for i := range n {
			go func() {
				fp := fmt.Sprintf("%012x", 0xc0ffee000+i)
				cmd := exec.Command(tknBin, "failures", "teach", fp, "-n", tn.Namespace, "--kubeconfig", s.Kubeconfig,
					"--cause", fmt.Sprintf("cause %d", i), "--fix", "fix", "--by", fmt.Sprintf("person-%d", i))
				cmd.Env = []string{"PATH=" + os.Getenv("PATH"), "HOME=" + os.TempDir()}
				if out, err := cmd.CombinedOutput(); err != nil {
					errs <- fmt.Errorf("teaching %s: %w\n%s", fp, err, out)
					return
				}
				errs <- nil
			}()
		}
		for range n {
			require.NoError(t, <-errs)
		}
		k, _, err := store.Read(ctx, s.Dynamic, tn.Namespace, "release-knowledge")
		require.NoError(t, err)
		taught := map[string]bool{}
		for _, l := range k.LearnedFixes {
			taught[l.Match.Fingerprint] = true
		}
		for i := range n {
			assert.True(t, taught[fmt.Sprintf("%012x", 0xc0ffee000+i)], "entry %d", i)
		}
		assert.True(t, taught[fp], "the entry taught before stays")
		assert.Contains(t, getKey(t, knowledge.KnownIssuesKey), "id: typo", "the known issues, bad entries included, are untouched")
	})
}
