package api

import (
	"context"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/hex"
	"errors"
	"net/http"
	"strings"
	"time"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/gusthub/gust/actions"
	"github.com/gusthub/gust/hub"
)

// Devices are MQTT credentials that a namespace's owner hands to one
// device, instead of the namespace's key: a device logs in to the embedded
// MQTT listener with user "<namespace>/<device>" and its own password,
// uses that namespace's topics only, and stops working when the device is
// deleted, while the key and the other devices keep working. Only the
// password's hash is stored; the password is shown once, at creation.
type Devices struct {
	c *hub.Collection[Device]
}

// Device is one device's credentials.
type Device struct {
	Namespace string `json:"namespace"`
	Name      string `json:"name"`
	// Username is what the device logs in with: "<namespace>/<name>".
	Username string `json:"username"`
	// PasswordHash is the hex SHA-256 of the password (64 random
	// alphanumerics, like a key's secret); it never leaves the server.
	PasswordHash string `json:"passwordHash,omitempty"`
	Created      int64  `json:"created"`
}

// DeviceCreated is the answer to PUT .../devices/{name}: the device and,
// this once, its password.
type DeviceCreated struct {
	Device
	Password string `json:"password"`
}

const devicesBucket = "gust_devices"

// OpenDevices opens (creating it if needed) the devices bucket.
func OpenDevices(ctx context.Context, js jetstream.JetStream) (*Devices, error) {
	c, err := hub.OpenCollection[Device](ctx, js, devicesBucket)
	if err != nil {
		return nil, err
	}
	return &Devices{c: c}, nil
}

// DeviceUsername is the MQTT user name of device name of namespace ns.
func DeviceUsername(ns, name string) string { return ns + "/" + name }

// IsDeviceUsername tells a device's user name from a key's uuid, which
// never holds a '/'.
func IsDeviceUsername(user string) bool { return strings.Contains(user, "/") }

// Authenticate returns the namespace of the device that logs in as user
// with password, or ErrBadCredentials.
func (d *Devices) Authenticate(ctx context.Context, user, password string) (string, error) {
	ns, name, ok := strings.Cut(user, "/")
	if !ok || actions.CheckNamespace(ns) != nil || actions.CheckName(name) != nil {
		return "", ErrBadCredentials
	}
	dev, _, err := d.c.Get(ctx, hub.Key(ns, name))
	if errors.Is(err, hub.ErrNotFound) {
		return "", ErrBadCredentials
	}
	if err != nil {
		return "", err
	}
	sum := sha256.Sum256([]byte(password))
	if subtle.ConstantTimeCompare([]byte(hex.EncodeToString(sum[:])), []byte(dev.PasswordHash)) != 1 {
		return "", ErrBadCredentials
	}
	return dev.Namespace, nil
}

// Create makes device name in namespace ns with a new password; with
// overwrite an existing device gets a new password (the old one stops
// working), without it an existing device is hub.ErrExists.
func (d *Devices) Create(ctx context.Context, ns, name string, overwrite bool) (*DeviceCreated, error) {
	password := randomSecret()
	sum := sha256.Sum256([]byte(password))
	dev := Device{Namespace: ns, Name: name, Username: DeviceUsername(ns, name),
		PasswordHash: hex.EncodeToString(sum[:]), Created: time.Now().UnixMilli()}
	var err error
	if overwrite {
		_, err = d.c.Put(ctx, hub.Key(ns, name), dev)
	} else {
		_, err = d.c.Create(ctx, hub.Key(ns, name), dev)
	}
	if err != nil {
		return nil, err
	}
	dev.PasswordHash = ""
	return &DeviceCreated{Device: dev, Password: password}, nil
}

// List returns the devices of namespace ns, without their hashes, oldest
// first.
func (d *Devices) List(ctx context.Context, ns string) ([]Device, error) {
	es, err := d.c.List(ctx, hub.Key(ns)+".>")
	if err != nil {
		return nil, err
	}
	out := make([]Device, 0, len(es))
	for _, e := range es {
		dev := e.Value
		dev.PasswordHash = ""
		out = append(out, dev)
	}
	return out, nil
}

// Get returns device name of namespace ns, without its hash.
func (d *Devices) Get(ctx context.Context, ns, name string) (*Device, error) {
	dev, _, err := d.c.Get(ctx, hub.Key(ns, name))
	if err != nil {
		return nil, err
	}
	dev.PasswordHash = ""
	return &dev, nil
}

// Delete removes device name of namespace ns and returns what it was: it
// can no longer log in. A connection it has open stays until it ends.
func (d *Devices) Delete(ctx context.Context, ns, name string) (*Device, error) {
	dev, rev, err := d.c.Get(ctx, hub.Key(ns, name))
	if err != nil {
		return nil, err
	}
	if err := d.c.Delete(ctx, hub.Key(ns, name), rev); err != nil {
		return nil, err
	}
	dev.PasswordHash = ""
	return &dev, nil
}

// devicePath checks the namespace (the caller's own) and the device name of
// a .../devices/{name} request.
func (s *Server) devicePath(r *http.Request, id *Identity) (ns, name string, err error) {
	if s.cfg.Devices == nil {
		return "", "", errorf(http.StatusNotFound, msgNotFound)
	}
	if ns, err = ownNamespace(r, id); err != nil {
		return "", "", err
	}
	name = r.PathValue("name")
	if name != "" {
		if err := actions.CheckName(name); err != nil {
			return "", "", errorf(http.StatusBadRequest, "The device name contains illegal characters.")
		}
	}
	return ns, name, nil
}

// deviceAnswer answers a device request with what do returns for the
// namespace and device name of its path, as JSON.
func deviceAnswer[T any](s *Server, w http.ResponseWriter, r *http.Request, id *Identity, do func(ctx context.Context, ns, name string) (T, error)) error {
	ns, name, err := s.devicePath(r, id)
	if err != nil {
		return err
	}
	v, err := do(r.Context(), ns, name)
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, v)
	return nil
}

func (s *Server) listDevices(w http.ResponseWriter, r *http.Request, id *Identity) error {
	return deviceAnswer(s, w, r, id, func(ctx context.Context, ns, _ string) ([]Device, error) { return s.cfg.Devices.List(ctx, ns) })
}

func (s *Server) getDevice(w http.ResponseWriter, r *http.Request, id *Identity) error {
	return deviceAnswer(s, w, r, id, s.cfg.Devices.Get)
}

// putDevice creates a device; ?overwrite=true gives an existing one a new
// password.
func (s *Server) putDevice(w http.ResponseWriter, r *http.Request, id *Identity) error {
	overwrite := r.URL.Query().Get("overwrite") == "true"
	return deviceAnswer(s, w, r, id, func(ctx context.Context, ns, name string) (*DeviceCreated, error) {
		return s.cfg.Devices.Create(ctx, ns, name, overwrite)
	})
}

func (s *Server) deleteDevice(w http.ResponseWriter, r *http.Request, id *Identity) error {
	return deviceAnswer(s, w, r, id, s.cfg.Devices.Delete)
}
