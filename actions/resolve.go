package actions

import (
	"context"
	"errors"
)

// ErrForbidden means the caller's namespace may not see the entity: it
// belongs to another namespace and is not in a published package.
var ErrForbidden = errors.New("forbidden")

// Getter reads actions and packages.
type Getter interface {
	GetAction(ctx context.Context, n Name, withCode bool) (*Action, uint64, error)
	GetPackage(ctx context.Context, n Name) (*Package, uint64, error)
}

// Resolve finds the action named n for a caller in namespace caller, as an
// invocation sees it: an action in a binding is the bound package's action,
// and its parameters are package ⊕ binding ⊕ action, later ones winning. An
// action reached through a binding carries the "binding" annotation. Entities
// of other namespaces are visible only through published packages
// (ErrForbidden otherwise).
func Resolve(ctx context.Context, g Getter, n Name, caller string, withCode bool) (*Action, error) {
	if n.Package == "" {
		if n.Namespace != caller {
			return nil, ErrForbidden
		}
		a, _, err := g.GetAction(ctx, n, withCode)
		return a, err
	}
	pkg, err := visiblePackage(ctx, g, Name{Namespace: n.Namespace, Name: n.Package}, caller)
	if err != nil {
		return nil, err
	}
	params := pkg.Parameters
	target := Name{Namespace: n.Namespace, Package: n.Package, Name: n.Name}
	if pkg.Binding != nil {
		bound, err := visiblePackage(ctx, g, Name{Namespace: pkg.Binding.Namespace, Name: pkg.Binding.Name}, caller)
		if err != nil {
			return nil, err
		}
		if bound.Binding != nil {
			return nil, Invalidf("Cannot bind to another package binding.")
		}
		params = bound.Parameters.Merge(pkg.Parameters)
		target = Name{Namespace: bound.Namespace, Package: bound.Name, Name: n.Name}
	}
	a, _, err := g.GetAction(ctx, target, withCode)
	if err != nil {
		return nil, err
	}
	a.Parameters = params.Merge(a.Parameters)
	if pkg.Binding != nil {
		a.Annotations = a.Annotations.Set(BindingAnnotation, n.Namespace+"/"+n.Package)
	}
	return a, nil
}

// visiblePackage returns the package named n if caller may see it.
func visiblePackage(ctx context.Context, g Getter, n Name, caller string) (*Package, error) {
	p, _, err := g.GetPackage(ctx, n)
	if err != nil {
		if n.Namespace != caller {
			return nil, ErrForbidden // do not reveal what other namespaces have
		}
		return nil, err
	}
	if n.Namespace != caller && !p.Publish {
		return nil, ErrForbidden
	}
	return p, nil
}
