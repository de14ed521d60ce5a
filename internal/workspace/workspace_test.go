package main

import (
	"go/parser"
	"go/token"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// These tests need neither Go nor the steps' sources, so they run in the
// cgroup v2 VM too. That every step's workspace builds is checked by
// `go run ./internal/workspace -check`, which make lint runs.

// program is a step's program, in small: a variable, a method, and
// statements and a composite literal's elements in a function.
const program = `package main

import (
	"fmt"
	"os"
	"strings"
)

// table maps names to numbers.
var table = map[string]int{
	"a": 1,
}

func main() {
	t := &thing{
		Name: "x",
		Root: "/",
	}
	if len(os.Args) > 1 {
		fmt.Println("arguments")
	}
	fmt.Println(t.size(), table)
}

type thing struct{ Name, Root string }

// size counts the words in the name.
func (t *thing) size() int {
	// a comment that goes with the body
	return len(strings.Fields(t.Name))
}
`

var fixture = lesson{
	{Func: "var table", What: "the table", Hint: "fill it in.", Man: []string{"7 table"}, Tests: "TestTable", Stub: "map[string]int{}"},
	{Func: "(*thing).size", What: "size", Hint: "count the words in t.Name, with strings.Fields.", Stub: "return 0"},
	{Func: "main", Line: `Root: "/"`, What: "the root", Hint: "give it a root."},
	{Func: "main", Line: "if len(os.Args) > 1 {", What: "the arguments", Hint: "say when there are arguments."},
}

func stepFolder(t *testing.T, src string) string {
	t.Helper()
	dir := t.TempDir()
	require.NoError(t, os.WriteFile(filepath.Join(dir, "main.go"), []byte(src), 0o644))
	require.NoError(t, os.WriteFile(filepath.Join(dir, "main_test.go"), []byte("package main\n"), 0o644))
	return dir
}

func TestScaffoldTakesTheLessonOut(t *testing.T) {
	files, todos, err := scaffold(stepFolder(t, program), "step09", fixture)
	require.NoError(t, err)
	require.Contains(t, files, "main.go")
	assert.NotContains(t, files, "main_test.go", "tests stay in the step")
	got := string(files["main.go"])
	_, err = parser.ParseFile(token.NewFileSet(), "main.go", got, parser.ParseComments)
	require.NoError(t, err, got)

	assert.Contains(t, got, "// TODO(step09): fill it in.\n// Read: man 7 table.\n// Judged by: TestTable.\nvar table = map[string]int{}\n")
	assert.Contains(t, got, "func (t *thing) size() int {\n\t// TODO(step09): count the words in t.Name, with strings.Fields.\n\treturn 0\n}\n")
	assert.Contains(t, got, "\tt := &thing{\n\t\tName: \"x\",\n\t\t// TODO(step09): give it a root.\n\t}\n")
	assert.Contains(t, got, "\t// TODO(step09): say when there are arguments.\n\tfmt.Println(t.size(), table)\n")
	for _, gone := range []string{`"a": 1`, "Root:", "os.Args", "a comment that goes with the body", `"os"`, `"strings"`} {
		assert.NotContains(t, got, gone)
	}
	assert.Contains(t, got, "import (\n\t\"fmt\"\n)\n", "only the imports still used")
	assert.Contains(t, got, "// size counts the words in the name.\nfunc (t *thing) size() int {", "the doc comment stays")

	require.Len(t, todos, len(fixture))
	lines := strings.Split(got, "\n")
	for i, todo := range todos {
		assert.Equal(t, fixture[i].What, todo.What, "in the lesson's order")
		assert.Contains(t, lines[todo.Line-1], "// TODO(step09): "+strings.Fields(fixture[i].Hint)[0], "the line given for %s", todo.What)
	}
}

func TestScaffoldNamesWhatTheStepLacks(t *testing.T) {
	dir := stepFolder(t, program)
	for name, tc := range map[string]struct {
		todo todo
		says string
	}{
		"a function":          {todo{Func: "grow", Stub: "return"}, "there is no func grow"},
		"a method":            {todo{Func: "(thing).size", Stub: "return 0"}, "there is no func (thing).size"},
		"a variable":          {todo{Func: "var chart", Stub: "nil"}, "there is no var chart"},
		"a line":              {todo{Func: "main", Line: "Home:"}, `func main has no line that begins "Home:"`},
		"a line in a comment": {todo{Func: "(*thing).size", Line: "a comment"}, `has no line that begins "a comment"`},
	} {
		t.Run(name, func(t *testing.T) {
			_, _, err := scaffold(dir, "step09", lesson{tc.todo})
			require.Error(t, err)
			assert.Contains(t, err.Error(), tc.says)
			assert.Contains(t, err.Error(), "internal/workspace/step09.go")
		})
	}
	t.Run("overlapping pieces", func(t *testing.T) {
		_, _, err := scaffold(dir, "step09", lesson{{Func: "main", Stub: "return"}, {Func: "main", Line: "if len"}})
		require.Error(t, err)
		assert.Contains(t, err.Error(), "overlap")
	})
}

func TestAWorkspaceThereIsKept(t *testing.T) {
	out := t.TempDir()
	mine := filepath.Join(out, "step02", "main.go")
	require.NoError(t, os.MkdirAll(filepath.Dir(mine), 0o755))
	require.NoError(t, os.WriteFile(mine, []byte("my work\n"), 0o644))

	err := makeWorkspace("step02", out, 0)
	require.Error(t, err)
	assert.Contains(t, err.Error(), "may hold your work")
	assert.Contains(t, err.Error(), "To start over, move it away (mv "+filepath.Join(out, "step02"))
	data, err := os.ReadFile(mine)
	require.NoError(t, err)
	assert.Equal(t, "my work\n", string(data))
}

func TestANameThatIsNoStepIsRefusedFirst(t *testing.T) {
	out := t.TempDir()
	for _, name := range []string{"..", ".", "step2", "step02/../.."} {
		err := makeWorkspace(name, out, 0)
		require.Error(t, err, name)
		assert.Contains(t, err.Error(), "is not a step", "%q names a folder that exists, but is no step's name", name)
	}
}

func TestTheLearnersModuleIsKept(t *testing.T) {
	repo, out := t.TempDir(), t.TempDir()
	require.NoError(t, os.WriteFile(filepath.Join(repo, "go.mod"), []byte("module example.com/repo\n\ngo 1.26\n\nrequire example.com/a v1.0.0\n"), 0o644))
	require.NoError(t, os.WriteFile(filepath.Join(repo, "go.sum"), []byte("example.com/a v1.0.0 h1:A=\n"), 0o644))
	t.Chdir(repo)

	kept, err := writeModule(out)
	require.NoError(t, err)
	assert.False(t, kept, "there was no go.mod")
	mod, err := os.ReadFile(filepath.Join(out, "go.mod"))
	require.NoError(t, err)
	assert.Contains(t, string(mod), "\nmodule boxcraft-workspace\n")
	assert.Contains(t, string(mod), "require example.com/a v1.0.0\n")

	// The learner requires a module of their own; the repository's go.sum
	// gains a line.
	mine := string(mod) + "require example.com/mine v0.1.0\n"
	require.NoError(t, os.WriteFile(filepath.Join(out, "go.mod"), []byte(mine), 0o644))
	require.NoError(t, os.WriteFile(filepath.Join(out, "go.sum"), []byte("example.com/a v1.0.0 h1:A=\nexample.com/mine v0.1.0 h1:M=\n"), 0o644))
	require.NoError(t, os.WriteFile(filepath.Join(repo, "go.sum"), []byte("example.com/a v1.0.0 h1:A=\nexample.com/b v1.0.0 h1:B=\n"), 0o644))

	kept, err = writeModule(out)
	require.NoError(t, err)
	assert.True(t, kept)
	mod, err = os.ReadFile(filepath.Join(out, "go.mod"))
	require.NoError(t, err)
	assert.Equal(t, mine, string(mod), "the learner's go.mod is left as it is")
	sum, err := os.ReadFile(filepath.Join(out, "go.sum"))
	require.NoError(t, err)
	assert.Equal(t, "example.com/a v1.0.0 h1:A=\nexample.com/mine v0.1.0 h1:M=\nexample.com/b v1.0.0 h1:B=\n", string(sum),
		"go.sum keeps the learner's lines and gains the repository's new one, once")
}

func TestWrapKeepsWordsWhole(t *testing.T) {
	assert.Equal(t, []string{"one two", "three"}, wrap("one two three", 8))
	assert.Equal(t, []string{"a-very-long-word", "b"}, wrap("a-very-long-word b", 4))
}
