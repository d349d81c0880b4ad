package actions

import (
	"sort"
	"strings"
)

// Special exec kinds that are not language runtimes.
const (
	KindBlackbox = "blackbox"
	KindSequence = "sequence"
)

// Runtime describes one language runtime kind of the manifest.
type Runtime struct {
	// Kind is the full kind, e.g. "nodejs:20".
	Kind string
	// Family is the part before the colon, e.g. "nodejs".
	Family string
	// Default marks the kind "family:default" resolves to.
	Default bool
	// Deprecated kinds may be read and deleted but not created or updated.
	Deprecated bool
	// Extensions are the file extensions the CLI maps to this family.
	Extensions []string
	// StemCells is how many pre-warmed containers of DefaultMemoryMB the
	// invoker keeps for this kind.
	StemCells int
}

// Manifest is the set of runtime kinds Gust knows.
type Manifest struct {
	runtimes map[string]Runtime
}

// DefaultManifest is what Gust ships: the kinds it can build images for from
// the local toolchain, and OpenWhisk's retired kinds so that they are
// reported as deprecated rather than unknown.
func DefaultManifest() *Manifest {
	m := &Manifest{runtimes: map[string]Runtime{}}
	for _, r := range []Runtime{
		{Kind: "nodejs:20", Family: "nodejs", Default: true, Extensions: []string{".js", ".mjs", ".cjs"}, StemCells: 2},
		{Kind: "python:3", Family: "python", Default: true, Extensions: []string{".py"}},
		{Kind: "native", Family: "native"},
	} {
		m.runtimes[r.Kind] = r
	}
	for _, k := range []string{"nodejs", "nodejs:6", "nodejs:8", "nodejs:10", "nodejs:12", "nodejs:14", "nodejs:16", "python", "python:2", "python:3.6", "python:3.7"} {
		fam, _, _ := strings.Cut(k, ":")
		m.runtimes[k] = Runtime{Kind: k, Family: fam, Deprecated: true}
	}
	return m
}

// Resolve maps a requested kind to a runtime: it lower-cases and trims the
// kind and resolves "family:default". It returns an *InvalidError for
// unknown or deprecated kinds.
func (m *Manifest) Resolve(kind string) (Runtime, error) {
	k := strings.ToLower(strings.TrimSpace(kind))
	if fam, ok := strings.CutSuffix(k, ":default"); ok {
		for _, r := range m.runtimes {
			if r.Family == fam && r.Default {
				return r, nil
			}
		}
	}
	r, ok := m.runtimes[k]
	if !ok {
		return Runtime{}, Invalidf("The request content was malformed:\nkind '%s' is not supported; supported kinds are %s, blackbox and sequence.", kind, m.kindList())
	}
	if r.Deprecated {
		use := m.instead(r.Family)
		if !strings.Contains(r.Kind, ":") {
			return Runtime{}, Invalidf("The request content was malformed:\nkind '%s' needs a version: use %s.", r.Kind, use)
		}
		return Runtime{}, Invalidf("The '%s' runtime is no longer supported: use %s. An action of this kind may be read and deleted but not updated or invoked.", r.Kind, use)
	}
	return r, nil
}

// kindList names the supported kinds for a person, each default with its
// family:default alias: "native, nodejs:20 (or nodejs:default), ...".
func (m *Manifest) kindList() string {
	var names []string
	for _, r := range m.Runtimes() {
		name := r.Kind
		if r.Default {
			name += " (or " + r.Family + ":default)"
		}
		names = append(names, name)
	}
	return strings.Join(names, ", ")
}

// instead is the kind to use for family: its default, as "nodejs:20 (or
// nodejs:default)", else every supported kind.
func (m *Manifest) instead(family string) string {
	for _, r := range m.Runtimes() {
		if r.Family == family && r.Default {
			return r.Kind + " (or " + family + ":default)"
		}
	}
	return "one of " + m.kindList()
}

// Kinds lists the supported (not deprecated) runtime kinds, sorted.
func (m *Manifest) Kinds() []string {
	var ks []string
	for k, r := range m.runtimes {
		if !r.Deprecated {
			ks = append(ks, k)
		}
	}
	sort.Strings(ks)
	return ks
}

// Runtimes lists the supported runtimes, sorted by kind.
func (m *Manifest) Runtimes() []Runtime {
	var rs []Runtime
	for _, k := range m.Kinds() {
		rs = append(rs, m.runtimes[k])
	}
	return rs
}

// KindForFile returns the default kind for a code file's extension
// ("hello.js" → "nodejs:default"), or "" when the extension says nothing.
func (m *Manifest) KindForFile(name string) string {
	for _, r := range m.runtimes {
		for _, ext := range r.Extensions {
			if strings.HasSuffix(strings.ToLower(name), ext) {
				return r.Family + ":default"
			}
		}
	}
	return ""
}
