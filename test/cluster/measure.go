package cluster

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/release-to-prod/release-to-prod/test/cluster/host"
)

// MemorySampler reads the memory cgroup of every container the node runs, from the moment its
// cgroup appears until it goes: containerd removes a container's cgroup as soon as the
// container exits, so the kernel's high-water mark must be read while the container lives.
// A step's container holds Tekton's entrypoint as well as the step's process: its peak is what
// the step's memory limit is counted against.
type MemorySampler struct {
	root string // the kubelet's cgroupRoot in the memory hierarchy
	v2   bool

	mu         sync.Mutex
	containers map[string]*ContainerMemory
	stop       chan struct{}
	done       chan struct{}
}

// ContainerMemory is what the sampler saw of one container's cgroup.
type ContainerMemory struct {
	ID     string // the runtime's container id (the pod status's containerID without "containerd://")
	PodUID string
	// FirstSeen is when the sampler first saw the cgroup: runc creates it as it creates the
	// container, a few milliseconds before starting it.
	FirstSeen time.Time
	// Peak is the kernel's high-water mark of the cgroup's usage (cgroup v1
	// memory.max_usage_in_bytes, v2 memory.peak), as last read: it counts the page cache the
	// container touched as well as its processes' memory, as the limit does.
	Peak int64
	// Resident is the highest anonymous plus file-mapped memory read (memory.stat, every fifth
	// sample): the figure closest to the processes' RSS, but sampled, so a peak between two
	// reads is missed.
	Resident int64
	Limit    int64 // memory.limit_in_bytes (v2 memory.max); 0 when unlimited
	Samples  int
	// Ended says that Peak was read after the container's workload had ended: a sample saw a
	// second process in the cgroup (Tekton's entrypoint runs the step as its child), and a
	// later one saw it gone. Otherwise the container may have grown between the last read and
	// the removal of its cgroup, and Peak is a lower bound.
	Ended bool
	// Began is the first sample that saw the step's process (a second process in the cgroup,
	// once Tekton's entrypoint stopped waiting for the previous step), LastRan the last one:
	// between one step's LastRan and the next step's Began, the pod ran no step.
	Began, LastRan time.Time
	ran            bool
}

// SampleMemory starts reading every container's memory cgroup each interval until Stop.
func (c *Cluster) SampleMemory(interval time.Duration) (*MemorySampler, error) {
	if c.host == nil {
		return nil, errors.New("cluster: memory sampler: the cluster is not started")
	}
	root, v2, err := memoryRoot(c.host.CgroupName())
	if err != nil {
		return nil, err
	}
	s := &MemorySampler{root: root, v2: v2, containers: map[string]*ContainerMemory{},
		stop: make(chan struct{}), done: make(chan struct{})}
	go func() {
		defer close(s.done)
		tick := time.NewTicker(interval)
		defer tick.Stop()
		for {
			s.sample()
			select {
			case <-s.stop:
				return
			case <-tick.C:
			}
		}
	}()
	return s, nil
}

// memoryRoot finds the kubelet's cgroupRoot in the hierarchy that has the memory controller.
func memoryRoot(cgroupName string) (string, bool, error) {
	hs, err := host.CgroupHierarchies()
	if err != nil {
		return "", false, fmt.Errorf("cluster: memory sampler: %w", err)
	}
	for _, h := range hs {
		p := filepath.Join(h, cgroupName)
		if _, err := os.Stat(filepath.Join(p, "memory.max_usage_in_bytes")); err == nil {
			return p, false, nil
		}
		if _, err := os.Stat(filepath.Join(p, "memory.current")); err == nil {
			return p, true, nil
		}
	}
	return "", false, fmt.Errorf("cluster: memory sampler: no memory cgroup %s in %v", cgroupName, hs)
}

// Stop ends the sampling and returns every container seen, by id.
func (s *MemorySampler) Stop() map[string]ContainerMemory {
	select {
	case <-s.stop:
	default:
		close(s.stop)
	}
	<-s.done
	return s.Containers()
}

// Containers returns every container seen so far, by id.
func (s *MemorySampler) Containers() map[string]ContainerMemory {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := make(map[string]ContainerMemory, len(s.containers))
	for id, cm := range s.containers {
		out[id] = *cm
	}
	return out
}

// sample reads each live container cgroup once. The kubelet's cgroupfs layout is
// <root>/kubepods[/burstable|/besteffort]/pod<uid>/<container id>; the pod sandbox's (pause)
// cgroup is there too, and simply never matches a container of the pod status.
func (s *MemorySampler) sample() {
	now := time.Now()
	for _, pod := range podCgroups(filepath.Join(s.root, "kubepods")) {
		entries, err := os.ReadDir(pod)
		if err != nil {
			continue // the pod went while we looked
		}
		uid := strings.TrimPrefix(filepath.Base(pod), "pod")
		for _, e := range entries {
			if !e.IsDir() || !isContainerID(e.Name()) {
				continue
			}
			s.read(filepath.Join(pod, e.Name()), e.Name(), uid, now)
		}
	}
}

func podCgroups(kubepods string) []string {
	var pods []string
	for _, dir := range []string{kubepods, filepath.Join(kubepods, "burstable"), filepath.Join(kubepods, "besteffort")} {
		entries, err := os.ReadDir(dir)
		if err != nil {
			continue
		}
		for _, e := range entries {
			if e.IsDir() && strings.HasPrefix(e.Name(), "pod") {
				pods = append(pods, filepath.Join(dir, e.Name()))
			}
		}
	}
	return pods
}

func isContainerID(name string) bool {
	if len(name) != 64 {
		return false
	}
	for _, r := range name {
		if (r < '0' || r > '9') && (r < 'a' || r > 'f') {
			return false
		}
	}
	return true
}

func (s *MemorySampler) read(dir, id, podUID string, now time.Time) {
	peakFile, limitFile, residentKeys := "memory.max_usage_in_bytes", "memory.limit_in_bytes", []string{"rss", "mapped_file"}
	if s.v2 {
		peakFile, limitFile, residentKeys = "memory.peak", "memory.max", []string{"anon", "file_mapped"}
	}
	s.mu.Lock()
	cm := s.containers[id]
	if cm == nil {
		cm = &ContainerMemory{ID: id, PodUID: podUID, FirstSeen: now}
		s.containers[id] = cm
	}
	known, n := cm.Limit != 0, cm.Samples
	s.mu.Unlock()
	// The high-water mark and the process count each time; memory.stat, the costliest file,
	// every fifth time: the sampler shares the node's CPUs with what it measures.
	peak, perr := readInt(filepath.Join(dir, peakFile))
	procs, cerr := countProcs(filepath.Join(dir, "cgroup.procs"))
	if perr != nil || cerr != nil {
		return // gone, or not readable yet
	}
	var resident, limit int64
	if n%5 == 0 {
		resident, _ = statSum(filepath.Join(dir, "memory.stat"), residentKeys...)
	}
	if !known {
		limit, _ = readInt(filepath.Join(dir, limitFile))
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	cm.Samples++
	cm.Peak = max(cm.Peak, peak)
	cm.Resident = max(cm.Resident, resident)
	if procs > 1 {
		cm.ran = true
		if cm.Began.IsZero() {
			cm.Began = now
		}
		cm.LastRan = now
	} else if cm.ran {
		cm.Ended = true
	}
	// An unlimited cgroup v1 reads as a huge page-aligned number; v2 says "max" (an error here).
	if limit > 0 && limit < 1<<50 {
		cm.Limit = limit
	}
}

func readInt(path string) (int64, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return 0, err
	}
	return strconv.ParseInt(string(bytes.TrimSpace(b)), 10, 64)
}

func countProcs(path string) (int, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return 0, err
	}
	return len(strings.Fields(string(b))), nil
}

// statSum adds the named counters of a memory.stat file.
func statSum(path string, keys ...string) (int64, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return 0, err
	}
	var sum int64
	sc := bufio.NewScanner(bytes.NewReader(b))
	for sc.Scan() {
		k, v, ok := strings.Cut(sc.Text(), " ")
		if !ok {
			continue
		}
		for _, want := range keys {
			if k == want {
				n, err := strconv.ParseInt(v, 10, 64)
				if err != nil {
					return 0, fmt.Errorf("%s: %s: %w", path, k, err)
				}
				sum += n
			}
		}
	}
	return sum, sc.Err()
}

// PodContainer names a container the sampler saw: its pod, the container's name in it, and the
// Tekton TaskRun and pipeline task the pod belongs to.
type PodContainer struct {
	Pod, Container, TaskRun, PipelineTask string
	Init                                  bool
}

// ContainerNames maps the container ids of namespace ns's pods (their init containers
// included) to names, from the pods' status: the sampler only knows ids.
func (c *Cluster) ContainerNames(ctx context.Context, ns string) (map[string]PodContainer, error) {
	pods, err := c.Client.CoreV1().Pods(ns).List(ctx, metav1.ListOptions{})
	if err != nil {
		return nil, fmt.Errorf("cluster: pods of %s: %w", ns, err)
	}
	out := map[string]PodContainer{}
	for _, p := range pods.Items {
		for i, statuses := range [][]corev1.ContainerStatus{p.Status.InitContainerStatuses, p.Status.ContainerStatuses} {
			for _, st := range statuses {
				_, id, ok := strings.Cut(st.ContainerID, "://")
				if !ok {
					continue
				}
				out[id] = PodContainer{Pod: p.Name, Container: st.Name, Init: i == 0,
					TaskRun: p.Labels["tekton.dev/taskRun"], PipelineTask: p.Labels["tekton.dev/pipelineTask"]}
			}
		}
	}
	return out, nil
}
