package actions

import (
	"encoding/base64"
	"encoding/json"
	"fmt"
	"github.com/distribution/reference"
	"regexp"
	"strings"
)

// Exec says what an action runs: code of a runtime kind, a blackbox image,
// or a sequence of other actions.
type Exec struct {
	Kind       string
	Code       string
	Image      string
	Main       string
	Binary     bool
	Components []string // fully qualified, for sequences
}

// MarshalJSON writes OpenWhisk's form: code kinds {kind, code, binary,
// main?}; blackbox {kind, image, binary, code?, main?}; sequence {kind,
// components}. An empty Code is left out (as with ?code=false).
func (e Exec) MarshalJSON() ([]byte, error) {
	type codeExec struct {
		Kind   string `json:"kind"`
		Image  string `json:"image,omitempty"`
		Code   string `json:"code,omitempty"`
		Binary bool   `json:"binary"`
		Main   string `json:"main,omitempty"`
	}
	if e.Kind == KindSequence {
		return json.Marshal(struct {
			Kind       string   `json:"kind"`
			Components []string `json:"components"`
		}{e.Kind, nonNil(e.Components)})
	}
	return json.Marshal(codeExec{Kind: e.Kind, Image: e.Image, Code: e.Code, Binary: e.Binary, Main: e.Main})
}

// UnmarshalJSON reads OpenWhisk's form, rejecting wrong field types.
func (e *Exec) UnmarshalJSON(b []byte) error {
	var raw struct {
		Kind       *string   `json:"kind"`
		Code       *string   `json:"code"`
		Jar        *string   `json:"jar"`
		Image      *string   `json:"image"`
		Main       *string   `json:"main"`
		Binary     *bool     `json:"binary"`
		Components *[]string `json:"components"`
	}
	if err := json.Unmarshal(b, &raw); err != nil {
		return err
	}
	*e = Exec{}
	if raw.Kind == nil {
		return fmt.Errorf("exec: kind is required")
	}
	e.Kind = strings.ToLower(strings.TrimSpace(*raw.Kind))
	if raw.Code != nil {
		e.Code = *raw.Code
	} else if raw.Jar != nil {
		e.Code = *raw.Jar
	}
	if raw.Image != nil {
		e.Image = *raw.Image
	}
	if raw.Main != nil {
		e.Main = *raw.Main
	}
	if raw.Binary != nil {
		e.Binary = *raw.Binary
	}
	if raw.Components != nil {
		e.Components = *raw.Components
	}
	return nil
}

var base64Rule = regexp.MustCompile(`^([A-Za-z0-9+/]{4})*([A-Za-z0-9+/]{4}|[A-Za-z0-9+/]{3}=|[A-Za-z0-9+/]{2}==)$`)

// IsBinaryCode reports whether code is base64 (a zip or other binary), the
// way OpenWhisk decides the computed "binary" field.
func IsBinaryCode(code string) bool {
	c := strings.TrimSpace(code)
	return c != "" && len(c)%4 == 0 && base64Rule.MatchString(c)
}

// normalize checks an exec from a PUT request against the manifest, resolves
// its kind and fully qualifies sequence components relative to namespace ns.
func (e Exec) normalize(m *Manifest, ns string) (Exec, error) {
	switch e.Kind {
	case KindSequence:
		if len(e.Components) == 0 {
			return Exec{}, Invalidf("No component specified for the sequence.")
		}
		if len(e.Components) > MaxSequenceLength {
			return Exec{}, Invalidf("Too many actions in the sequence.")
		}
		out := Exec{Kind: KindSequence, Components: make([]string, len(e.Components))}
		for i, c := range e.Components {
			n, err := ParseName(c, ns)
			if err != nil {
				return Exec{}, err
			}
			out.Components[i] = n.String()
		}
		return out, nil
	case KindBlackbox:
		if strings.TrimSpace(e.Image) == "" {
			return Exec{}, Invalidf("The request content was malformed:\nexec of kind 'blackbox' requires an image")
		}
		if _, err := reference.ParseNormalizedNamed(e.Image); err != nil {
			return Exec{}, Invalidf("The request content was malformed:\nexec of kind 'blackbox': the image %q is not a Docker image reference such as 'user/image:tag' (%v)", e.Image, err)
		}
		e.Binary = e.Code != "" && IsBinaryCode(e.Code)
		e.Components = nil
		return e, nil
	}
	r, err := m.Resolve(e.Kind)
	if err != nil {
		return Exec{}, err
	}
	if e.Code == "" {
		return Exec{}, Invalidf("The request content was malformed:\nexec of kind '%s' requires code", r.Kind)
	}
	if len(e.Code) > MaxCodeBytes {
		return Exec{}, &SizeError{Field: "exec", Size: len(e.Code), Limit: MaxCodeBytes}
	}
	// A zip's base64 may come wrapped in lines (base64(1) wraps at 76), and
	// it is still a zip: the proxy skips the line breaks as it decodes.
	unwrapped := strings.NewReplacer("\n", "", "\r", "").Replace(e.Code)
	binary := IsBinaryCode(unwrapped)
	if binary && r.Family != "native" && !isZip(unwrapped) {
		return Exec{}, Invalidf("The request content was malformed:\nthe code of a %s action reads as base64 (binary) but is not a zip archive: send a zip of the action's files, or its source as text (source of only letters, digits, + and /, a multiple of 4 long, reads as base64: add a comment).", r.Kind)
	}
	return Exec{Kind: r.Kind, Code: e.Code, Main: e.Main, Binary: binary}, nil
}

// isZip reports whether code, base64, starts as a zip archive does: what
// the action proxy extracts. Any other binary it runs as an executable,
// which only a native action is; an interpreter would read it as source
// and print it back in a syntax error.
func isZip(code string) bool {
	c := strings.TrimSpace(code)
	head, err := base64.StdEncoding.DecodeString(c[:min(len(c), 8)])
	return err == nil && strings.HasPrefix(string(head), "PK\x03\x04")
}

func nonNil(s []string) []string {
	if s == nil {
		return []string{}
	}
	return s
}
