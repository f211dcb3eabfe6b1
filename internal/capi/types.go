package capi

import (
	"fmt"
	"strings"

	"modernc.org/cc/v4"
)

// Func is one declaration or definition of a function, as cc/v4 typed it.
type Func struct {
	Name     string
	File     string // tree-relative file of the declarator
	Line     int
	Def      bool // a definition (has a body)
	Static   bool
	Inline   bool
	Result   string   // canonical type of the result
	Params   []string // canonical parameter types ((void) is none)
	Names    []string // parameter names ("" when unnamed)
	Variadic bool
}

// Signature is the canonical "result name(params)" string.
func (f *Func) Signature() string {
	ps := append([]string(nil), f.Params...)
	if f.Variadic {
		ps = append(ps, "...")
	}
	return fmt.Sprintf("%s %s(%s)", f.Result, f.Name, strings.Join(ps, ", "))
}

func (f *Func) where() string { return fmt.Sprintf("%s:%d", f.File, f.Line) }

// funcs returns every function declarator at file scope of ast whose
// file (after mapping) satisfies keep.
func (u *unit) funcs(ast *cc.AST, keep func(file string) bool) []*Func {
	var out []*Func
	add := func(d *cc.Declarator, def bool) {
		if d == nil {
			return
		}
		ft, ok := d.Type().(*cc.FunctionType)
		if !ok {
			return
		}
		file, line := u.pos(d.Position().Line)
		if !keep(file) {
			return
		}
		f := &Func{Name: d.Name(), File: file, Line: line, Def: def, Static: d.IsStatic(), Inline: d.IsInline(),
			Result: canon(ft.Result()), Variadic: ft.IsVariadic()}
		ps := ft.Parameters()
		if len(ps) == 1 && ps[0].Type().Kind() == cc.Void && ps[0].Name() == "" {
			ps = nil
		}
		for _, p := range ps {
			f.Params = append(f.Params, canonParam(p.Type()))
			f.Names = append(f.Names, p.Name())
		}
		out = append(out, f)
	}
	for l := ast.TranslationUnit; l != nil; l = l.TranslationUnit {
		ed := l.ExternalDeclaration
		if ed == nil {
			continue
		}
		switch ed.Case {
		case cc.ExternalDeclarationFuncDef:
			add(ed.FunctionDefinition.Declarator, true)
		case cc.ExternalDeclarationDecl:
			if ed.Declaration == nil {
				continue
			}
			for il := ed.Declaration.InitDeclaratorList; il != nil; il = il.InitDeclaratorList {
				if il.InitDeclarator != nil {
					add(il.InitDeclarator.Declarator, false)
				}
			}
		}
	}
	return out
}

// canonParam is the canonical type of a parameter: arrays and functions
// decay to pointers, top-level qualifiers do not count (C11 6.7.6.3p15).
func canonParam(t cc.Type) string {
	switch t.(type) {
	case *cc.ArrayType, *cc.FunctionType:
		t = t.Decay()
	}
	return canonQ(t, false)
}

// canon is the canonical string of a type: typedefs resolved, structs,
// unions and enums by tag, qualifiers kept.
func canon(t cc.Type) string { return canonQ(t, true) }

func canonQ(t cc.Type, quals bool) string {
	var b strings.Builder
	write(&b, t, quals, 0)
	return b.String()
}

func qual(b *strings.Builder, t cc.Type) {
	a := t.Attributes()
	if a.IsConst() {
		b.WriteString("const ")
	}
	if a.IsVolatile() {
		b.WriteString("volatile ")
	}
}

func write(b *strings.Builder, t cc.Type, quals bool, depth int) {
	if depth > 16 {
		b.WriteString("…")
		return
	}
	if t == nil {
		b.WriteString("<nil>")
		return
	}
	switch x := t.(type) {
	case *cc.PointerType:
		write(b, x.Elem(), true, depth+1)
		b.WriteString(" *")
		if quals && x.Attributes().IsConst() {
			b.WriteString("const")
		}
	case *cc.StructType:
		if quals {
			qual(b, t)
		}
		b.WriteString("struct " + tagOr(x.Tag(), x))
	case *cc.UnionType:
		if quals {
			qual(b, t)
		}
		b.WriteString("union " + tagOr(x.Tag(), x))
	case *cc.EnumType:
		if quals {
			qual(b, t)
		}
		b.WriteString("enum " + tagOr(x.Tag(), x))
	case *cc.ArrayType:
		write(b, x.Elem(), true, depth+1)
		if x.IsVLA() || x.Len() < 0 {
			b.WriteString("[]")
		} else {
			fmt.Fprintf(b, "[%d]", x.Len())
		}
	case *cc.FunctionType:
		write(b, x.Result(), true, depth+1)
		b.WriteString(" (")
		ps := x.Parameters()
		if len(ps) == 1 && ps[0].Type().Kind() == cc.Void && ps[0].Name() == "" {
			ps = nil
		}
		for i, p := range ps {
			if i > 0 {
				b.WriteString(", ")
			}
			b.WriteString(canonParam(p.Type()))
		}
		if x.IsVariadic() {
			b.WriteString(", ...")
		}
		b.WriteString(")")
	case *cc.InvalidType:
		b.WriteString("<invalid>")
	default:
		if quals {
			qual(b, t)
		}
		b.WriteString(t.Kind().String())
	}
}

func tagOr(tok cc.Token, t cc.Type) string {
	if s := tok.SrcStr(); s != "" {
		return s
	}
	if td := t.Typedef(); td != nil {
		return "<anonymous " + td.Name() + ">"
	}
	return "<anonymous>"
}
