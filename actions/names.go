package actions

import (
	"fmt"
	"strings"
)

// MaxNameLength is the longest entity or namespace name OpenWhisk accepts.
const MaxNameLength = 256

// DefaultNamespace is the namespace "_" in a name or URL: the caller's own.
const DefaultNamespace = "_"

// SystemNamespace holds the built-in packages, such as the feed providers.
const SystemNamespace = "whisk.system"

// validName reports whether s follows OpenWhisk's rule for names, the
// regular expression ^([\w]|[\w][\w@ .-]*[\w@.-]+)$: word characters,
// and @ . - and spaces inside, the first a word character and the last not
// a space. Checked by hand: the regular expression cost a warm invoke 1%
// of gust serve's CPU (TestValidNameIsTheRule compares the two).
func validName(s string) bool {
	if s == "" || !wordByte(s[0]) {
		return false
	}
	for i := 1; i < len(s); i++ {
		switch c := s[i]; {
		case wordByte(c), c == '@', c == '.', c == '-':
		case c == ' ' && i < len(s)-1:
		default:
			return false
		}
	}
	return true
}

// wordByte reports whether c is in \w: [0-9A-Za-z_].
func wordByte(c byte) bool {
	return c >= '0' && c <= '9' || c >= 'A' && c <= 'Z' || c >= 'a' && c <= 'z' || c == '_'
}

// CheckName reports whether s is a valid entity name, with OpenWhisk's
// messages.
func CheckName(s string) error {
	if len(s) > MaxNameLength {
		return Invalidf("Entity name longer than allowed: %d > %d.", len(s), MaxNameLength)
	}
	if !validName(s) {
		return Invalidf("The name of the entity contains illegal characters.")
	}
	return nil
}

// CheckNamespace reports whether s is a valid namespace name.
func CheckNamespace(s string) error {
	if len(s) > MaxNameLength || !validName(s) {
		return Invalidf("The namespace contains illegal characters.")
	}
	return nil
}

// Name is an entity's fully qualified name: namespace, optional package, and
// name. Its String form is "/ns/pkg/name" or "/ns/name".
type Name struct {
	Namespace string
	Package   string
	Name      string
}

// String is the fully qualified form with a leading slash.
func (n Name) String() string {
	if n.Package != "" {
		return "/" + n.Namespace + "/" + n.Package + "/" + n.Name
	}
	return "/" + n.Namespace + "/" + n.Name
}

// Path is the entity's namespace path: "ns" or "ns/pkg", as OpenWhisk
// writes it in an entity's "namespace" field.
func (n Name) Path() string {
	if n.Package != "" {
		return n.Namespace + "/" + n.Package
	}
	return n.Namespace
}

// Local is the name inside the namespace: "pkg/name" or "name".
func (n Name) Local() string {
	if n.Package != "" {
		return n.Package + "/" + n.Name
	}
	return n.Name
}

// ParseName parses an entity name as OpenWhisk does: "/ns/name",
// "/ns/pkg/name", "name", "pkg/name" (relative to namespace ns), or
// "ns/pkg/name" (three parts need no leading slash). "_" as the namespace
// means ns. Every part is checked.
func ParseName(s, ns string) (Name, error) {
	var parts []string
	abs := strings.HasPrefix(s, "/")
	if abs {
		parts = strings.Split(s[1:], "/")
	} else {
		parts = strings.Split(s, "/")
	}
	var n Name
	switch {
	case abs && len(parts) == 2:
		n = Name{Namespace: parts[0], Name: parts[1]}
	case abs && len(parts) == 3, !abs && len(parts) == 3:
		n = Name{Namespace: parts[0], Package: parts[1], Name: parts[2]}
	case !abs && len(parts) == 1:
		n = Name{Namespace: ns, Name: parts[0]}
	case !abs && len(parts) == 2:
		n = Name{Namespace: ns, Package: parts[0], Name: parts[1]}
	default:
		return Name{}, Invalidf("The fully qualified name of the entity must contain at least the namespace and the name of the entity.")
	}
	if n.Namespace == DefaultNamespace {
		n.Namespace = ns
	}
	if err := CheckNamespace(n.Namespace); err != nil {
		return Name{}, err
	}
	if hasPkg := len(parts) == 3 || !abs && len(parts) == 2; hasPkg { // "ns//name" has an empty package, not none
		if err := CheckName(n.Package); err != nil {
			return Name{}, err
		}
	}
	if err := CheckName(n.Name); err != nil {
		return Name{}, err
	}
	return n, nil
}

// InvalidError reports input that breaks an entity's rules. Its message is
// meant for the user as it is.
type InvalidError struct{ Msg string }

func (e *InvalidError) Error() string { return e.Msg }

// Invalidf returns an *InvalidError with a formatted message.
func Invalidf(format string, args ...any) error {
	return &InvalidError{Msg: fmt.Sprintf(format, args...)}
}
