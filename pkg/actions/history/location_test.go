package history

import (
	"testing"

	"github.com/stretchr/testify/assert"
)

func TestLocation(t *testing.T) {
	assert.Equal(t, "release-history", DefaultConfigMap, "read from HISTORY_CONFIGMAP's tag")
	for _, tt := range []struct{ setting, want string }{
		{setting: "", want: "release-history"}, // the param passed as ""
		{setting: "team-history", want: "team-history"},
	} {
		assert.Equal(t, tt.want, Location{HistoryConfigMap: tt.setting}.ConfigMap(), "setting %q", tt.setting)
	}
}
