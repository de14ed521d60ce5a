package main

import (
	"bytes"
	"fmt"
	"go/ast"
	"go/format"
	"go/parser"
	"go/token"
	"os"
	"path"
	"path/filepath"
	"slices"
	"sort"
	"strconv"
	"strings"
)

// A placed todo is where a todo's comment landed in the workspace.
type placed struct {
	todo
	File string // the file's name in the step folder
	Line int    // the line of "TODO(stepNN):" in it
}

// An edit replaces the bytes from start to end of a file's source.
type edit struct {
	start, end  int
	replacement string
	todo        todo
	marker      string // the first line of the TODO comment, to find it again after gofmt
}

// scaffold reads the step's program in dir (its Go files, not its tests)
// and returns the workspace's files, by name: the same program, with each
// of the lesson's pieces replaced by a TODO(name) comment and a stub. It
// fails, naming the piece, when the program has no such function, variable
// or line.
func scaffold(dir, name string, l lesson) (map[string][]byte, []placed, error) {
	paths, err := filepath.Glob(filepath.Join(dir, "*.go"))
	if err != nil {
		return nil, nil, err
	}
	fset := token.NewFileSet()
	sources := map[string][]byte{}
	files := map[string]*ast.File{}
	for _, p := range paths {
		base := filepath.Base(p)
		if strings.HasSuffix(base, "_test.go") {
			continue
		}
		src, err := os.ReadFile(p)
		if err != nil {
			return nil, nil, err
		}
		f, err := parser.ParseFile(fset, base, src, parser.ParseComments)
		if err != nil {
			return nil, nil, err
		}
		sources[base], files[base] = src, f
	}
	if len(sources) == 0 {
		return nil, nil, fmt.Errorf("%s holds no Go program", dir)
	}

	edits := map[string][]edit{}
	for _, t := range l {
		file, e, err := locate(fset, files, sources, name, t)
		if err != nil {
			return nil, nil, fmt.Errorf("%s: %w (the lesson in internal/workspace/%s.go names it: was it renamed?)", dir, err, name)
		}
		for _, other := range edits[file] {
			if e.start < other.end && other.start < e.end {
				return nil, nil, fmt.Errorf("%s: %s and %s overlap", dir, describe(t), describe(other.todo))
			}
		}
		edits[file] = append(edits[file], e)
	}

	out := map[string][]byte{}
	var all []placed
	for file, src := range sources {
		if len(edits[file]) == 0 {
			out[file] = src
			continue
		}
		result, err := apply(src, edits[file])
		if err != nil {
			return nil, nil, fmt.Errorf("%s/%s with the lesson's code taken out: %w", dir, file, err)
		}
		out[file] = result
		lines := strings.Split(string(result), "\n")
		for _, e := range edits[file] {
			n := slices.IndexFunc(lines, func(line string) bool { return strings.TrimSpace(line) == e.marker })
			all = append(all, placed{todo: e.todo, File: file, Line: n + 1})
		}
	}
	// In the lesson's order, which is the order to write them in.
	sort.SliceStable(all, func(i, j int) bool { return indexOf(l, all[i].todo) < indexOf(l, all[j].todo) })
	return out, all, nil
}

func indexOf(l lesson, t todo) int {
	return slices.IndexFunc(l, func(u todo) bool { return u.Func == t.Func && u.Line == t.Line })
}

// describe names a todo's piece as an error message does.
func describe(t todo) string {
	if t.Line != "" {
		return fmt.Sprintf("the line %q in %s", t.Line, t.Func)
	}
	if strings.HasPrefix(t.Func, "var ") {
		return t.Func
	}
	return "func " + t.Func
}

// locate finds a todo's piece in the program and returns the file it is in
// and the edit that replaces it.
func locate(fset *token.FileSet, files map[string]*ast.File, sources map[string][]byte, name string, t todo) (string, edit, error) {
	var found []string
	var e edit
	for file, f := range files {
		src := sources[file]
		for _, decl := range f.Decls {
			var err error
			ok := false
			switch d := decl.(type) {
			case *ast.FuncDecl:
				if funcName(d) == t.Func {
					ok = true
					e, err = replaceInFunc(fset, src, d, name, t)
				}
			case *ast.GenDecl:
				for _, spec := range d.Specs {
					if v, isVar := spec.(*ast.ValueSpec); isVar && slices.ContainsFunc(v.Names, func(n *ast.Ident) bool { return "var "+n.Name == t.Func }) {
						ok = true
						e, err = replaceValue(fset, src, v, name, t)
					}
				}
			}
			if err != nil {
				return "", edit{}, err
			}
			if ok {
				found = append(found, file)
			}
		}
	}
	switch len(found) {
	case 0:
		return "", edit{}, fmt.Errorf("there is no %s", describe(t))
	case 1:
		return found[0], e, nil
	}
	return "", edit{}, fmt.Errorf("%s is in %s: name one", describe(t), strings.Join(found, " and "))
}

// funcName is how a todo names a function: "name", or "(*T).name".
func funcName(d *ast.FuncDecl) string {
	if d.Recv == nil || len(d.Recv.List) == 0 {
		return d.Name.Name
	}
	var recv bytes.Buffer
	if err := format.Node(&recv, token.NewFileSet(), d.Recv.List[0].Type); err != nil {
		return d.Name.Name
	}
	return "(" + recv.String() + ")." + d.Name.Name
}

// replaceInFunc replaces the function's body, or the line t names in it.
func replaceInFunc(fset *token.FileSet, src []byte, d *ast.FuncDecl, name string, t todo) (edit, error) {
	if d.Body == nil {
		return edit{}, fmt.Errorf("func %s has no body", t.Func)
	}
	comment := todoComment(name, t)
	if t.Line == "" {
		// Everything between the braces, comments included.
		start, end := fset.Position(d.Body.Lbrace).Offset+1, fset.Position(d.Body.Rbrace).Offset
		body := "\n" + indent(comment, "\t") + indent(t.Stub, "\t")
		return edit{start: start, end: end, replacement: body, todo: t, marker: firstLine(comment)}, nil
	}
	var target ast.Node
	ast.Inspect(d.Body, func(n ast.Node) bool {
		if target != nil || n == nil {
			return false
		}
		_, isStmt := n.(ast.Stmt)
		_, isElement := n.(*ast.KeyValueExpr)
		if (isStmt || isElement) && strings.HasPrefix(lineText(fset, src, n.Pos()), t.Line) {
			target = n
			return false
		}
		return true
	})
	if target == nil {
		return edit{}, fmt.Errorf("func %s has no line that begins %q", t.Func, t.Line)
	}
	// Whole lines: from the start of the first to the end of the last.
	start := lineStart(src, fset.Position(target.Pos()).Offset)
	end := lineEnd(src, fset.Position(target.End()).Offset)
	lead := string(src[start:fset.Position(target.Pos()).Offset])
	return edit{start: start, end: end, replacement: indent(comment, lead) + indent(t.Stub, lead), todo: t, marker: firstLine(comment)}, nil
}

// replaceValue replaces a package variable's value, and puts the TODO
// comment above its line.
func replaceValue(fset *token.FileSet, src []byte, v *ast.ValueSpec, name string, t todo) (edit, error) {
	if len(v.Values) != 1 || len(v.Names) != 1 {
		return edit{}, fmt.Errorf("%s: only a variable declared alone, with one value, can be a todo", t.Func)
	}
	if t.Line != "" || t.Stub == "" {
		return edit{}, fmt.Errorf("%s: a variable's todo has a Stub, its value, and no Line", t.Func)
	}
	start := lineStart(src, fset.Position(v.Pos()).Offset)
	valueStart, valueEnd := fset.Position(v.Values[0].Pos()).Offset, fset.Position(v.Values[0].End()).Offset
	comment := todoComment(name, t)
	// Whatever lies between the line's start and the value is kept.
	replacement := indent(comment, "") + string(src[start:valueStart]) + t.Stub
	return edit{start: start, end: valueEnd, replacement: replacement, todo: t, marker: firstLine(comment)}, nil
}

// apply makes the edits, last first so that earlier offsets still hold,
// and drops the imports the result no longer uses. It does not run gofmt
// on the result: every line the lesson does not touch stays as it is in
// the step, so that diff -u shows the lesson's pieces and nothing else.
func apply(src []byte, edits []edit) ([]byte, error) {
	sorted := slices.Clone(edits)
	sort.Slice(sorted, func(i, j int) bool { return sorted[i].start > sorted[j].start })
	out := slices.Clone(src)
	for _, e := range sorted {
		out = append(out[:e.start:e.start], append([]byte(e.replacement), out[e.end:]...)...)
	}
	return dropUnusedImports(out)
}

// dropUnusedImports removes the imports a file no longer uses: code that
// was taken out may have been the only user of a package, and Go refuses
// an unused import.
func dropUnusedImports(src []byte) ([]byte, error) {
	fset := token.NewFileSet()
	f, err := parser.ParseFile(fset, "", src, parser.ParseComments)
	if err != nil {
		return nil, err
	}
	used := map[string]bool{}
	ast.Inspect(f, func(n ast.Node) bool {
		if sel, ok := n.(*ast.SelectorExpr); ok {
			if x, ok := sel.X.(*ast.Ident); ok {
				used[x.Name] = true
			}
		}
		return true
	})
	type span struct{ start, end int }
	var unused []span
	for _, decl := range f.Decls {
		d, ok := decl.(*ast.GenDecl)
		if !ok || d.Tok != token.IMPORT {
			continue
		}
		for _, spec := range d.Specs {
			s := spec.(*ast.ImportSpec)
			if used[importName(s)] {
				continue
			}
			var node ast.Node = s
			if !d.Lparen.IsValid() {
				node = d // import "x", alone: the whole declaration goes
			}
			unused = append(unused, span{lineStart(src, fset.Position(node.Pos()).Offset), lineEnd(src, fset.Position(node.End()).Offset)})
		}
	}
	out := slices.Clone(src)
	for i := len(unused) - 1; i >= 0; i-- {
		out = append(out[:unused[i].start], out[unused[i].end:]...)
	}
	return out, nil
}

// importName is the name an import is used by: the one given, or the
// last element of its path that is not a major version (v2, …).
func importName(s *ast.ImportSpec) string {
	if s.Name != nil {
		if s.Name.Name == "_" || s.Name.Name == "." {
			return s.Name.Name + "used" // never dropped
		}
		return s.Name.Name
	}
	p, _ := strconv.Unquote(s.Path.Value)
	base := path.Base(p)
	if len(base) > 1 && base[0] == 'v' && strings.Trim(base[1:], "0123456789") == "" {
		base = path.Base(path.Dir(p))
	}
	return base
}

// todoComment is the TODO comment for a piece: the hint, the man pages
// and the tests, as // lines.
func todoComment(name string, t todo) string {
	var b strings.Builder
	for _, line := range wrap("TODO("+name+"): "+t.Hint, 76) {
		b.WriteString("// " + line + "\n")
	}
	if len(t.Man) > 0 {
		var pages []string
		for _, m := range t.Man {
			pages = append(pages, "man "+m)
		}
		for _, line := range wrap("Read: "+strings.Join(pages, ", ")+".", 76) {
			b.WriteString("// " + line + "\n")
		}
	}
	if t.Tests != "" {
		for _, line := range wrap("Judged by: "+t.Tests+".", 76) {
			b.WriteString("// " + line + "\n")
		}
	}
	return b.String()
}

// wrap breaks text into lines of at most width bytes, between words.
func wrap(text string, width int) []string {
	var lines []string
	line := ""
	for _, word := range strings.Fields(text) {
		if line != "" && len(line)+1+len(word) > width {
			lines = append(lines, line)
			line = ""
		}
		if line != "" {
			line += " "
		}
		line += word
	}
	return append(lines, line)
}

// indent puts prefix before each line of text, and ends it with a newline.
func indent(text, prefix string) string {
	if text == "" {
		return ""
	}
	var b strings.Builder
	for _, line := range strings.Split(strings.TrimSuffix(text, "\n"), "\n") {
		if line != "" {
			b.WriteString(prefix)
		}
		b.WriteString(line + "\n")
	}
	return b.String()
}

func firstLine(text string) string {
	line, _, _ := strings.Cut(text, "\n")
	return line
}

// lineText is the text of the line pos is on, from pos to the end, when
// only blanks come before pos on it; else "".
func lineText(fset *token.FileSet, src []byte, pos token.Pos) string {
	offset := fset.Position(pos).Offset
	start := lineStart(src, offset)
	if strings.TrimSpace(string(src[start:offset])) != "" {
		return ""
	}
	return strings.TrimRight(string(src[offset:lineEnd(src, offset)]), "\n")
}

// lineStart is the offset of the start of the line offset is on.
func lineStart(src []byte, offset int) int {
	return bytes.LastIndexByte(src[:offset], '\n') + 1
}

// lineEnd is the offset just past the newline that ends the line offset
// is on (or of the end of src).
func lineEnd(src []byte, offset int) int {
	if i := bytes.IndexByte(src[offset:], '\n'); i >= 0 {
		return offset + i + 1
	}
	return len(src)
}
