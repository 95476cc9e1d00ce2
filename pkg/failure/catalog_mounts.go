package failure

// MountMissing is a Secret or ConfigMap that a Task mounts from a volume named by a param, and
// that does not exist or lacks the key the step reads (pkg/step Mounted): invalid input, which
// the step says within a second instead of a pod waiting on a mount until the run times out.
const MountMissing ID = "mount-missing"

func init() {
	register(Entry{ID: MountMissing, Title: "Secret or ConfigMap missing",
		Cause:    "{kind} {name} (param {param}) {problem}: the step cannot read its key {key}",
		Fix:      "{fix}, then re-run",
		Defaults: map[string]string{"kind": "the object", "name": "?", "param": "?", "key": "?", "problem": "is missing", "fix": "create it"}})
}
