package step

import (
	"testing"

	"github.com/stretchr/testify/assert"
)

type rulesConfig struct {
	Common
	SHA      string `env:"COMMIT_SHA" check:"sha"`
	Name     string `env:"COMPONENT" check:"name"`
	Skip     string `env:"SKIP_ALERTS" param:"skip_alerts" check:"bool"`
	URL      string `env:"QUAY_API_URL" check:"url"`
	Wait     string `env:"SCAN_POLL_TIMEOUT" check:"duration"`
	Limit    string `env:"HISTORY_LIMIT" check:"int"`
	Key      string `env:"QUAY_TOKEN_KEY" check:"key"`
	Path     string `env:"SAAS_FILE" check:"relpath"`
	Anything string `env:"NOTE"`
}

func (*rulesConfig) InvalidResult() ResultName { return "INVALID_PARAMS" }

func TestCheck(t *testing.T) {
	valid := rulesConfig{SHA: "3f786850e387550fdab836ed7e6dc881de23001b", Name: "backend-main", Skip: "TRUE", URL: "https://quay.io",
		Wait: "10m", Limit: "200", Key: ".dockerconfigjson", Path: "data/services/aa/cicd/saas.yml", Anything: "$(x) `rm -rf`"}
	assert.NoError(t, Check(&valid))
	empty := rulesConfig{SHA: valid.SHA, Key: "token"}
	assert.NoError(t, Check(&empty), "empty means the default, except where a value is needed")

	for _, tc := range []struct {
		name string
		edit func(*rulesConfig)
		want string
	}{
		{"short sha", func(c *rulesConfig) { c.SHA = "3f78685" }, `commit_sha (COMMIT_SHA): "3f78685" is a short SHA`},
		{"uppercase name", func(c *rulesConfig) { c.Name = "Backend" }, `component (COMPONENT): "Backend" is not a valid Kubernetes name`},
		{"long name", func(c *rulesConfig) { c.Name = string(make([]byte, 64)) }, "is not a valid Kubernetes name"},
		{"yes", func(c *rulesConfig) { c.Skip = "yes" }, `skip_alerts (SKIP_ALERTS): value "yes" is not true or false`},
		{"scheme", func(c *rulesConfig) { c.URL = "quay.io" }, `"quay.io" is not an absolute http(s) URL`},
		{"file url", func(c *rulesConfig) { c.URL = "file:///etc/passwd" }, "is not an absolute http(s) URL"},
		{"duration", func(c *rulesConfig) { c.Wait = "ten minutes" }, `"ten minutes" is not a duration`},
		{"negative duration", func(c *rulesConfig) { c.Wait = "-1m" }, "is not a duration"},
		{"int", func(c *rulesConfig) { c.Limit = "lots" }, `"lots" is not a whole number`},
		{"key", func(c *rulesConfig) { c.Key = "a/b" }, `"a/b" is not a valid Secret key`},
		{"dot dot key", func(c *rulesConfig) { c.Key = ".." }, "is not a valid Secret key"},
		{"escape", func(c *rulesConfig) { c.Path = "data/../../etc/passwd" }, `without ".."`},
		{"absolute", func(c *rulesConfig) { c.Path = "/etc/passwd" }, `without ".."`},
		// A relative path by its rule, but a template's placeholder left as shipped.
		{"placeholder path", func(c *rulesConfig) { c.Path = "<the SaaS file, e.g. data/services/<app>/cicd/saas.yml>" },
			`saas_file (SAAS_FILE) is a placeholder left as shipped: set it`},
		{"placeholder name", func(c *rulesConfig) { c.Name = "<your Konflux Component>" }, "component (COMPONENT) is a placeholder"},
		{"placeholder bool", func(c *rulesConfig) { c.Skip = " <true or false> " }, "skip_alerts (SKIP_ALERTS) is a placeholder"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c := valid
			tc.edit(&c)
			err := Check(&c)
			assert.ErrorContains(t, err, tc.want)
		})
	}
	two := valid
	two.SHA, two.Skip = "x", "maybe"
	err := Check(&two)
	assert.ErrorContains(t, err, "commit_sha", "every bad param is named at once")
	assert.ErrorContains(t, err, "skip_alerts")
}
