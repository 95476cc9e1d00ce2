package sandbox

import (
	"context"
	"sync"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
)

// ReleaseService plays Konflux's release-service, which does not run in the sandbox: a new
// Release goes Progressing after Delay, and ends after another Delay with the outcome set for
// its namespace ("True" by default, "False", or "Progressing" to hang). A Release that carries a
// status when first seen was made by a test with its status, and is left alone.
type ReleaseService struct {
	mu      sync.Mutex
	outcome map[string]string
	stop    func()
}

type trackedRelease struct {
	first       time.Time
	ignore      bool
	progressing bool
	done        bool
}

// StartReleaseService starts the stand-in in every namespace; Stop ends it.
func (s *Sandbox) StartReleaseService(delay time.Duration) *ReleaseService {
	rs := &ReleaseService{outcome: map[string]string{}}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() {
		defer close(done)
		seen := map[string]*trackedRelease{}
		tick := time.NewTicker(min(delay/2, 100*time.Millisecond) + time.Millisecond)
		defer tick.Stop()
		for {
			select {
			case <-ctx.Done():
				return
			case <-tick.C:
			}
			list, err := s.Dynamic.Resource(Releases).List(ctx, metav1.ListOptions{})
			if err != nil {
				continue
			}
			for _, r := range list.Items {
				key := r.GetNamespace() + "/" + r.GetName()
				tr, ok := seen[key]
				if !ok {
					conds, _, _ := unstructured.NestedSlice(r.Object, "status", "conditions")
					seen[key] = &trackedRelease{first: time.Now(), ignore: len(conds) > 0}
					continue
				}
				if tr.ignore || tr.done {
					continue
				}
				age := time.Since(tr.first)
				switch want := rs.want(r.GetNamespace()); {
				case age >= 2*delay && want != "Progressing":
					msg := "managed pipeline succeeded (release-service stand-in)"
					if want == "False" {
						msg = "managed pipeline failed: push-to-external-registry (release-service stand-in)"
					}
					tr.done = s.SetStatus(ctx, Releases, r.GetNamespace(), r.GetName(), ReleaseStatus(want, msg)) == nil
				case age >= delay && !tr.progressing:
					tr.progressing = s.SetStatus(ctx, Releases, r.GetNamespace(), r.GetName(),
						ReleaseStatus("Progressing", "managed pipeline running (release-service stand-in)")) == nil
				}
			}
		}
	}()
	rs.stop = func() { cancel(); <-done }
	return rs
}

// Set makes the Releases of namespace ns end with released: "True", "False" or "Progressing".
func (rs *ReleaseService) Set(ns, released string) {
	rs.mu.Lock()
	defer rs.mu.Unlock()
	rs.outcome[ns] = released
}

func (rs *ReleaseService) want(ns string) string {
	rs.mu.Lock()
	defer rs.mu.Unlock()
	if w := rs.outcome[ns]; w != "" {
		return w
	}
	return "True"
}

// Stop ends the stand-in.
func (rs *ReleaseService) Stop() { rs.stop() }
