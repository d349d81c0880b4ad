package actions

import (
	"encoding/json"
	"errors"
	"time"
)

// Package groups actions and feeds and shares its parameters with them. A
// package with Binding set is a binding: a reference to another package
// that adds or overrides parameters.
type Package struct {
	Namespace   string    `json:"namespace"`
	Name        string    `json:"name"`
	Version     string    `json:"version"`
	Publish     bool      `json:"publish"`
	Binding     *Binding  `json:"-"`
	Annotations KeyValues `json:"annotations"`
	Parameters  KeyValues `json:"parameters"`
	Updated     int64     `json:"updated"`
}

// Binding names the package a binding refers to.
type Binding struct {
	Namespace string `json:"namespace"`
	Name      string `json:"name"`
}

type packageJSON Package

// MarshalJSON writes OpenWhisk's form, where a package that is not a binding
// has "binding": {}.
func (p Package) MarshalJSON() ([]byte, error) {
	var b any = struct{}{}
	if p.Binding != nil {
		b = p.Binding
	}
	return json.Marshal(struct {
		packageJSON
		Binding any `json:"binding"`
	}{packageJSON(p), b})
}

// UnmarshalJSON reads the form MarshalJSON writes.
func (p *Package) UnmarshalJSON(b []byte) error {
	var v struct {
		packageJSON
		Binding *Binding `json:"binding"`
	}
	if err := json.Unmarshal(b, &v); err != nil {
		return err
	}
	*p = Package(v.packageJSON)
	if v.Binding != nil && v.Binding.Name != "" {
		p.Binding = v.Binding
	}
	return nil
}

// BindingAnnotation is the annotation that holds a binding's {namespace,
// name}; on an action reached through a binding, it names the binding.
const BindingAnnotation = "binding"

// ErrPackageNotBinding means a PUT tried to turn a package into a binding.
var ErrPackageNotBinding = errors.New("a package cannot become a binding")

// IsBinding reports whether p is a package binding.
func (p *Package) IsBinding() bool { return p.Binding != nil }

// FullName is the package's fully qualified name.
func (p *Package) FullName() Name { return Name{Namespace: p.Namespace, Name: p.Name} }

// PackagePut is the body of PUT /packages/{name}.
type PackagePut struct {
	Binding     *BindingPut `json:"binding"`
	Parameters  *KeyValues  `json:"parameters"`
	Annotations *KeyValues  `json:"annotations"`
	Version     *string     `json:"version"`
	Publish     *bool       `json:"publish"`
}

// BindingPut is the binding of a PUT request; an empty object means none.
type BindingPut struct {
	Namespace string `json:"namespace"`
	Name      string `json:"name"`
}

// Apply builds the package that a PUT of p makes of current (nil when new)
// named n; it returns ErrPackageNotBinding when p would turn a package into
// a binding. The caller checks the bound package exists and is no binding.
// Binding namespaces "_" resolve to n's namespace.
func (p *PackagePut) Apply(current *Package, n Name, now time.Time) (Package, error) {
	var pkg Package
	if current != nil {
		pkg = *current
		pkg.Version = BumpVersion(current.Version)
	} else {
		pkg = Package{Version: InitialVersion}
	}
	if n.Name == "default" {
		return Package{}, Invalidf("Package name 'default' is reserved.")
	}
	pkg.Namespace, pkg.Name = n.Namespace, n.Name
	if p.Binding != nil && p.Binding.Name != "" {
		if current != nil && current.Binding == nil {
			return Package{}, ErrPackageNotBinding
		}
		ns := p.Binding.Namespace
		if ns == "" || ns == DefaultNamespace {
			ns = n.Namespace
		}
		if err := CheckNamespace(ns); err != nil {
			return Package{}, err
		}
		if err := CheckName(p.Binding.Name); err != nil {
			return Package{}, err
		}
		pkg.Binding = &Binding{Namespace: ns, Name: p.Binding.Name}
	}
	if err := PutKeyValues(p.Parameters, p.Annotations, &pkg.Parameters, &pkg.Annotations); err != nil {
		return Package{}, err
	}
	if p.Publish != nil {
		pkg.Publish = *p.Publish
	}
	if err := checkParameterSize(pkg.Parameters, "parameters"); err != nil {
		return Package{}, err
	}
	// As OpenWhisk, the server alone sets the "binding" annotation, so that
	// lists can tell bindings apart.
	pkg.Annotations = pkg.Annotations.Without(BindingAnnotation)
	if pkg.Binding != nil {
		pkg.Annotations = pkg.Annotations.Set(BindingAnnotation, *pkg.Binding)
	}
	pkg.Updated = now.UnixMilli()
	return pkg, nil
}
