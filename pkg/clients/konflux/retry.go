package konflux

import (
	"context"
	"errors"
	"fmt"
	"io"
	"math"
	"net/http"
	"time"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	utilnet "k8s.io/apimachinery/pkg/util/net"
	"k8s.io/apimachinery/pkg/util/wait"
)

// readBackoff is the wait before each retry of a read the API server answered 429 or 5xx
// without Retry-After.
var readBackoff = []time.Duration{250 * time.Millisecond, 500 * time.Millisecond, time.Second}

// retryReads wraps the API client's transport so that a read (GET, which includes lists) answered
// 429 or 5xx without Retry-After is tried again a few times. client-go retries by itself only
// replies that carry Retry-After and connection resets of reads; an API server restarting or
// behind a load balancer also answers plain 500/502/503, which a gate must ride out, not report
// as a blocked release.
type retryReads struct{ next http.RoundTripper }

func (t retryReads) RoundTrip(req *http.Request) (*http.Response, error) {
	if req.Method != http.MethodGet || (req.Body != nil && req.Body != http.NoBody) {
		return t.next.RoundTrip(req)
	}
	for i := 0; ; i++ {
		resp, err := t.next.RoundTrip(req)
		if err != nil || i == len(readBackoff) || !retryableStatus(resp) {
			return resp, err
		}
		_, _ = io.Copy(io.Discard, io.LimitReader(resp.Body, 1<<16))
		_ = resp.Body.Close()
		timer := time.NewTimer(readBackoff[i])
		select {
		case <-req.Context().Done():
			timer.Stop()
			return nil, req.Context().Err()
		case <-timer.C:
		}
	}
}

func retryableStatus(r *http.Response) bool {
	if r.Header.Get("Retry-After") != "" {
		return false // client-go waits as told and retries these itself
	}
	return r.StatusCode == http.StatusTooManyRequests || r.StatusCode >= 500 && r.StatusCode != http.StatusNotImplemented
}

// Transient reports whether a failed call may succeed when repeated: the API server was
// overloaded or restarting, or the connection was lost (in which case a write may or may not
// have been applied).
func Transient(err error) bool {
	switch {
	case err == nil:
		return false
	case apierrors.IsTooManyRequests(err), apierrors.IsServiceUnavailable(err), apierrors.IsInternalError(err),
		apierrors.IsServerTimeout(err), apierrors.IsTimeout(err), apierrors.IsUnexpectedServerError(err):
		return true
	case errors.Is(err, context.Canceled):
		return false
	}
	return utilnet.IsConnectionReset(err) || utilnet.IsProbableEOF(err) || utilnet.IsHTTP2ConnectionLost(err)
}

// ConflictBackoff spreads concurrent writers of one object out: each conflict costs one round
// trip, and any number of writers at once must all get their change in. Only the context bounds
// the retries: wait.Backoff's Steps cannot, because reaching Cap sets Steps to zero, which ended
// retry.OnError after ten conflicts.
func ConflictBackoff() wait.Backoff {
	return wait.Backoff{Duration: 10 * time.Millisecond, Factor: 1.5, Jitter: 1, Cap: 500 * time.Millisecond, Steps: math.MaxInt32}
}

// RetryConflicts calls write (a read-modify-write with the resourceVersion read) until it
// succeeds, fails for another reason than a concurrent writer (Conflict, or AlreadyExists from
// a racing creator) or a transient error, or ctx ends. A write whose answer was lost is retried
// too: write reads again and must find its change if it was applied. The error after ctx ended
// names the attempts and keeps the last conflict.
func RetryConflicts(ctx context.Context, backoff wait.Backoff, write func() error) error {
	for attempt := 1; ; attempt++ {
		err := write()
		if err == nil || !(apierrors.IsConflict(err) || apierrors.IsAlreadyExists(err) || Transient(err)) {
			return err
		}
		timer := time.NewTimer(backoff.Step())
		select {
		case <-ctx.Done():
			timer.Stop()
			return fmt.Errorf("gave up after %d attempts (%w): %w", attempt, context.Cause(ctx), err)
		case <-timer.C:
		}
	}
}
