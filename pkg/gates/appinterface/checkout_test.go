package appinterface

import (
	"testing"

	"github.com/stretchr/testify/assert"
	"go.yaml.in/yaml/v3"
)

func TestCleanRelative(t *testing.T) {
	tests := []struct {
		in, want, err string
	}{
		{in: "data/services/aa/cicd/saas.yml", want: "data/services/aa/cicd/saas.yml"},
		{in: "./data//services/aa/./saas.yml", want: "data/services/aa/saas.yml"},
		{in: "", err: "empty"},
		{in: "/etc/passwd", err: "absolute"},
		{in: "data/../../x.yml", err: "contains '..'"},
		{in: "..", err: "contains '..'"},
		{in: `data\..\x.yml`, err: "backslash"},
		{in: ".", err: "names the checkout itself"},
		{in: "a\x00b", err: "NUL"},
	}
	for _, tt := range tests {
		got, err := CleanRelative(tt.in)
		if tt.err != "" {
			assert.ErrorContains(t, err, tt.err, tt.in)
			continue
		}
		assert.NoError(t, err, tt.in)
		assert.Equal(t, tt.want, got)
	}
}

func TestRefPath(t *testing.T) {
	tests := []struct {
		in, want, err string
	}{
		{in: "/services/aa/namespaces/prod.yml", want: "data/services/aa/namespaces/prod.yml"},
		{in: "services/aa/namespaces/prod.yml", err: "must start with '/'"},
		{in: "/services/../../../etc/passwd", err: "contains '..'"},
		{in: "/", err: "path is empty"},
	}
	for _, tt := range tests {
		got, err := RefPath(tt.in)
		if tt.err != "" {
			assert.ErrorContains(t, err, tt.err, tt.in)
			continue
		}
		assert.NoError(t, err, tt.in)
		assert.Equal(t, tt.want, got)
	}
}

func TestIsProduction(t *testing.T) {
	tests := []struct {
		env  string
		want bool
	}{
		{env: "name: aa-production\nservicePhase: prod", want: true},
		{env: "name: production\nservicePhase: stage", want: false}, // the schema's field wins
		{env: "name: aa-stage\nservicePhase: stage", want: false},
		{env: "name: env-b\nlabels: {type: production}", want: true},
		{env: "name: env-b\nlabels: {environment: Prod}", want: true},
		{env: "name: env-b\nlabels: {type: stage}", want: false},
		{env: "name: app-sre-prod", want: true},
		{env: "name: prod_us_east", want: true},
		{env: "name: production", want: true},
		{env: "name: preprod", want: false},
		{env: "name: products", want: false},
		{env: "name: integration", want: false},
	}
	v := &validator{}
	for _, tt := range tests {
		var doc yaml.Node
		if err := yaml.Unmarshal([]byte(tt.env), &doc); err != nil {
			t.Fatal(err)
		}
		got, why := v.isProduction(Target{}, doc.Content[0])
		assert.Equal(t, tt.want, got, tt.env)
		assert.Equal(t, tt.want, why != "", "a production verdict says why: %s", tt.env)
	}
}
