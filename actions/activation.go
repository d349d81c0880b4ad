package actions

import (
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"fmt"

	"github.com/gusthub/gust/internal/jsonbuf"
)

// Activation status codes and their names in OpenWhisk.
const (
	StatusSuccess          = 0
	StatusApplicationError = 1
	StatusDeveloperError   = 2
	StatusInternalError    = 3
)

var statusNames = [...]string{"success", "application error", "action developer error", "whisk internal error"}

// StatusName is the "status" string of a status code.
func StatusName(code int) string {
	if code < 0 || code >= len(statusNames) {
		return statusNames[StatusInternalError]
	}
	return statusNames[code]
}

// NewActivationID returns a fresh activation id: 32 lowercase hex digits.
func NewActivationID() string {
	var b [16]byte
	_, _ = rand.Read(b[:])
	return hex.EncodeToString(b[:])
}

// ActivationIDLength is the length of every activation id.
const ActivationIDLength = 32

// IsActivationID reports whether s looks like an activation id.
func IsActivationID(s string) bool {
	if len(s) != ActivationIDLength {
		return false
	}
	_, err := hex.DecodeString(s)
	return err == nil
}

// NoContainerAnnotation, true on an action's activation record, says the
// activation ended before it got a container (no image, no room, the
// engine failed): it started neither cold (initTime) nor warm. OpenWhisk
// writes no such annotation, so its CLI takes these for warm.
const NoContainerAnnotation = "noContainer"

// Activation is the record of one run of an action, trigger or sequence.
type Activation struct {
	Namespace    string    `json:"namespace"`
	Name         string    `json:"name"`
	Version      string    `json:"version"`
	Subject      string    `json:"subject"`
	ActivationID string    `json:"activationId"`
	Start        int64     `json:"start"`
	End          int64     `json:"end"`
	Duration     int64     `json:"duration"`
	StatusCode   int       `json:"statusCode"`
	Cause        string    `json:"cause,omitempty"`
	Response     Response  `json:"response"`
	Logs         []string  `json:"logs"`
	Annotations  KeyValues `json:"annotations"`
	Publish      bool      `json:"publish"`
}

// Response is an activation's outcome.
type Response struct {
	StatusCode int             `json:"statusCode"`
	Result     json.RawMessage `json:"result,omitempty"`
	Size       int             `json:"size,omitempty"`
}

// ErrorResult is the result of an activation that failed with msg:
// {"error": msg}, as OpenWhisk writes it.
func ErrorResult(msg string) json.RawMessage {
	b, _ := json.Marshal(map[string]string{"error": msg})
	return b
}

type activationJSON Activation

// MarshalJSON writes OpenWhisk's extended form (WhiskActivation
// .toExtendedJson): response with "status", "success", "result" and "size"
// (the result's bytes), no "statusCode" anywhere, and no "end" or
// "duration" when End is zero (trigger records). Every activation's record
// is written so, by hand: reflection cost more than its bytes.
func (a Activation) MarshalJSON() ([]byte, error) {
	return a.AppendJSON(make([]byte, 0, 512+len(a.Response.Result)))
}

// AppendJSON appends MarshalJSON's form of a to dst. It fails, and dst is
// to be dropped, when the result or an annotation is not valid JSON.
func (a *Activation) AppendJSON(dst []byte) ([]byte, error) {
	var err error
	dst = append(dst, '{')
	dst = jsonbuf.KeyString(dst, "namespace", a.Namespace)
	dst = jsonbuf.KeyString(dst, "name", a.Name)
	dst = jsonbuf.KeyString(dst, "version", a.Version)
	dst = jsonbuf.KeyString(dst, "subject", a.Subject)
	dst = jsonbuf.KeyString(dst, "activationId", a.ActivationID)
	dst = jsonbuf.KeyInt(dst, "start", a.Start)
	if a.Cause != "" {
		dst = jsonbuf.KeyString(dst, "cause", a.Cause)
	}
	dst = jsonbuf.KeyBool(dst, "publish", a.Publish)
	if a.End != 0 {
		dst = jsonbuf.KeyInt(dst, "end", a.End)
		dst = jsonbuf.KeyInt(dst, "duration", a.Duration)
	}
	dst = jsonbuf.Key(dst, "response")
	dst = append(dst, '{')
	dst = jsonbuf.KeyString(dst, "status", StatusName(a.Response.StatusCode))
	dst = jsonbuf.KeyBool(dst, "success", a.Response.StatusCode == StatusSuccess)
	if len(a.Response.Result) > 0 {
		dst = jsonbuf.Key(dst, "result")
		if dst, err = jsonbuf.Raw(dst, a.Response.Result); err != nil {
			return nil, fmt.Errorf("activation %s: result: %w", a.ActivationID, err)
		}
	}
	size := a.Response.Size
	if size == 0 {
		size = len(a.Response.Result)
	}
	if size != 0 {
		dst = jsonbuf.KeyInt(dst, "size", int64(size))
	}
	dst = append(dst, '}')
	dst = jsonbuf.Key(dst, "logs")
	dst = append(dst, '[')
	for i, line := range a.Logs {
		if i > 0 {
			dst = append(dst, ',')
		}
		dst = jsonbuf.String(dst, line)
	}
	dst = append(dst, ']')
	dst = jsonbuf.Key(dst, "annotations")
	if dst, err = a.Annotations.AppendJSON(dst); err != nil {
		return nil, fmt.Errorf("activation %s: %w", a.ActivationID, err)
	}
	return append(dst, '}'), nil
}

// UnmarshalJSON reads the form MarshalJSON writes, and the older form
// with "statusCode" in response.
func (a *Activation) UnmarshalJSON(b []byte) error {
	var v struct {
		activationJSON
		Response struct {
			Response
			StatusCode *int   `json:"statusCode"`
			Status     string `json:"status"`
		} `json:"response"`
	}
	if err := json.Unmarshal(b, &v); err != nil {
		return err
	}
	*a = Activation(v.activationJSON)
	a.Response = v.Response.Response
	switch {
	case v.Response.StatusCode != nil:
		a.Response.StatusCode = *v.Response.StatusCode
	case v.Response.Status != "":
		a.Response.StatusCode = StatusInternalError
		for i, name := range statusNames {
			if name == v.Response.Status {
				a.Response.StatusCode = i
			}
		}
	default: // a list summary: statusCode at the top only
		a.Response.StatusCode = a.StatusCode
	}
	a.StatusCode = a.Response.StatusCode
	return nil
}

// Summary is an activation as lists show it without docs: no response
// result and no logs.
type Summary struct {
	Namespace    string    `json:"namespace"`
	Name         string    `json:"name"`
	Version      string    `json:"version"`
	Subject      string    `json:"subject"`
	ActivationID string    `json:"activationId"`
	Start        int64     `json:"start"`
	End          int64     `json:"end,omitempty"`
	Duration     int64     `json:"duration,omitempty"`
	Cause        string    `json:"cause,omitempty"`
	StatusCode   int       `json:"statusCode"`
	Annotations  KeyValues `json:"annotations"`
	Publish      bool      `json:"publish"`
}

// Summary returns the list form of a.
func (a *Activation) Summary() Summary {
	s := Summary{
		Namespace: a.Namespace, Name: a.Name, Version: a.Version, Subject: a.Subject,
		ActivationID: a.ActivationID, Start: a.Start, Cause: a.Cause,
		StatusCode: a.Response.StatusCode, Annotations: a.Annotations, Publish: a.Publish,
	}
	if a.End != 0 {
		s.End, s.Duration = a.End, a.Duration
	}
	if s.Annotations == nil {
		s.Annotations = KeyValues{}
	}
	return s
}

// IsTrigger reports whether a is a trigger activation: the record of a
// stored event, which ran nothing itself, so it has neither an action kind
// nor an end.
func (a *Activation) IsTrigger() bool {
	return !a.Annotations.Has("kind") && a.End == 0
}

// Path is the activation's entity path without the namespace: "name" or
// "pkg/name", taken from its "path" annotation.
func (a *Activation) Path() string {
	if p, ok := a.Annotations.String("path"); ok {
		if _, rest, found := cutFirst(p); found {
			return rest
		}
	}
	return a.Name
}

func cutFirst(p string) (string, string, bool) {
	for i := 0; i < len(p); i++ {
		if p[i] == '/' {
			return p[:i], p[i+1:], true
		}
	}
	return p, "", false
}
