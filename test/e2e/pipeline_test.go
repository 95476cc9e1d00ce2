package e2e

import (
	"fmt"
	"net"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"

	"github.com/release-to-prod/release-to-prod/pkg/localrun/runner"
	"github.com/release-to-prod/release-to-prod/test/sandbox"
)

// TestPipeline runs the whole release-to-prod Pipeline through the local runner (Tekton's own
// DAG, when-expression and substitution code; every step the real binary as a process) against
// the sandbox's real API server, registry, Quay stand-in, Alertmanager, a Slack sink and a
// release-service stand-in. The cases share one sandbox and are told apart by namespace; every
// run's output and files are checked for every secret handed to any run (see pipelineKit.run).
func TestPipeline(t *testing.T) {
	began := time.Now()
	k := newPipelineKit(t)
	t.Logf("kit ready in %s", time.Since(began).Round(time.Millisecond))

	t.Run("success", func(t *testing.T) {
		tn := k.tenant(t, "pl-success", sandbox.TenantOptions{})
		r := k.run(t, k.params(tn), tn.Workspaces)
		require.NoError(t, r.Err)
		assert.True(t, r.Succeeded(), r.statuses())
		assert.Equal(t, "Succeeded", r.reason())
		assert.Equal(t, "preflight=Succeeded create-release=Succeeded report=Succeeded", r.statuses())

		name, ok := r.result("RELEASE_NAME")
		require.True(t, ok, "RELEASE_NAME result")
		assertResult(t, r, "RELEASE_STATUS", "Succeeded")
		assertResult(t, r, "FAILED_GATES", "")
		assertResult(t, r, "PINNED_DIGEST", tn.Digest)
		assertResult(t, r, "GATE_SUMMARY", "known-issues ✓, image ✓, konflux ✓, alerts ✓, vulnerabilities ✓, app-interface ✓")

		rels := k.releasesIn(t, tn.Namespace)
		require.Len(t, rels, 1)
		rel := rels[0]
		assert.Equal(t, name, rel.GetName())
		assertNested(t, rel, tn.Snapshot, "spec", "snapshot")
		assertNested(t, rel, tn.ReleasePlan, "spec", "releasePlan")
		assert.Equal(t, pipelineSHA, rel.GetLabels()["pac.test.appstudio.openshift.io/sha"])
		assert.Equal(t, "True", releasedCondition(rel))

		h := k.historyOf(t, tn.Namespace)
		require.Len(t, h, 1)
		assert.Equal(t, "Succeeded", h[0].Status)
		assert.Equal(t, name, h[0].Release)
		assert.Equal(t, tn.Snapshot, h[0].Snapshot)
		assert.Equal(t, pipelineSHA, h[0].SHA)
		assert.Equal(t, r.Name, h[0].PipelineRun)

		posts := tn.Hook.Posts()
		require.Len(t, posts, 1)
		assert.Contains(t, posts[0].ContentType, "application/json")
		assert.Contains(t, posts[0].Text, "Released "+tn.Component)
		assert.Contains(t, slackTexts(t, posts), name)

		assertLines(t, r.Output,
			"✓ all 6 gates passed",
			"✓ created Release "+name,
			"✓ Release "+name+" succeeded",
			"✓ recorded Succeeded of "+tn.Component,
			"✓ notification sent to Slack (127.0.0.1): released",
			"✓ PipelineRun "+r.Name+": Succeeded (succeeded=True)")
	})

	t.Run("dry run", func(t *testing.T) {
		tn := k.tenant(t, "pl-dry-run", sandbox.TenantOptions{})
		r := k.run(t, k.params(tn, "dry_run", "true"), tn.Workspaces)
		require.NoError(t, r.Err)
		assert.True(t, r.Succeeded(), r.statuses())
		assert.Equal(t, "preflight=Succeeded create-release=Succeeded report=Succeeded", r.statuses())
		assertResult(t, r, "RELEASE_STATUS", "DryRun")
		assert.Empty(t, k.releasesIn(t, tn.Namespace), "a dry run creates no Release")
		assertLines(t, r.Output, "kind: Release", "snapshot: "+tn.Snapshot, "releasePlan: "+tn.ReleasePlan, "dry run: nothing created")

		h := k.historyOf(t, tn.Namespace)
		require.Len(t, h, 1)
		assert.Equal(t, "DryRun", h[0].Status)
		assert.Empty(t, h[0].Release)

		posts := tn.Hook.Posts()
		require.Len(t, posts, 1)
		assert.Contains(t, posts[0].Text, "Dry run passed: "+tn.Component)
	})

	t.Run("already released", func(t *testing.T) {
		tn := k.tenant(t, "pl-already", sandbox.TenantOptions{})
		first := k.run(t, k.params(tn), tn.Workspaces)
		require.True(t, first.Succeeded(), first.statuses())
		name, _ := first.result("RELEASE_NAME")
		require.NotEmpty(t, name)

		second := k.run(t, k.params(tn), tn.Workspaces)
		require.NoError(t, second.Err)
		assert.True(t, second.Succeeded(), "a skipped create-release leaves the run Completed: %s", second.statuses())
		assert.Equal(t, "Completed", second.reason())
		assert.Equal(t, "preflight=Succeeded create-release=Skipped report=Succeeded", second.statuses())
		assert.Equal(t, "true", second.taskResult("preflight", "ALREADY_RELEASED"))
		assert.Equal(t, "When Expressions evaluated to false", second.task("create-release").Reason)
		// The PipelineRun's record comes from the report, which ran: the Release found.
		again, ok := second.result("RELEASE_NAME")
		assert.True(t, ok, "RELEASE_NAME even when create-release was skipped")
		assert.Equal(t, name, again)
		status, _ := second.result("RELEASE_STATUS")
		assert.Equal(t, "AlreadyReleased", status)
		assertLines(t, second.Output, `- create-release skipped: When Expressions evaluated to false (when "true" notin [true])`)

		rels := k.releasesIn(t, tn.Namespace)
		require.Len(t, rels, 1, "exactly one Release after two runs")
		assert.Equal(t, name, rels[0].GetName())

		h := k.historyOf(t, tn.Namespace)
		require.Len(t, h, 2)
		assert.Equal(t, "AlreadyReleased", h[0].Status, "newest first")
		assert.Equal(t, name, h[0].Release)
		assert.Equal(t, second.Name, h[0].PipelineRun)
		assert.Equal(t, "Succeeded", h[1].Status)

		posts := tn.Hook.Posts()
		require.Len(t, posts, 2)
		assert.Contains(t, posts[0].Text, "Released "+tn.Component)
		assert.Contains(t, posts[1].Text, "Already released: "+tn.Component)
	})

	t.Run("release fails", func(t *testing.T) {
		tn := k.tenant(t, "pl-release-fails", sandbox.TenantOptions{})
		k.rs.Set(tn.Namespace, "False")
		r := k.run(t, k.params(tn), tn.Workspaces)
		require.NoError(t, r.Err)
		assert.False(t, r.Succeeded())
		assert.Equal(t, "preflight=Succeeded create-release=Failed report=Succeeded", r.statuses())
		rels := k.releasesIn(t, tn.Namespace)
		require.Len(t, rels, 1)
		assert.Equal(t, "False", releasedCondition(rels[0]))
		h := k.historyOf(t, tn.Namespace)
		require.Len(t, h, 1)
		assert.Equal(t, "Failed", h[0].Status)
		assert.Equal(t, rels[0].GetName(), h[0].Release)
		posts := tn.Hook.Posts()
		require.Len(t, posts, 1)
		assert.Contains(t, posts[0].Text, "Release failed: "+tn.Component)
		assertLines(t, r.Output, "push-to-external-registry")
	})

	t.Run("critical vulnerability blocks", func(t *testing.T) {
		tn := k.tenant(t, "pl-critical", sandbox.TenantOptions{})
		k.s.Registry.Quay.SetSecurity(tn.QuayRepo, tn.Platforms["linux/arm64"], sandbox.QuayScanned(sandbox.QuayFeature{
			Name: "openssl-libs", Version: "1:3.0.7-24.el9",
			Vulnerabilities: []sandbox.QuayVulnerability{{Name: "CVE-2024-5535", Severity: "Critical", FixedBy: "1:3.0.7-28.el9"}}}))
		r := k.assertBlocked(t, tn, k.params(tn), tn.Workspaces, "vulnerabilities")
		assert.Contains(t, r.taskResult("preflight", "FAILURE_CAUSE"), "critical")
		assertLines(t, r.Output, "CVE-2024-5535", "linux/arm64")
		assert.Contains(t, r.taskResult("preflight", "SCAN_OUTPUT"), `"critical":1`)
	})

	t.Run("firing alert blocks", func(t *testing.T) {
		tn := k.tenant(t, "pl-alert", sandbox.TenantOptions{})
		k.am.PostAlerts(t, sandbox.AlertmanagerAlert{Labels: map[string]string{
			"alertname": "HighErrorRate", "environment": "production", "severity": "critical", "case": tn.AlertCase}})
		r := k.assertBlocked(t, tn, k.params(tn), tn.Workspaces, "alerts")
		cause := r.taskResult("preflight", "FAILURE_CAUSE")
		assert.Contains(t, cause, "HighErrorRate")
		assert.Contains(t, cause, "firing in production")
		assert.Contains(t, r.taskResult("preflight", "FAILURE_FIX"), "silence them in Alertmanager")
	})

	t.Run("silenced alert does not block", func(t *testing.T) {
		tn := k.tenant(t, "pl-silenced", sandbox.TenantOptions{})
		k.am.PostAlerts(t, sandbox.AlertmanagerAlert{Labels: map[string]string{
			"alertname": "HighErrorRate", "environment": "production", "severity": "critical", "case": tn.AlertCase}})
		k.am.Silence(t, map[string]string{"alertname": "HighErrorRate", "case": tn.AlertCase}, "known, unrelated to the release")
		r := k.run(t, k.params(tn), tn.Workspaces)
		require.NoError(t, r.Err)
		assert.True(t, r.Succeeded(), r.statuses())
		assertResult(t, r, "RELEASE_STATUS", "Succeeded")
		assert.Len(t, k.releasesIn(t, tn.Namespace), 1)
		posts := tn.Hook.Posts()
		require.Len(t, posts, 1)
		assert.Contains(t, posts[0].Text, "Released "+tn.Component)
	})

	t.Run("image missing", func(t *testing.T) {
		tn := k.tenant(t, "pl-no-image", sandbox.TenantOptions{NoImage: true, NoSnapshot: true})
		// No image, so no Snapshot either: the konflux gate blocks too, and the vulnerability
		// gate has no image to scan.
		r := k.assertBlocked(t, tn, k.params(tn), tn.Workspaces, "image", "konflux", "vulnerabilities")
		assert.Contains(t, r.taskResult("preflight", "FAILURE_CAUSE"), "does not exist: the build for this commit has not run")
		assertLines(t, r.Output, "check the build PipelineRun for this commit")
	})

	t.Run("unreachable source blocks", func(t *testing.T) {
		tn := k.tenant(t, "pl-unreachable", sandbox.TenantOptions{})
		dead := closedPort(t)
		r := k.assertBlocked(t, tn, k.params(tn, "alertmanager_url", "http://"+dead), tn.Workspaces, "alerts")
		assert.Contains(t, r.taskResult("preflight", "FAILURE_CAUSE"), "cannot reach "+dead)
		assert.Contains(t, r.taskResult("preflight", "FAILURE_FIX"), "egress")
	})

	t.Run("every failing gate reported in one run", func(t *testing.T) {
		tn := k.tenant(t, "pl-several", sandbox.TenantOptions{})
		dead := closedPort(t)
		// app-interface deploys another commit to production.
		other := strings.Repeat("0", 39) + "1"
		ws := copyWorkspaces(tn.Workspaces)
		ws["app-interface"] = runner.Workspace{Kind: "dir", Path: saasWithRef(t, k.checkout, other)}
		r := k.assertBlocked(t, tn, k.params(tn, "alertmanager_url", "http://"+dead), ws, "alerts", "app-interface")
		cause := r.taskResult("preflight", "FAILURE_CAUSE")
		assert.Contains(t, cause, "alerts: cannot reach "+dead)
		assert.Contains(t, cause, "app-interface: 1 problem(s) in the SaaS file data/services/aa/cicd/saas.yml")
		assertLines(t, r.Output, "✗ alerts: cannot reach "+dead, "✗ app-interface: ", other)
		text := slackTexts(t, tn.Hook.Posts())
		assert.Contains(t, text, "alerts: cannot reach "+dead)
		assert.Contains(t, text, "app-interface: 1 problem(s)")
	})

	t.Run("secrets", func(t *testing.T) { k.secretCases(t) })

	t.Run("hostile params", func(t *testing.T) { k.hostileCases(t) })

	k.mu.Lock()
	defer k.mu.Unlock()
	t.Logf("FIGURES: %d pipeline runs, %d hostile inputs, %d secret values checked in %d outputs and files (%d bytes), suite %s",
		k.runs, k.hostile, len(k.secrets), k.scanned, k.bytes, time.Since(began).Round(time.Second))
}

// assertBlocked runs the Pipeline, expects the preflight to block it with exactly the given
// gates failed, and checks what a blocked run must leave: create-release not run, the report
// run, no Release, history Blocked, Slack told with the cause. It returns the run.
func (k *pipelineKit) assertBlocked(t *testing.T, tn *pipelineTenant, params map[string]string, ws map[string]runner.Workspace, gates ...string) *pipelineRun {
	t.Helper()
	before := len(tn.Hook.Posts())
	hist := len(k.historyOf(t, tn.Namespace))
	r := k.run(t, params, ws)
	require.NoError(t, r.Err)
	assert.False(t, r.Succeeded(), "blocked")
	assert.Equal(t, "Failed", r.reason())
	assert.Equal(t, "preflight=Failed create-release=Skipped report=Succeeded", r.statuses())
	assert.Equal(t, strings.Join(gates, ","), r.taskResult("preflight", "FAILED_GATES"))
	if v, ok := r.result("FAILED_GATES"); ok {
		assert.Equal(t, strings.Join(gates, ","), v)
	}
	name, ok := r.result("RELEASE_NAME")
	assert.True(t, ok, "the PipelineRun's record, from the report")
	assert.Empty(t, name, "no Release")
	status, _ := r.result("RELEASE_STATUS")
	assert.Equal(t, "Blocked", status)
	assert.Empty(t, k.releasesIn(t, tn.Namespace), "no Release when blocked")
	cause := r.taskResult("preflight", "FAILURE_CAUSE")
	require.NotEmpty(t, cause)
	for _, g := range gates {
		assert.Contains(t, cause, g+": ")
		assertLines(t, r.Output, "✗ "+g+": ")
	}
	h := k.historyOf(t, tn.Namespace)
	require.Len(t, h, hist+1)
	assert.Equal(t, "Blocked", h[0].Status)
	assert.Empty(t, h[0].Release)

	posts := tn.Hook.Posts()
	require.Len(t, posts, before+1)
	assert.Contains(t, posts[before].Text, "Release blocked: "+tn.Component)
	text := slackTexts(t, posts[before:])
	assert.NotContains(t, text, "unknown release status", "notify knows every status record-history hands it")
	for _, line := range strings.Split(cause, "\n") {
		// Slack gets the verdict's FAILURE_CAUSE, escaped as mrkdwn and bounded.
		assert.Contains(t, text, slackEscape(line[:min(len(line), 80)]), "Slack message carries the cause")
	}
	return r
}

// secretCases: runs whose credentials matter, and failures whose messages quote URLs and
// HTTP bodies. Every run is checked for every canary by pipelineKit.run; these add the cases
// where a leak is likeliest.
func (k *pipelineKit) secretCases(t *testing.T) {
	dockerConfig := func(host, user, pass string) string {
		return fmt.Sprintf(`{"auths":{%q:{"auth":%q}}}`, host, base64Auth(user, pass))
	}

	t.Run("registry requires auth", func(t *testing.T) {
		pass := k.canary("registry password")
		k.s.Registry.RequireAuth("robot+release", pass)
		t.Cleanup(func() { k.s.Registry.RequireAuth("", "") })
		tn := k.tenant(t, "pl-registry-auth", sandbox.TenantOptions{})
		// Quay robot auth from the same docker config (no Quay token Secret: see "both
		// credentials").
		k.deleteSecret(t, tn.Namespace, "release-to-prod-quay-token")
		k.secret(t, tn.Namespace, "release-to-prod-registry", map[string]string{
			".dockerconfigjson": dockerConfig(k.s.Registry.Host, "robot+release", pass)})
		r := k.run(t, k.params(tn), tn.Workspaces)
		require.NoError(t, r.Err)
		assert.True(t, r.Succeeded(), r.statuses())
		assertResult(t, r, "RELEASE_STATUS", "Succeeded")

		t.Run("wrong password", func(t *testing.T) {
			tn := k.tenant(t, "pl-registry-401", sandbox.TenantOptions{})
			k.deleteSecret(t, tn.Namespace, "release-to-prod-quay-token")
			k.secret(t, tn.Namespace, "release-to-prod-registry", map[string]string{
				".dockerconfigjson": dockerConfig(k.s.Registry.Host, "robot+release", k.canary("wrong registry password"))})
			r := k.assertBlocked(t, tn, k.params(tn), tn.Workspaces, "image", "vulnerabilities")
			assert.Contains(t, r.taskResult("preflight", "FAILURE_CAUSE"), "vulnerabilities: ")
			assert.Contains(t, r.taskResult("preflight", "FAILURE_CAUSE"), "rejected the credentials")
			assert.Contains(t, r.taskResult("preflight", "FAILURE_FIX"), "Secret release-to-prod-registry")
		})
	})

	t.Run("both credentials", func(t *testing.T) {
		// The registry Secret for the staging registry and the Quay token Secret for the
		// security API, the two credentials the Pipeline takes: the release must go through.
		tn := k.tenant(t, "pl-both-creds", sandbox.TenantOptions{})
		k.secret(t, tn.Namespace, "release-to-prod-registry", map[string]string{
			".dockerconfigjson": dockerConfig(k.s.Registry.Host, "robot+release", k.canary("registry password (both given)"))})
		r := k.run(t, k.params(tn), tn.Workspaces)
		require.NoError(t, r.Err)
		assert.True(t, r.Succeeded(), "giving both the registry and the Quay token Secret blocks the vulnerability gate: %s\n%s",
			r.taskResult("preflight", "FAILURE_CAUSE"), r.statuses())
	})

	t.Run("Quay answers 401", func(t *testing.T) {
		tn := k.tenant(t, "pl-quay-401", sandbox.TenantOptions{})
		token := tn.QuayToken
		// A proxy that echoes the credentials it refused, in the body.
		body := fmt.Sprintf(`{"error":"unauthorized","error_message":"Invalid token: Bearer %s","status":401}`, token)
		for _, d := range append([]string{tn.Digest}, sortedValues(tn.Platforms)...) {
			k.s.Registry.Quay.SetSecurity(tn.QuayRepo, d, sandbox.Reply{Status: 401, Body: body})
		}
		r := k.assertBlocked(t, tn, k.params(tn), tn.Workspaces, "vulnerabilities")
		assert.Contains(t, r.taskResult("preflight", "FAILURE_CAUSE"), "rejected the credentials")
		assert.Contains(t, r.taskResult("preflight", "FAILURE_FIX"), "the OAuth token in Secret release-to-prod-quay-token (key token)")
	})

	t.Run("Slack answers 500 with the URL", func(t *testing.T) {
		tn := k.tenant(t, "pl-slack-500", sandbox.TenantOptions{})
		tn.Hook.SetReplies(sandbox.Reply{Status: 500, Body: "internal_error: could not post to {url}"})
		r := k.run(t, k.params(tn), tn.Workspaces)
		require.NoError(t, r.Err)
		assert.True(t, r.Succeeded(), "a failed notification never fails a release: %s", r.statuses())
		assertResult(t, r, "RELEASE_STATUS", "Succeeded")
		assert.NotEmpty(t, tn.Hook.Posts())
		assertLines(t, r.Output, "Slack (127.0.0.1) answered 500")
	})

	t.Run("Slack URL path wrong", func(t *testing.T) {
		// A webhook the sink does not know: 404 no_service, the advice names the secret.
		tn := k.tenant(t, "pl-slack-404", sandbox.TenantOptions{})
		k.secret(t, tn.Namespace, "release-to-prod-slack-webhook", map[string]string{
			"url": k.slack.URL + "/services/T0SANDBOX/B0SANDBOX/" + k.canary("revoked Slack webhook path")})
		r := k.run(t, k.params(tn), tn.Workspaces)
		require.NoError(t, r.Err)
		assert.True(t, r.Succeeded(), r.statuses())
		assertLines(t, r.Output, "no_service")
	})

	t.Run("monitoring token sent to a dead Alertmanager", func(t *testing.T) {
		tn := k.tenant(t, "pl-monitoring-dead", sandbox.TenantOptions{})
		dead := closedPort(t)
		k.assertBlocked(t, tn, k.params(tn, "alertmanager_url", "http://user:"+k.canary("password in the Alertmanager URL")+"@"+dead+"/?token=x"), tn.Workspaces, "alerts")
	})
}

func assertResult(t *testing.T, r *pipelineRun, name, want string) {
	t.Helper()
	v, ok := r.result(name)
	if assert.True(t, ok, "PipelineRun result %s", name) {
		assert.Equal(t, want, v, "PipelineRun result %s", name)
	}
}

func assertNested(t *testing.T, u unstructured.Unstructured, want string, path ...string) {
	t.Helper()
	v, _, _ := unstructured.NestedString(u.Object, path...)
	assert.Equal(t, want, v, strings.Join(path, "."))
}

// assertLines checks that the output has each piece of text.
func assertLines(t *testing.T, out string, want ...string) {
	t.Helper()
	for _, w := range want {
		assert.Contains(t, out, w)
	}
}

func releasedCondition(u unstructured.Unstructured) string {
	conds, _, _ := unstructured.NestedSlice(u.Object, "status", "conditions")
	for _, c := range conds {
		if m, ok := c.(map[string]any); ok && m["type"] == "Released" {
			s, _ := m["status"].(string)
			return s
		}
	}
	return ""
}

// closedPort returns a loopback address nothing listens on.
func closedPort(t *testing.T) string {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	addr := l.Addr().String()
	require.NoError(t, l.Close())
	return addr
}

func copyWorkspaces(ws map[string]runner.Workspace) map[string]runner.Workspace {
	out := map[string]runner.Workspace{}
	for k, v := range ws {
		out[k] = v
	}
	return out
}

// saasWithRef copies the app-interface checkout with the production target at another ref.
func saasWithRef(t *testing.T, checkout, ref string) string {
	t.Helper()
	dst := copyTree(t, checkout, filepath.Join(t.TempDir(), "app-interface"))
	p := filepath.Join(dst, "data", "services", "aa", "cicd", "saas.yml")
	b, err := os.ReadFile(p)
	require.NoError(t, err)
	require.Contains(t, string(b), "ref: "+pipelineSHA)
	require.NoError(t, os.WriteFile(p, []byte(strings.ReplaceAll(string(b), "ref: "+pipelineSHA, "ref: "+ref)), 0o644))
	return dst
}

func slackEscape(s string) string {
	return strings.NewReplacer("&", "&amp;", "<", "&lt;", ">", "&gt;").Replace(s)
}

// hostileInput is one hostile param value and what the Pipeline must do with it.
type hostileInput struct {
	param, value string
	// substituted: Tekton itself replaces the expression (see hostileCases); the value the
	// steps get instead.
	substituted string
	// data: the value is harmless plain data and the run may succeed.
	data bool
}

// hostileCases runs the Pipeline once per hostile param value (issue 7.5). Whatever the value,
// no shell ever runs it (canary files, a victim file), no Release is created from it, and the
// run fails naming the value (quoted) — or, for plain data, treats it as such.
//
// Tekton expressions in a param value are a special case, and not this project's doing:
// Tekton (v1.15, taskrun reconciler) inlines a StepAction with the step's params substituted
// (GetStepActionsData) and then applies the TaskRun's params to the whole spec again
// (applyParamsContextsResultsAndWorkspaces), so a value "$(params.commit_sha)" reaching a
// StepAction's env becomes the SHA, and "$(context.pipelineRun.name)" the run's name. The
// runner reproduces it with Tekton's own code. Such a value can only become another param's
// or the context's value (never a secret: secrets are files), and the gates still see a value
// that names nothing of the tenant's: the run fails closed. The test pins that behaviour.
func (k *pipelineKit) hostileCases(t *testing.T) {
	tn := k.tenant(t, "pl-hostile", sandbox.TenantOptions{})
	canaryDir := t.TempDir()
	victim := filepath.Join(canaryDir, "victim")
	require.NoError(t, os.WriteFile(victim, []byte("still here"), 0o644))
	pwned := func(n int) string { return filepath.Join(canaryDir, fmt.Sprintf("pwned-%d", n)) }
	long := strings.Repeat("a", 10_000)
	inputs := []hostileInput{
		{param: "component", value: "$(touch " + pwned(1) + ")"},
		{param: "component", value: "`touch " + pwned(2) + "`"},
		{param: "component", value: "x; touch " + pwned(3) + "; ls"},
		{param: "component", value: "$(rm -rf " + victim + ")"},
		{param: "component", value: "automation-analytics-backend-main\nkind: Secret"},
		{param: "component", value: "$(params.commit_sha)", substituted: pipelineSHA},
		{param: "component", value: long},
		{param: "component", value: "аutomation-analytics-backend-main"}, // Cyrillic а
		{param: "namespace", value: "$(touch " + pwned(4) + ")"},
		{param: "namespace", value: "pl-hostile; ls"},
		{param: "namespace", value: "pl-hostile\nmetadata: x"},
		{param: "namespace", value: "../../etc/passwd"},
		{param: "namespace", value: "рl-hostile"}, // Cyrillic р
		{param: "namespace", value: long},
		{param: "application", value: "$(params.commit_sha)", substituted: pipelineSHA},
		{param: "application", value: "$(context.pipelineRun.name)", substituted: "release-to-prod-e2e-"},
		{param: "application", value: "`touch " + pwned(5) + "`"},
		{param: "application", value: "аap-aa-main"}, // Cyrillic а
		{param: "saas_file", value: "../../etc/passwd"},
		{param: "saas_file", value: "/etc/passwd"},
		{param: "saas_file", value: "$(touch " + pwned(6) + ")"},
		{param: "saas_file", value: "data/services/aa/cicd/saas.yml\n../../../etc/shadow"},
		{param: "saas_file", value: long},
		{param: "alert_matchers", value: `environment="production"; touch ` + pwned(7)},
		{param: "alert_matchers", value: "$(touch " + pwned(8) + ")"},
		{param: "alert_matchers", value: `environment="production"&silenced=true&filter=x`},
		{param: "alert_matchers", value: "environment=\"production\"\nseverity=\"critical\""},
		{param: "alert_matchers", value: "$(params.commit_sha)", substituted: pipelineSHA},
		{param: "alert_matchers", value: long},
		{param: "repository", value: "$(touch " + pwned(9) + ")"},
		{param: "repository", value: "quay.io/x/y; touch " + pwned(10)},
		{param: "repository", value: "`touch " + pwned(11) + "`"},
		{param: "repository", value: "../../etc/passwd"},
		{param: "repository", value: "$(params.commit_sha)", substituted: pipelineSHA},
		{param: "repository", value: "evil.example.com/аap-aa-tenant/repo"},
		{param: "repository", value: long},
		{param: "commit_sha", value: pipelineSHA + "; touch " + pwned(12)},
		{param: "commit_sha", value: "$(context.pipelineRun.name)", substituted: "release-to-prod-e2e-"},
		{param: "commit_sha", value: pipelineSHA + "\n", data: true}, // last: it releases
	}
	for i, in := range inputs {
		label := in.value
		if len(label) > 40 {
			label = label[:40] + "…"
		}
		t.Run(fmt.Sprintf("%02d %s=%q", i, in.param, label), func(t *testing.T) {
			k.mu.Lock()
			k.hostile++
			k.mu.Unlock()
			before := len(k.releasesIn(t, tn.Namespace))
			r := k.run(t, k.params(tn, in.param, in.value), tn.Workspaces)
			t.Logf("HOSTILE %s=%q: err=%v succeeded=%v %s failed=%q cause=%q", in.param, label, r.Err, r.Succeeded(), r.statuses(),
				r.taskResult("preflight", "FAILED_GATES"), r.taskResult("preflight", "FAILURE_CAUSE"))
			for n := 1; n <= 12; n++ {
				_, err := os.Stat(pwned(n))
				assert.ErrorIs(t, err, os.ErrNotExist, "a value was run by a shell: %s exists", pwned(n))
			}
			_, err := os.Stat(victim)
			assert.NoError(t, err, "a value was run by a shell: %s was removed", victim)
			if in.data {
				return
			}
			assert.False(t, r.Err == nil && r.Succeeded(), "a hostile %s must not pass", in.param)
			assert.Len(t, k.releasesIn(t, tn.Namespace), before, "no Release from a hostile %s", in.param)
			if in.substituted != "" {
				assert.Contains(t, r.Output, in.substituted, "Tekton substitutes the expression (see hostileCases)")
				return
			}
			assert.True(t, namesValue(r.Output, in.value), "the output names the bad %s value %q", in.param, label)
		})
	}
}

// namesValue reports whether out names v: Go-quoted (possibly clipped: the start of the quoted
// form), or raw when v is one line of printable text (a raw newline would let a value forge
// output lines), or the start of a long value.
func namesValue(out, v string) bool {
	q := strconv.Quote(v)
	if strings.Contains(out, q[:min(len(q), 40)]) {
		return true
	}
	if strings.ContainsAny(v, "\n\r") {
		return false
	}
	return strings.Contains(out, v[:min(len(v), 200)])
}
