package konflux

import (
	"context"
	"fmt"
	"sort"
	"strings"
	"time"

	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/labels"

	"github.com/release-to-prod/release-to-prod/pkg/step"
	"github.com/release-to-prod/release-to-prod/pkg/step/failure"
)

// orderSlack is how long before the Snapshot's build a Release may have been created and still
// hold a newer build: clocks of the build cluster and the API server differ a little. A Release
// created earlier than that cannot hold anything built after this Snapshot, and is not read.
const orderSlack = 10 * time.Minute

// OrderQuery is what CheckOrder judges: releasing Snapshot (of Component at SHA) through Plan.
type OrderQuery struct {
	Component, SHA, Plan string
	Snapshot             *Snapshot
}

// Newer is a build of the component newer than the one to release, in production or on its way.
type Newer struct {
	SHA      string // the commit (source.git.revision, else the Snapshot's SHA label); may be empty
	Image    string
	Built    time.Time
	Snapshot string
	Release  string
	State    string // "succeeded", "may be in production", "still running", …
}

// Commit names the newer build: its commit, else its image.
func (n *Newer) Commit() string {
	if n.SHA != "" {
		return n.SHA
	}
	return "(image " + n.Image + ")"
}

// GoesBack is another component of the Snapshot whose image is older than in production.
type GoesBack struct {
	Component              string
	Image, ReleasedImage   string
	Built, ReleasedBuilt   time.Time // zero when told by the Snapshots' build times only
	Revision, ReleasedRevn string
}

// OrderReport is what CheckOrder found.
type OrderReport struct {
	// Newer is the newest build of the component, built after the Snapshot's, that a Release
	// through the plan put (or may have put, or is putting) in production; nil when none.
	Newer *Newer
	// Compared counts the Releases whose Snapshot was read; Unknown those whose Snapshot is gone.
	Compared, Unknown int
	// Last is the newest Release through the plan in production, in doubt or running, and
	// LastSnapshot its Snapshot; GoesBack the Snapshot's other components older than there.
	Last         *Release
	LastSnapshot *Snapshot
	GoesBack     []GoesBack
}

// CheckOrder judges q against production as the Releases through the plan show it, whoever made
// them (this pipeline, a person, integration-service): every Release that succeeded, may be in
// production, or is still running, is read with its Snapshot, and the component's build there is
// dated by its Snapshots' build times (the order integration-service keeps). It reports the newest
// build of the component newer than q's, and q's other components that would go back to older
// images than the last such Release's Snapshot holds. A Snapshot that cannot be read (other than
// gone) is an error: the check fails closed.
func (c *Client) CheckOrder(ctx context.Context, q OrderQuery) (*OrderReport, error) {
	ours := q.Snapshot.BuiltAt()
	ourEntry, err := q.Snapshot.Entry(q.Component, q.SHA)
	if err != nil {
		return nil, err
	}
	cands, err := c.orderCandidates(ctx, q)
	if err != nil {
		return nil, err
	}
	o := &orderCheck{c: c, q: q, snaps: map[string]*Snapshot{}, dates: map[string]time.Time{}, rep: &OrderReport{}}
	if err := o.judgeRecent(ctx, cands[:recentCount(cands, ours)], ourEntry, ours); err != nil {
		return nil, err
	}
	if err := o.lastReleased(ctx, cands); err != nil {
		return nil, err
	}
	if err := o.otherComponents(ctx); err != nil {
		return nil, err
	}
	return o.rep, nil
}

// orderCandidates are the Releases through q's plan that count for production, of other
// builds than q's, newest first. It reads page by page, keeping only what the judgement
// needs: a long-lived tenant holds thousands of Releases, and the step has 32 MiB.
func (c *Client) orderCandidates(ctx context.Context, q OrderQuery) ([]candidate, error) {
	var cands []candidate
	err := c.list(ctx, ReleasesResource, "Release", labels.Set{LabelReleasePlan: q.Plan}.String(), func(u *unstructured.Unstructured) {
		r := releaseFrom(u)
		state := releaseState(&r)
		if state == "" || !r.ThroughPlan(q.Plan) || r.Snapshot == q.Snapshot.Name || r.Labels[LabelSHA] == q.SHA && r.Labels[LabelComponent] == q.Component {
			return
		}
		cands = append(cands, candidate{name: r.Name, snapshot: r.Snapshot, created: r.Created, state: state})
	})
	if err != nil {
		return nil, fmt.Errorf("listing the Releases through %s: %w", q.Plan, err)
	}
	sort.Slice(cands, func(i, j int) bool {
		if !cands[i].created.Equal(cands[j].created) {
			return cands[i].created.After(cands[j].created)
		}
		return cands[i].name > cands[j].name
	})
	return cands, nil
}

// recentCount is how many of cands (sorted newest first) may hold a build newer than ours:
// Releases created well before this build cannot.
func recentCount(cands []candidate, ours time.Time) int {
	for i, cd := range cands {
		if cd.created.Before(ours.Add(-orderSlack)) {
			return i
		}
	}
	return len(cands)
}

// judgeRecent compares each recent candidate's build of the component with ours; a
// candidate whose Snapshot is gone is counted unknown.
func (o *orderCheck) judgeRecent(ctx context.Context, recent []candidate, ourEntry SnapshotComponent, ours time.Time) error {
	judged := map[string]bool{}
	if len(recent) > maxSnapshotGets {
		// Many Releases to judge: one paged read of the component's Snapshots, each judged as
		// it comes and dropped, costs less time than a read of each and little memory.
		if err := o.judgeStreaming(ctx, recent, ourEntry, ours, judged); err != nil {
			return err
		}
	}
	for i := range recent {
		cd := &recent[i]
		if judged[cd.snapshot] {
			continue
		}
		rs, err := o.snapshot(ctx, cd.snapshot)
		if err != nil {
			return err
		}
		if rs == nil {
			o.rep.Unknown++
			continue
		}
		o.rep.Compared++
		if err := o.compare(ctx, cd, rs, ourEntry, ours); err != nil {
			return err
		}
	}
	return nil
}

// lastReleased records the last Release in production (or on its way), for the other
// components.
func (o *orderCheck) lastReleased(ctx context.Context, cands []candidate) error {
	for i := range cands {
		cd := &cands[i]
		rs, err := o.snapshot(ctx, cd.snapshot)
		if err != nil {
			return err
		}
		if rs != nil {
			o.rep.Last, o.rep.LastSnapshot = &Release{Name: cd.name, Snapshot: cd.snapshot, Created: cd.created}, rs
			break
		}
	}
	return nil
}

// judgeStreaming reads the component's Snapshots page by page and judges the candidates whose
// Snapshot each is, marking it judged; Snapshots of other components' builds are left to be
// read one by one.
func (o *orderCheck) judgeStreaming(ctx context.Context, cands []candidate, ours SnapshotComponent, oursBuilt time.Time, judged map[string]bool) error {
	bySnapshot := map[string][]*candidate{}
	for i := range cands {
		bySnapshot[cands[i].snapshot] = append(bySnapshot[cands[i].snapshot], &cands[i])
	}
	var cerr error
	err := o.c.list(ctx, SnapshotsResource, "Snapshot", labels.Set{LabelComponent: o.q.Component}.String(), func(u *unstructured.Unstructured) {
		list := bySnapshot[u.GetName()]
		if len(list) == 0 || cerr != nil {
			return
		}
		sn := snapshotFrom(u)
		for _, cd := range list {
			o.rep.Compared++
			if err := o.compare(ctx, cd, &sn, ours, oursBuilt); err != nil {
				cerr = err
			}
		}
		judged[sn.Name] = true
	})
	if err == nil {
		err = cerr
	}
	if err != nil {
		return fmt.Errorf("reading the Snapshots of %s to judge the order of releases: %w", o.q.Component, err)
	}
	return nil
}

// maxSnapshotGets is how many Releases' Snapshots are read one by one; beyond it the
// component's Snapshots are read in pages instead (judgeStreaming).
const maxSnapshotGets = 50

// candidate is a Release through the plan that counts for production, in short.
type candidate struct {
	name, snapshot, state string
	created               time.Time
}

// releaseState says what a Release means for production: "" when it failed before it.
func releaseState(r *Release) string {
	done, ok := r.Done()
	switch {
	case r.Doubtful():
		return "may be in production"
	case done && ok:
		return "succeeded"
	case r.ManagedSucceeded():
		return "in production (its managed pipeline succeeded)"
	case !done:
		return "still running"
	}
	return ""
}

type orderCheck struct {
	c     *Client
	q     OrderQuery
	snaps map[string]*Snapshot // nil: gone
	dates map[string]time.Time // component\x00revision\x00image → build time; zero: unknown
	rep   *OrderReport
}

func (o *orderCheck) snapshot(ctx context.Context, name string) (*Snapshot, error) {
	if sn, ok := o.snaps[name]; ok {
		return sn, nil
	}
	sn, err := o.c.GetSnapshot(ctx, name)
	if IsNotFound(err) {
		sn, err = nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("reading Snapshot %s to judge the order of releases: %w", name, err)
	}
	if sn != nil {
		sn = sn.trimmed()
	}
	o.snaps[name] = sn
	return sn, nil
}

// compare records r's build of the component when it is newer than ours.
func (o *orderCheck) compare(ctx context.Context, r *candidate, rs *Snapshot, ours SnapshotComponent, oursBuilt time.Time) error {
	for _, e := range rs.Entries(o.q.Component) {
		if e.Image == ours.Image || e.Revision == o.q.SHA || e.Revision == "" && rs.Labels[LabelSHA] == o.q.SHA {
			continue
		}
		built, err := o.built(ctx, o.q.Component, e, rs)
		if err != nil {
			return err
		}
		if built.IsZero() {
			// Not dated by its own Snapshots: the Release's Snapshot was made no earlier.
			built = rs.BuiltAt()
		}
		if !built.After(oursBuilt) || o.rep.Newer != nil && !built.After(o.rep.Newer.Built) {
			continue
		}
		sha := e.Revision
		if sha == "" && rs.Labels[LabelComponent] == o.q.Component {
			sha = rs.Labels[LabelSHA]
		}
		o.rep.Newer = &Newer{SHA: sha, Image: e.Image, Built: built, Snapshot: rs.Name, Release: r.name, State: r.state}
	}
	return nil
}

// built dates a component's build: the Snapshot's own build time when the Snapshot was made for
// that component, else the build time of the component's Snapshots of that revision (the one
// holding the same image when there is one); zero when nothing tells.
func (o *orderCheck) built(ctx context.Context, component string, e SnapshotComponent, in *Snapshot) (time.Time, error) {
	if in.Labels[LabelComponent] == component {
		return in.BuiltAt(), nil
	}
	if e.Revision == "" {
		return time.Time{}, nil
	}
	key := component + "\x00" + e.Revision + "\x00" + e.Image
	if t, ok := o.dates[key]; ok {
		return t, nil
	}
	snaps, err := o.c.ListSnapshots(ctx, component, e.Revision)
	if err != nil {
		return time.Time{}, fmt.Errorf("reading the Snapshots of %s at %s to date its build: %w", component, e.Revision, err)
	}
	var t time.Time
	for _, sn := range SortSnapshots(snaps) {
		if t.IsZero() {
			t = sn.BuiltAt() // the newest, unless one holds the very image
		}
		if sn.Images[component] == e.Image {
			t = sn.BuiltAt()
			break
		}
	}
	o.dates[key] = t
	return t, nil
}

// otherComponents compares the Snapshot's other components with the last Release's Snapshot.
func (o *orderCheck) otherComponents(ctx context.Context) error {
	last, s := o.rep.LastSnapshot, o.q.Snapshot
	if last == nil {
		return nil
	}
	for _, e := range s.Components {
		if e.Name == o.q.Component {
			continue
		}
		theirs := last.Entries(e.Name)
		if len(theirs) != 1 || theirs[0].Image == e.Image || e.Revision != "" && theirs[0].Revision == e.Revision {
			continue // absent there, listed per version, or the same build
		}
		mine, err := o.built(ctx, e.Name, e, s)
		if err != nil {
			return err
		}
		their, err := o.built(ctx, e.Name, theirs[0], last)
		if err != nil {
			return err
		}
		back := their.After(mine)
		if mine.IsZero() || their.IsZero() {
			// Not dated one by one: a Snapshot made later holds the newer images.
			back, mine, their = last.BuiltAt().After(s.BuiltAt()), time.Time{}, time.Time{}
		}
		if back {
			o.rep.GoesBack = append(o.rep.GoesBack, GoesBack{Component: e.Name, Image: e.Image, ReleasedImage: theirs[0].Image,
				Built: mine, ReleasedBuilt: their, Revision: e.Revision, ReleasedRevn: theirs[0].Revision})
		}
	}
	return nil
}

// NewerError is the known failure of a newer build in production.
func (rep *OrderReport) NewerError(q OrderQuery) error {
	n := rep.Newer
	facts := map[string]string{"newer_sha": n.Commit(), "component": q.Component, "newer_snapshot": n.Snapshot,
		"newer_built": n.Built.UTC().Format(time.RFC3339), "snapshot": q.Snapshot.Name, "built": q.Snapshot.BuiltAt().UTC().Format(time.RFC3339),
		"newer_release": n.Release + " (" + n.State + ")"}
	return failure.New(failure.NewerCommitReleased, facts, "commit %s of %s, built %s after this one, is in production or on its way: Release %s of Snapshot %s %s",
		n.Commit(), q.Component, n.Built.Sub(q.Snapshot.BuiltAt()).Round(time.Second), n.Release, n.Snapshot, n.State)
}

// GoesBackError is the known failure of other components that would go back.
func (rep *OrderReport) GoesBackError(q OrderQuery) error {
	facts := map[string]string{"snapshot": q.Snapshot.Name, "released_snapshot": rep.LastSnapshot.Name, "release": rep.Last.Name,
		"components": rep.DescribeGoesBack()}
	return failure.New(failure.SnapshotGoesBack, facts, "Snapshot %s would take %s back to older images than Snapshot %s (Release %s) holds: %s",
		q.Snapshot.Name, plural(len(rep.GoesBack), "component"), rep.LastSnapshot.Name, rep.Last.Name, facts["components"])
}

// DescribeGoesBack lists the components that would go back, in short.
func (rep *OrderReport) DescribeGoesBack() string {
	parts := make([]string, 0, len(rep.GoesBack))
	for _, g := range rep.GoesBack {
		p := fmt.Sprintf("%s %s → %s", g.Component, shortImage(g.ReleasedImage), shortImage(g.Image))
		if !g.Built.IsZero() {
			p += fmt.Sprintf(" (built %s earlier)", g.ReleasedBuilt.Sub(g.Built).Round(time.Second))
		} else {
			p += " (by the Snapshots' build times)"
		}
		parts = append(parts, p)
	}
	return strings.Join(parts, "; ")
}

// shortImage keeps the repository's last element and a short digest.
func shortImage(ref string) string {
	repo, digest, found := strings.Cut(ref, "@")
	if i := strings.LastIndex(repo, "/"); i >= 0 {
		repo = repo[i+1:]
	}
	if !found {
		return repo
	}
	return repo + "@" + clip(digest, 19)
}

func plural(n int, word string) string {
	if n == 1 {
		return "1 " + word
	}
	return fmt.Sprintf("%d %ss", n, word)
}

// Judge reports what CheckOrder found (alsoCompared: history entries the caller compared too), one line per finding: a newer build of the component in
// production (or on its way) blocks, and so do other components that would go back, unless
// allowOutOfOrder, which releases anyway and says so. create-release judges again right before
// it creates.
func (rep *OrderReport) Judge(s *step.Step, q OrderQuery, allowOutOfOrder bool, alsoCompared int) error {
	var errs []error
	if n := rep.Newer; n != nil {
		err := rep.NewerError(q)
		if allowOutOfOrder {
			s.Warn("out of order: commit %s of %s, built after this one, is in production or on its way (Release %s, %s); releasing anyway (ALLOW_OUT_OF_ORDER=true)", short(n.Commit()), q.Component, n.Release, n.State)
		} else {
			s.Fail("out of order: a newer commit of %s (%s) is in production or on its way: Release %s %s", q.Component, short(n.Commit()), n.Release, n.State)
			errs = append(errs, err)
		}
	} else {
		also := ""
		if alsoCompared > 0 {
			also = fmt.Sprintf(" and %d released commit(s) in the history", alsoCompared)
		}
		s.OK("in order: no newer build of %s is in production or on its way (%d Release(s) through %s%s compared by build time)", q.Component, rep.Compared, q.Plan, also)
	}
	if rep.Unknown > 0 {
		s.Info("  %d Release(s) through %s have no Snapshot left to compare", rep.Unknown, q.Plan)
	}
	switch {
	case len(rep.GoesBack) == 0 && rep.Last != nil:
		s.OK("other components: none older than in Snapshot %s of Release %s", rep.LastSnapshot.Name, rep.Last.Name)
	case len(rep.GoesBack) > 0 && allowOutOfOrder:
		s.Warn("Snapshot %s takes components back from Snapshot %s (Release %s): %s; releasing anyway (ALLOW_OUT_OF_ORDER=true)", q.Snapshot.Name, rep.LastSnapshot.Name, rep.Last.Name, rep.DescribeGoesBack())
	case len(rep.GoesBack) > 0:
		s.Fail("other components would go back: Snapshot %s holds older images than Snapshot %s of Release %s: %s", q.Snapshot.Name, rep.LastSnapshot.Name, rep.Last.Name, rep.DescribeGoesBack())
		errs = append(errs, rep.GoesBackError(q))
	}
	if len(errs) > 0 {
		// The first is the one the catalog explains; both were printed.
		return errs[0]
	}
	return nil
}
