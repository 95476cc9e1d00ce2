package failure

// The alerts gate's known failures (pkg/alerts).
const (
	AlertsFiring    ID = "alerts-firing"
	AlertsForbidden ID = "alerts-forbidden"
	AlertsBadReply  ID = "alerts-bad-reply"
)

func init() {
	register(Entry{ID: AlertsFiring, Title: "production alerts firing",
		Cause:    "{count} firing in production ({matchers}): {names}",
		Fix:      "resolve them, or silence them in Alertmanager if they are unrelated to this release{note}, then re-run",
		Defaults: map[string]string{"count": "alerts are", "matchers": "the gate's matchers", "names": "see the list above", "note": ""}})
	register(Entry{ID: AlertsForbidden, Title: "monitoring access forbidden (403)",
		Cause:    "{service} answered 403 Forbidden: the token lacks the monitoring role",
		Fix:      "grant the ServiceAccount whose token is {secret} the cluster role cluster-monitoring-view (oc adm policy add-cluster-role-to-user cluster-monitoring-view -z <serviceaccount> -n <namespace>; for a namespace-scoped Thanos tenancy port, the role monitoring-rules-view in that namespace), then re-run",
		Defaults: map[string]string{"service": "Alertmanager", "secret": "the monitoring_token_secret Secret"}})
	register(Entry{ID: AlertsBadReply, Title: "unexpected reply from the alerts source",
		Cause:    "{url} did not answer like the {api}: the URL points at something else (the web UI, a login page, a proxy) or source={source} does not match the server",
		Fix:      "set url to the base URL of the server (the step appends {path}) and source to alertmanager or prometheus to match it; the gate fails closed until the reply is readable",
		Defaults: map[string]string{"url": "the alerts URL", "api": "alerts API", "source": "?", "path": "/api/v2/alerts or /api/v1/alerts"}})
}
