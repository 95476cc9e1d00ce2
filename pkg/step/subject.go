package step

// The settings that name what a run releases, declared once: env name, param, check, default
// and description. A step's config struct embeds the ones it reads (Subject, or a part of it),
// so that every step, Task and the Pipeline agree on them by construction.

// Commit is the commit a run releases.
type Commit struct {
	CommitSHA string `check:"sha" env:"COMMIT_SHA, required" desc:"full 40-character SHA of the commit to release (lowercase hex; short SHAs never exist as image tags)"`
}

// Tenant is the Konflux tenant namespace a run works in.
type Tenant struct {
	Namespace string `check:"name" env:"NAMESPACE, default=aap-aa-tenant" desc:"Konflux tenant namespace"`
}

// Target is the Konflux component a run is about: its name, its application, its namespace.
type Target struct {
	Tenant
	Component   string `check:"name" env:"COMPONENT, default=automation-analytics-backend-main" desc:"Konflux Component to release"`
	Application string `check:"name" env:"APPLICATION, default=aap-aa-main" desc:"Konflux Application of the component"`
}

// Subject is what a run releases: one commit of a Target.
type Subject struct {
	Commit
	Target
}
