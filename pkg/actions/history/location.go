package history

import "github.com/release-to-prod/release-to-prod/pkg/step"

// Location is where the history is kept: the setting check-konflux (which reads the history)
// and record-history (which writes it) share.
type Location struct {
	HistoryConfigMap string `check:"name" env:"HISTORY_CONFIGMAP, default=release-history" desc:"ConfigMap holding the release history (the project's Role grants access to release-history)"`
}

// DefaultConfigMap is the history ConfigMap's conventional name: HISTORY_CONFIGMAP's default,
// read from its tag.
var DefaultConfigMap = step.DefaultOf(&Location{}, "HISTORY_CONFIGMAP")

// ConfigMap is the history ConfigMap's name: the setting, or DefaultConfigMap when a run passed
// the param as "".
func (l Location) ConfigMap() string {
	if l.HistoryConfigMap == "" {
		return DefaultConfigMap
	}
	return l.HistoryConfigMap
}
