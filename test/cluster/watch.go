package cluster

import (
	"fmt"
	"io"
	"slices"
	"strings"
	"sync"
	"time"

	pipelinev1 "github.com/tektoncd/pipeline/pkg/apis/pipeline/v1"
	tektonclient "github.com/tektoncd/pipeline/pkg/client/clientset/versioned"
	tektoninformers "github.com/tektoncd/pipeline/pkg/client/informers/externalversions"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/client-go/informers"
	"k8s.io/client-go/tools/cache"
	"knative.dev/pkg/apis"
)

// PodWatch follows the TaskRuns of a namespace and their pods as the API reports them: it
// prints a line for each change a human would want to see (a TaskRun created, a pod's phase, a
// container's state) and times each TaskRun's pod start. Times are when the watch saw the
// change, so they carry the kubelet's reporting delay (its pod lifecycle events are relisted
// every second), not the API's whole-second timestamps.
type PodWatch struct {
	out  io.Writer
	stop chan struct{}

	mu       sync.Mutex
	taskRuns map[string]*TaskRunTimes // by TaskRun name
	pods     map[string]map[string]string
	phases   map[string]corev1.PodPhase
}

// TaskRunTimes is when the watch saw each stage of one TaskRun's pod.
type TaskRunTimes struct {
	TaskRun, PipelineTask, PipelineRun, Pod string
	Created                                 time.Time // the TaskRun first seen
	Scheduled                               time.Time // the pod first seen bound to the node
	Initialized                             time.Time // the pod's Initialized condition first seen True
	StepRunning                             time.Time // the first step container first seen running (or already ended)
	Done                                    time.Time // the TaskRun first seen ended
	// FirstStep is the name of the pod's first container: Tekton puts the steps first, in order.
	FirstStep string
}

// WatchTaskRuns starts watching namespace ns with the admin's rights; progress lines go to out
// (io.Discard for none). Stop ends it.
func (c *Cluster) WatchTaskRuns(ns string, out io.Writer) (*PodWatch, error) {
	tc, err := tektonclient.NewForConfig(c.Config)
	if err != nil {
		return nil, fmt.Errorf("cluster: watch %s: %w", ns, err)
	}
	w := &PodWatch{out: out, stop: make(chan struct{}), taskRuns: map[string]*TaskRunTimes{},
		pods: map[string]map[string]string{}, phases: map[string]corev1.PodPhase{}}
	tf := tektoninformers.NewSharedInformerFactoryWithOptions(tc, 0, tektoninformers.WithNamespace(ns))
	pf := informers.NewSharedInformerFactoryWithOptions(c.Client, 0, informers.WithNamespace(ns))
	trInformer := tf.Tekton().V1().TaskRuns().Informer()
	podInformer := pf.Core().V1().Pods().Informer()
	if _, err := trInformer.AddEventHandler(cache.ResourceEventHandlerFuncs{
		AddFunc:    func(o any) { w.taskRun(o) },
		UpdateFunc: func(_, o any) { w.taskRun(o) },
	}); err != nil {
		return nil, fmt.Errorf("cluster: watch %s: %w", ns, err)
	}
	if _, err := podInformer.AddEventHandler(cache.ResourceEventHandlerFuncs{
		AddFunc:    func(o any) { w.pod(o) },
		UpdateFunc: func(_, o any) { w.pod(o) },
	}); err != nil {
		return nil, fmt.Errorf("cluster: watch %s: %w", ns, err)
	}
	tf.Start(w.stop)
	pf.Start(w.stop)
	if !cache.WaitForCacheSync(w.stop, trInformer.HasSynced, podInformer.HasSynced) {
		w.Stop()
		return nil, fmt.Errorf("cluster: watch %s: the informers did not sync", ns)
	}
	return w, nil
}

// Stop ends the watch.
func (w *PodWatch) Stop() {
	select {
	case <-w.stop:
	default:
		close(w.stop)
	}
}

// TaskRuns returns the times of the TaskRuns of PipelineRun pipelineRun, in the order they were
// created.
func (w *PodWatch) TaskRuns(pipelineRun string) []TaskRunTimes {
	w.mu.Lock()
	defer w.mu.Unlock()
	var out []TaskRunTimes
	for _, t := range w.taskRuns {
		if t.PipelineRun == pipelineRun {
			out = append(out, *t)
		}
	}
	slices.SortFunc(out, func(a, b TaskRunTimes) int { return a.Created.Compare(b.Created) })
	return out
}

func (w *PodWatch) entry(name string) *TaskRunTimes {
	t := w.taskRuns[name]
	if t == nil {
		t = &TaskRunTimes{TaskRun: name}
		w.taskRuns[name] = t
	}
	return t
}

func (w *PodWatch) taskRun(o any) {
	tr, ok := o.(*pipelinev1.TaskRun)
	if !ok {
		return
	}
	now := time.Now()
	w.mu.Lock()
	defer w.mu.Unlock()
	t := w.entry(tr.Name)
	t.PipelineTask = tr.Labels["tekton.dev/pipelineTask"]
	t.PipelineRun = tr.Labels["tekton.dev/pipelineRun"]
	if t.Created.IsZero() {
		t.Created = now
		fmt.Fprintf(w.out, "  %s: TaskRun %s created\n", t.PipelineTask, tr.Name)
	}
	if cond := tr.Status.GetCondition(apis.ConditionSucceeded); cond != nil && !cond.IsUnknown() && t.Done.IsZero() {
		t.Done = now
	}
}

func (w *PodWatch) pod(o any) {
	p, ok := o.(*corev1.Pod)
	if !ok {
		return
	}
	trName := p.Labels["tekton.dev/taskRun"]
	if trName == "" {
		return
	}
	now := time.Now()
	w.mu.Lock()
	defer w.mu.Unlock()
	t := w.entry(trName)
	t.seePod(p, now)
	states, changed := t.seeContainers(p, w.pods[p.Name], now)
	phaseChanged := w.phases[p.Name] != p.Status.Phase
	w.pods[p.Name], w.phases[p.Name] = states, p.Status.Phase
	if len(changed) == 0 && !phaseChanged {
		return
	}
	line := fmt.Sprintf("  %s: pod %s %s", t.PipelineTask, p.Name, p.Status.Phase)
	if len(changed) > 0 {
		line += ": " + strings.Join(changed, ", ")
	}
	fmt.Fprintln(w.out, line)
}

// seePod records what pod p, seen at now, says of its TaskRun: its name, the TaskRun's labels
// when its own were not seen yet, its first step, and when it was scheduled and initialized.
func (t *TaskRunTimes) seePod(p *corev1.Pod, now time.Time) {
	t.Pod = p.Name
	if t.PipelineTask == "" {
		t.PipelineTask = p.Labels["tekton.dev/pipelineTask"]
		t.PipelineRun = p.Labels["tekton.dev/pipelineRun"]
	}
	if t.FirstStep == "" && len(p.Spec.Containers) > 0 {
		t.FirstStep = p.Spec.Containers[0].Name
	}
	if t.Scheduled.IsZero() && p.Spec.NodeName != "" {
		t.Scheduled = now
	}
	for _, cond := range p.Status.Conditions {
		if cond.Type == corev1.PodInitialized && cond.Status == corev1.ConditionTrue && t.Initialized.IsZero() {
			t.Initialized = now
		}
	}
}

// seeContainers returns the state of each of pod p's containers by name and, in words, those
// that changed from before; it records when the first step was seen at work.
func (t *TaskRunTimes) seeContainers(p *corev1.Pod, before map[string]string, now time.Time) (states map[string]string, changed []string) {
	statuses := map[string]corev1.ContainerStatus{}
	for _, group := range [][]corev1.ContainerStatus{p.Status.InitContainerStatuses, p.Status.ContainerStatuses} {
		for _, st := range group {
			statuses[st.Name] = st
		}
	}
	// In the pod's order, which is the order the steps run in (the kubelet sorts its statuses
	// by name).
	states = map[string]string{}
	for _, ctr := range append(slices.Clone(p.Spec.InitContainers), p.Spec.Containers...) {
		st, ok := statuses[ctr.Name]
		if !ok {
			continue
		}
		s := containerState(st)
		states[st.Name] = s
		if before[st.Name] != s {
			changed = append(changed, st.Name+" "+s)
		}
		if st.Name == t.FirstStep && t.StepRunning.IsZero() && (st.State.Running != nil || st.State.Terminated != nil) {
			t.StepRunning = now
		}
	}
	return states, changed
}

// containerState says in a few words what a container is doing.
func containerState(st corev1.ContainerStatus) string {
	switch s := st.State; {
	case s.Running != nil:
		return "running"
	case s.Terminated != nil:
		if s.Terminated.ExitCode == 0 {
			return "ended (" + s.Terminated.Reason + ")"
		}
		return fmt.Sprintf("ended (%s, exit %d)", s.Terminated.Reason, s.Terminated.ExitCode)
	case s.Waiting != nil:
		if s.Waiting.Reason == "" {
			return "waiting"
		}
		return "waiting (" + s.Waiting.Reason + ")"
	}
	return "unknown"
}
