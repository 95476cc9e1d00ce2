package konflux

import (
	"errors"
	"testing"

	"github.com/stretchr/testify/assert"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/runtime/schema"

	"github.com/release-to-prod/release-to-prod/pkg/step/failure"
)

// TestAPIErrorForbidden: a 403 is a missing right (not-permitted, naming the verb and the
// resource), a 401 is credentials; neither is a gate's finding.
func TestAPIErrorForbidden(t *testing.T) {
	rp := schema.GroupResource{Group: "appstudio.redhat.com", Resource: "releaseplans"}
	tests := []struct {
		name   string
		err    error
		object string
		wantID failure.ID
		verb   string
	}{
		// As k8s.io/apiserver's authorization filter words it.
		{"list refused", apierrors.NewForbidden(rp, "", errors.New(`User "system:serviceaccount:t:release-to-prod-preflight" cannot list resource "releaseplans" in API group "appstudio.redhat.com" in the namespace "t"`)),
			"", failure.NotPermitted, "list"},
		{"create refused", fmtForbidden("releases", "create"), "r1", failure.NotPermitted, "create"},
		{"no verb in the message: get for a name", apierrors.NewForbidden(rp, "p", errors.New("denied")), "p", failure.NotPermitted, "get"},
		{"unauthorized", apierrors.NewUnauthorized("token expired"), "p", failure.Unauthorized, ""},
	}
	c := &Client{Namespace: "t"}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := c.APIError(tt.err, "ReleasePlan", "releaseplans", tt.object)
			var fe *failure.Error
			if assert.True(t, errors.As(err, &fe), "%v", err) {
				assert.Equal(t, tt.wantID, fe.ID)
				if tt.verb != "" {
					assert.Equal(t, tt.verb, fe.Facts["verb"])
					assert.Equal(t, "releaseplans", fe.Facts["resource"])
				}
			}
		})
	}
}

func fmtForbidden(resource, verb string) error {
	return apierrors.NewForbidden(schema.GroupResource{Group: "appstudio.redhat.com", Resource: resource}, "r1",
		errors.New(`User "system:serviceaccount:t:default" cannot `+verb+` resource "`+resource+`" in API group "appstudio.redhat.com" in the namespace "t"`))
}
