package konflux

import (
	"context"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
)

var getOptions = metav1.GetOptions{}

// Application is the part of a Konflux Application the project reads.
type Application struct {
	Name        string
	DisplayName string
}

// Component is the part of a Konflux Component the project reads.
type Component struct {
	Name           string
	Application    string
	ContainerImage string // the staging repository, with or without a tag or digest
}

// GetApplication returns the Application name.
func (c *Client) GetApplication(ctx context.Context, name string) (*Application, error) {
	u, err := c.get(ctx, ApplicationsResource, "Application", name)
	if err != nil {
		return nil, err
	}
	return &Application{Name: u.GetName(), DisplayName: str(u, "spec", "displayName")}, nil
}

// GetComponent returns the Component name.
func (c *Client) GetComponent(ctx context.Context, name string) (*Component, error) {
	u, err := c.get(ctx, ComponentsResource, "Component", name)
	if err != nil {
		return nil, err
	}
	return &Component{
		Name:           u.GetName(),
		Application:    str(u, "spec", "application"),
		ContainerImage: str(u, "spec", "containerImage"),
	}, nil
}

// str reads a string field; a missing or mistyped field reads as "" (the callers say what is
// missing in their own terms).
func str(u *unstructured.Unstructured, fields ...string) string {
	s, _, _ := unstructured.NestedString(u.Object, fields...)
	return s
}
