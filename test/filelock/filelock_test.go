package filelock

import (
	"context"
	"path/filepath"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// flock(2) locks belong to the open file, so a second Lock in the same process waits as
// another process would.
func TestLockWaitsForTheHolder(t *testing.T) {
	path := filepath.Join(t.TempDir(), ".lock")
	unlock, err := Lock(path, func() { t.Error("the first Lock waited: nobody held the lock") })
	require.NoError(t, err)

	waiting := make(chan struct{})
	locked := make(chan func())
	go func() {
		u, err := Lock(path, func() { close(waiting) })
		assert.NoError(t, err)
		locked <- u
	}()
	<-waiting // said before it blocks
	select {
	case <-locked:
		t.Fatal("the second Lock did not wait for the first to unlock")
	default:
	}
	unlock()
	second := <-locked
	require.NotNil(t, second)
	second()
}

func TestLockNoFolder(t *testing.T) {
	_, err := Lock(filepath.Join(t.TempDir(), "missing", ".lock"), nil)
	require.Error(t, err)
	assert.Contains(t, err.Error(), "missing/.lock")
}

func TestWaitFree(t *testing.T) {
	path := filepath.Join(t.TempDir(), ".lock")
	unlock, err := Lock(path, nil)
	require.NoError(t, err)

	waited := false
	ctx, cancel := context.WithTimeout(context.Background(), 100*time.Millisecond)
	defer cancel()
	err = WaitFree(ctx, path, func() { waited = true })
	require.ErrorIs(t, err, context.DeadlineExceeded, "held: WaitFree ends with its context")
	assert.True(t, waited)

	unlock()
	require.NoError(t, WaitFree(context.Background(), path, func() { t.Error("waited for a free lock") }))
	again, err := Lock(path, func() { t.Error("WaitFree kept the lock") })
	require.NoError(t, err)
	again()
}
