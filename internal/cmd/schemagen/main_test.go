package main

import (
	"bytes"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"github.com/vektah/gqlparser/v2"
	"github.com/vektah/gqlparser/v2/ast"
)

// TestCommittedSchemaIsFresh fails when schema/wxid.graphql does not match
// graph/*.graphqls: run `go generate` (or `go run ./internal/cmd/schemagen`).
func TestCommittedSchemaIsFresh(t *testing.T) {
	root, err := findRoot()
	if err != nil {
		t.Fatal(err)
	}
	out := filepath.Join(t.TempDir(), "wxid.graphql")
	if err := run(root, defaultSchema, out); err != nil {
		t.Fatal(err)
	}
	fresh, err := os.ReadFile(out)
	if err != nil {
		t.Fatal(err)
	}
	committed, err := os.ReadFile(filepath.Join(root, defaultOut))
	if err != nil {
		t.Fatalf("%v: run `go run ./internal/cmd/schemagen` from the repository root", err)
	}
	if !bytes.Equal(fresh, committed) {
		t.Fatalf("%s is stale: run `go run ./internal/cmd/schemagen` from the repository root (or go generate)\n%s",
			defaultOut, firstDiff(string(committed), string(fresh)))
	}
}

// TestGeneratedSchema checks the output is a valid, self-contained schema
// without gqlgen's Go directives, keeps @admin, and is deterministic.
func TestGeneratedSchema(t *testing.T) {
	root, err := findRoot()
	if err != nil {
		t.Fatal(err)
	}
	a, err := Generate(root, defaultSchema)
	if err != nil {
		t.Fatal(err)
	}
	b, err := Generate(root, defaultSchema)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(a, b) {
		t.Fatal("output is not deterministic")
	}
	sdl := string(a)
	for _, bad := range []string{"@goField", "@goModel", "@goTag", "@goExtraField", "@goEnum"} {
		if strings.Contains(sdl, bad) {
			t.Errorf("output contains %s", bad)
		}
	}
	for _, want := range []string{"directive @admin on FIELD_DEFINITION", "type Query", "type Mutation", "scalar Time"} {
		if !strings.Contains(sdl, want) {
			t.Errorf("output lacks %q", want)
		}
	}
	s, err := gqlparser.LoadSchema(&ast.Source{Name: defaultOut, Input: sdl})
	if err != nil {
		t.Fatalf("output does not load as a schema: %v", err)
	}
	for typ, fields := range map[string][]string{
		"Query":    {"me", "node", "users"},
		"Mutation": {"login", "refreshSession", "decryptPhoneNumber", "logout"},
	} {
		def := s.Types[typ]
		if def == nil {
			t.Fatalf("no type %s", typ)
		}
		for _, f := range fields {
			if def.Fields.ForName(f) == nil {
				t.Errorf("%s.%s missing", typ, f)
			}
		}
	}
}

func TestStripGoDirectives(t *testing.T) {
	s, err := gqlparser.LoadSchema(&ast.Source{Name: "t.graphqls", Input: `
directive @goField(forceResolver: Boolean, name: String) on FIELD_DEFINITION | INPUT_FIELD_DEFINITION
directive @goModel(model: String) on OBJECT | INPUT_OBJECT | SCALAR | ENUM | INTERFACE
directive @admin on FIELD_DEFINITION
type Query @goModel(model: "x.Q") { a(x: Int): Int @goField(name: "A") @admin  google: Int }
input I { f: Int @goField(name: "F") }
`})
	if err != nil {
		t.Fatal(err)
	}
	stripGoDirectives(s)
	if s.Directives["goField"] != nil || s.Directives["goModel"] != nil || s.Directives["admin"] == nil {
		t.Fatalf("directive definitions: %v", s.Directives)
	}
	q := s.Types["Query"]
	if len(q.Directives) != 0 {
		t.Errorf("Query keeps %v", q.Directives)
	}
	if ds := q.Fields.ForName("a").Directives; len(ds) != 1 || ds[0].Name != "admin" {
		t.Errorf("Query.a directives: %v", ds)
	}
	if ds := s.Types["I"].Fields.ForName("f").Directives; len(ds) != 0 {
		t.Errorf("I.f directives: %v", ds)
	}
}

func firstDiff(a, b string) string {
	al, bl := strings.Split(a, "\n"), strings.Split(b, "\n")
	for i := 0; i < len(al) || i < len(bl); i++ {
		var x, y string
		if i < len(al) {
			x = al[i]
		}
		if i < len(bl) {
			y = bl[i]
		}
		if x != y {
			return "first difference at line " + strconv.Itoa(i+1) + ":\n  committed: " + x + "\n  generated: " + y
		}
	}
	return ""
}
