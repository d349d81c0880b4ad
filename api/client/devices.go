package client

import (
	"context"
	"net/http"
	"net/url"
	"strconv"
)

// Device is an MQTT device's credentials as the API shows them; Password
// is set only in the answer to CreateDevice.
type Device struct {
	Namespace string `json:"namespace"`
	Name      string `json:"name"`
	Username  string `json:"username"`
	Password  string `json:"password,omitempty"`
	Created   int64  `json:"created"`
}

// CreateDevice creates device name in the caller's namespace and returns
// it with its password, which is shown this once. With overwrite an
// existing device gets a new password; without it, it is a 409.
func (c *Client) CreateDevice(ctx context.Context, name string, overwrite bool) (*Device, *Response, error) {
	return call[Device](ctx, c, http.MethodPut, namespacePath(DefaultNamespace, "devices", url.PathEscape(name)),
		url.Values{"overwrite": {strconv.FormatBool(overwrite)}}, nil)
}

// Devices lists the devices of the caller's namespace.
func (c *Client) Devices(ctx context.Context) ([]Device, *Response, error) {
	v, resp, err := call[[]Device](ctx, c, http.MethodGet, namespacePath(DefaultNamespace, "devices", ""), nil, nil)
	if err != nil {
		return nil, resp, err
	}
	return *v, resp, nil
}

// GetDevice returns device name, without its password.
func (c *Client) GetDevice(ctx context.Context, name string) (*Device, *Response, error) {
	return call[Device](ctx, c, http.MethodGet, namespacePath(DefaultNamespace, "devices", url.PathEscape(name)), nil, nil)
}

// DeleteDevice deletes device name: it can no longer log in.
func (c *Client) DeleteDevice(ctx context.Context, name string) (*Device, *Response, error) {
	return call[Device](ctx, c, http.MethodDelete, namespacePath(DefaultNamespace, "devices", url.PathEscape(name)), nil, nil)
}
