package main

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// english is the English fixture; each case below changes its Chinese
// twin in one way.
var english = strings.Join([]string{
	"[中文](README.zh-CN.md)",
	"",
	"# Step 02: namespaces",
	"",
	"## Try it",
	"",
	"Run it:",
	"",
	"<!-- check -->",
	"```console",
	"$ sudo make step02",
	"# not a heading: inside a block",
	"```",
	"",
	"### More",
	"",
	"~~~~go",
	"```",
	"func main() {}",
	"~~~~",
	"",
}, "\n")

// chinese is the faithful translation of english: it passes.
var chinese = strings.Join([]string{
	"[English](README.md)",
	"",
	"# 第 02 课：命名空间",
	"",
	"## 动手试试",
	"",
	"运行：",
	"",
	"<!-- check -->",
	"```console",
	"$ sudo make step02",
	"# not a heading: inside a block",
	"```",
	"",
	"### 更多",
	"",
	"~~~~go",
	"```",
	"func main() {}",
	"~~~~",
	"",
}, "\n")

func TestParse(t *testing.T) {
	p := Parse(english)
	var levels []int
	for _, h := range p.Headings {
		levels = append(levels, h.Level)
	}
	if len(levels) != 3 || levels[0] != 1 || levels[1] != 2 || levels[2] != 3 {
		t.Errorf("heading levels: want [1 2 3] (none from inside a block), got %v", levels)
	}
	if len(p.Blocks) != 2 {
		t.Fatalf("want 2 blocks, got %+v", p.Blocks)
	}
	if b := p.Blocks[0]; b.Info != "console" || b.Line != 10 || len(b.Content) != 2 {
		t.Errorf("block 1: %+v", b)
	}
	if b := p.Blocks[1]; b.Info != "go" || strings.Join(b.Content, "|") != "```|func main() {}" {
		t.Errorf("block 2 (a ``` inside a ~~~~ block does not close it): %+v", b)
	}
	if len(p.Comments) != 1 || p.Comments[0].Line != 9 {
		t.Errorf("comments: %+v", p.Comments)
	}
}

func TestMatchingPagesPass(t *testing.T) {
	if got := ComparePages("README.zh-CN.md", "README.md", english, chinese); len(got) != 0 {
		t.Errorf("a faithful translation: want no problem, got:\n%s", strings.Join(got, "\n"))
	}
}

func TestEachMismatchFails(t *testing.T) {
	for _, c := range []struct {
		name string
		en   func(string) string // changes the English page; nil: unchanged
		zh   func(string) string // changes the Chinese page
		want []string            // every problem line, in order
	}{
		{
			name: "heading level",
			zh:   replace("### 更多", "## 更多"),
			want: []string{"README.zh-CN.md: heading 3 is ## (line 15), README.md's is ### (line 15)"},
		},
		{
			name: "heading missing",
			zh:   replace("## 动手试试\n", ""),
			want: []string{"README.zh-CN.md: 2 headings, README.md has 3: heading 2 is the first that differs (line 14 vs 5)"},
		},
		{
			name: "heading added at the end",
			zh:   func(s string) string { return s + "## 附录\n" },
			want: []string{"README.zh-CN.md: 4 headings, README.md has 3: heading 4 (line 21) is not in README.md"},
		},
		{
			name: "code block translated",
			zh:   replace("# not a heading: inside a block", "# 不是标题"),
			want: []string{`README.zh-CN.md: code block 1 differs from README.md's (line 10 vs 10): its line 2 is "# 不是标题", README.md's "# not a heading: inside a block"`},
		},
		{
			name: "code block info string",
			zh:   replace("~~~~go", "~~~~golang"),
			want: []string{`README.zh-CN.md: code block 2 differs from README.md's (line 17 vs 17): its info string is "golang", README.md's "go"`},
		},
		{
			name: "code block shorter",
			zh:   replace("```\nfunc main() {}\n", "```\n"),
			want: []string{`README.zh-CN.md: code block 2 differs from README.md's (line 17 vs 17): it ends at its line 2, before "func main() {}"`},
		},
		{
			name: "code block missing",
			zh:   replace("~~~~go\n```\nfunc main() {}\n~~~~\n", ""),
			want: []string{"README.zh-CN.md: 1 code blocks, README.md has 2: its code block 2 (line 17) has no counterpart"},
		},
		{
			name: "code blocks swapped",
			zh: func(s string) string {
				a := "<!-- check -->\n```console\n$ sudo make step02\n# not a heading: inside a block\n```\n"
				b := "~~~~go\n```\nfunc main() {}\n~~~~\n"
				s = strings.Replace(s, a, "\x01", 1)
				s = strings.Replace(s, b, a, 1)
				return strings.Replace(s, "\x01", b, 1)
			},
			want: []string{
				`README.zh-CN.md: code block 1 differs from README.md's (line 9 vs 10): its info string is "go", README.md's "console"`,
				`README.zh-CN.md: code block 2 differs from README.md's (line 17 vs 17): its info string is "console", README.md's "go"`,
			},
		},
		{
			name: "comment line changed",
			zh:   replace("<!-- check -->", "<!-- check cgroup-v1 -->"),
			want: []string{"README.zh-CN.md: comment line 1 is <!-- check cgroup-v1 --> (line 9), README.md's is <!-- check --> (line 9)"},
		},
		{
			name: "comment line dropped",
			zh:   replace("<!-- check -->\n", ""),
			want: []string{"README.zh-CN.md: 0 comment lines, README.md has 1: its comment line 1 (line 9) has no counterpart"},
		},
		{
			name: "no link back",
			zh:   replace("[English](README.md)", "[英文](index.md)"),
			want: []string{`README.zh-CN.md: its first line is not a link to README.md (want [English](README.md)): "[英文](index.md)"`},
		},
		{
			name: "English page without its link",
			en:   replace("[中文](README.zh-CN.md)\n\n", ""),
			zh:   func(s string) string { return s },
			want: []string{`README.zh-CN.md: README.md's first line is not a link to README.zh-CN.md (want [中文](README.zh-CN.md)): "# Step 02: namespaces"`},
		},
	} {
		t.Run(c.name, func(t *testing.T) {
			en := english
			if c.en != nil {
				en = c.en(english)
			}
			zh := c.zh(chinese)
			if zh == chinese && en == english {
				t.Fatal("the case changes nothing")
			}
			got := ComparePages("README.zh-CN.md", "README.md", en, zh)
			if strings.Join(got, "\n") != strings.Join(c.want, "\n") {
				t.Errorf("want:\n%s\ngot:\n%s", strings.Join(c.want, "\n"), strings.Join(got, "\n"))
			}
		})
	}
}

// replace returns a change of a page that replaces old, which must be in
// it, with new.
func replace(old, new string) func(string) string {
	return func(s string) string {
		if !strings.Contains(s, old) {
			panic("the fixture has no " + old)
		}
		return strings.Replace(s, old, new, 1)
	}
}

func TestCheckTree(t *testing.T) {
	dir := t.TempDir()
	write := func(name, text string) {
		t.Helper()
		path := filepath.Join(dir, filepath.FromSlash(name))
		if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(path, []byte(text), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	write("README.md", english)
	write("README.zh-CN.md", chinese)
	write("step02-namespaces/README.md", english)
	write("step02-namespaces/README.zh-CN.md", strings.Replace(chinese, "### 更多", "#### 更多", 1))
	write("docs/orphan.zh-CN.md", chinese)
	write("docs/plain.md", "# no twin: not checked\n")
	// Folders the check does not search: a broken pair in each.
	for _, skipped := range []string{"_build", "vendor", ".git", "workspace"} {
		write(skipped+"/README.md", english)
		write(skipped+"/README.zh-CN.md", "nothing alike")
	}
	pairs, problems, err := CheckTree(dir)
	if err != nil {
		t.Fatal(err)
	}
	want := []string{
		"docs/orphan.zh-CN.md: there is no English page orphan.md beside it",
		"step02-namespaces/README.zh-CN.md: heading 3 is #### (line 15), README.md's is ### (line 15)",
	}
	if pairs != 3 || strings.Join(problems, "\n") != strings.Join(want, "\n") {
		t.Errorf("want 3 Chinese pages and:\n%s\ngot %d and:\n%s", strings.Join(want, "\n"), pairs, strings.Join(problems, "\n"))
	}
}

func TestSyncBlocks(t *testing.T) {
	// The English page changed a block's output and another's info string;
	// the Chinese page still has the old blocks, and its own prose.
	en := strings.Replace(strings.Replace(english, "# not a heading: inside a block", "a new line\nand another", 1), "~~~~go", "~~~~text", 1)
	synced, changed := SyncBlocks(en, chinese)
	if len(changed) != 2 || changed[0] != 1 || changed[1] != 2 {
		t.Errorf("want blocks 1 and 2 copied, got %v", changed)
	}
	if got := ComparePages("README.zh-CN.md", "README.md", en, synced); len(got) != 0 {
		t.Errorf("after the sync: want no problem, got:\n%s", strings.Join(got, "\n"))
	}
	for _, prose := range []string{"[English](README.md)", "# 第 02 课：命名空间", "运行：", "### 更多"} {
		if !strings.Contains(synced, prose) {
			t.Errorf("the sync lost the Chinese page's %q:\n%s", prose, synced)
		}
	}
	if again, changed := SyncBlocks(en, synced); again != synced || len(changed) != 0 {
		t.Errorf("a second sync changed %v", changed)
	}

	// One block more in English: which is which is for a person to say.
	more := english + "```sh\necho new\n```\n"
	if out, changed := SyncBlocks(more, chinese); out != chinese || len(changed) != 0 {
		t.Errorf("blocks not as many: want no change, got %v:\n%s", changed, out)
	}
}

func TestSyncTree(t *testing.T) {
	dir := t.TempDir()
	en := strings.Replace(english, "$ sudo make step02", "$ sudo make step02 # changed", 1)
	for name, text := range map[string]string{"README.md": en, "README.zh-CN.md": chinese} {
		if err := os.WriteFile(filepath.Join(dir, name), []byte(text), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	lines, err := SyncTree(dir)
	if err != nil {
		t.Fatal(err)
	}
	want := "README.zh-CN.md: copied code block 1 from the English page: read the Chinese prose around each"
	if strings.Join(lines, "\n") != want {
		t.Errorf("want %q, got %q", want, lines)
	}
	if _, problems, err := CheckTree(dir); err != nil || len(problems) != 0 {
		t.Errorf("after the sync: %v %v", problems, err)
	}
}
