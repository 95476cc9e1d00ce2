package failure

// Known failures of the gate verdict (the last step of the preflight TaskRun).
const (
	GatesFailed ID = "gates-failed"
)

func init() {
	register(Entry{ID: GatesFailed, Title: "gates blocked the release",
		Cause:    "the gate(s) {gates} failed or did not run; each printed its own cause and fix above in this TaskRun's log",
		Fix:      "fix what each ✗ gate above reports (or opt out of a gate explicitly with its skip param), then re-run the pipeline",
		Defaults: map[string]string{"gates": "listed above"}})
}
