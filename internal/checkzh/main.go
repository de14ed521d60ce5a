// Command checkzh checks that each Chinese page still matches its English
// page (issue 27): make check-zh runs it, and make lint runs that.
//
//	go run ./internal/checkzh [DIR]         check the pages below DIR (default .)
//	go run ./internal/checkzh -sync [DIR]   first copy English code blocks into the Chinese pages
//
// -sync is for whoever brings the Chinese pages up to date after a change
// to the English ones: where a Chinese page has as many code blocks as its
// English page, each block that differs is replaced by the English one
// (fences included), and the line says so. The prose around a changed
// block is still to be read and translated; pages whose blocks differ in
// number, and headings, are left for a person.
//
// A Chinese page is X.zh-CN.md beside X.md. The prose of the two differs,
// but their skeleton must not, so that a change to a lesson cannot leave
// its translation behind silently. For each pair it checks:
//
//   - the Markdown headings (ATX: `#` to `######`, outside fenced code)
//     have the same levels, in the same order;
//   - the fenced code blocks are as many, in the same order, and each has
//     the same info string and byte for byte the same content: commands
//     and what they print are never translated;
//   - the HTML comment lines (`<!-- check -->`, which marks a lesson's
//     checked transcript) are the same, in the same order;
//   - the Chinese page's first line links to the English page, and the
//     English page's first line links to the Chinese one.
//
// It prints one line per problem, naming the Chinese page, what differs
// and the lines of both pages, and exits 1; a Chinese page without an
// English one is a problem too. It exits 2 when it cannot read the pages.
// Folders named vendor, _build, workspace and those starting with a dot are
// not searched.
package main

import (
	"flag"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
)

// Suffix names a Chinese page: X.zh-CN.md is X.md's.
const Suffix = ".zh-CN.md"

func main() {
	syncBlocks := flag.Bool("sync", false, "copy each English code block that differs into the Chinese page, where both pages have as many blocks")
	flag.Usage = func() {
		fmt.Fprintln(os.Stderr, "usage: go run ./internal/checkzh [-sync] [DIR]")
		flag.PrintDefaults()
	}
	flag.Parse()
	dir := "."
	switch flag.NArg() {
	case 0:
	case 1:
		dir = flag.Arg(0)
	default:
		flag.Usage()
		os.Exit(2)
	}
	if *syncBlocks {
		synced, err := SyncTree(dir)
		if err != nil {
			fmt.Fprintf(os.Stderr, "check-zh: %v\n", err)
			os.Exit(2)
		}
		for _, line := range synced {
			fmt.Println(line)
		}
	}
	pairs, problems, err := CheckTree(dir)
	if err != nil {
		fmt.Fprintf(os.Stderr, "check-zh: %v\n", err)
		os.Exit(2)
	}
	for _, p := range problems {
		fmt.Println(p)
	}
	if len(problems) > 0 {
		fmt.Printf("check-zh: %s: a Chinese page keeps its English page's headings, code blocks and <!-- --> lines, in order (docs/glossary.md)\n", count(len(problems), "problem"))
		os.Exit(1)
	}
	fmt.Printf("check-zh: %s, each matching its English page\n", count(pairs, "Chinese page"))
}

// count says how many of a thing there are: 1 Chinese page, 2 Chinese pages.
func count(n int, thing string) string {
	if n == 1 {
		return fmt.Sprintf("1 %s", thing)
	}
	return fmt.Sprintf("%d %ss", n, thing)
}

// skipDir says whether a folder is left out of the search.
func skipDir(name string) bool {
	return name == "vendor" || name == "_build" || name == "workspace" || name == "node_modules" ||
		(strings.HasPrefix(name, ".") && name != ".")
}

// CheckTree checks every Chinese page below dir against its English page.
// It returns how many Chinese pages it found, and the problems, each a
// line naming the page by its path relative to dir.
func CheckTree(dir string) (int, []string, error) {
	zh, err := chinesePages(dir)
	if err != nil {
		return 0, nil, err
	}
	var problems []string
	for _, zhPath := range zh {
		enPath := strings.TrimSuffix(zhPath, Suffix) + ".md"
		zhName := relName(dir, zhPath)
		zhText, err := os.ReadFile(zhPath)
		if err != nil {
			return 0, nil, err
		}
		enText, err := os.ReadFile(enPath)
		if os.IsNotExist(err) {
			problems = append(problems, fmt.Sprintf("%s: there is no English page %s beside it", zhName, filepath.Base(enPath)))
			continue
		}
		if err != nil {
			return 0, nil, err
		}
		problems = append(problems, ComparePages(zhName, filepath.Base(enPath), string(enText), string(zhText))...)
	}
	return len(zh), problems, nil
}

// relName names a page by its path below dir, with slashes.
func relName(dir, path string) string {
	name, err := filepath.Rel(dir, path)
	if err != nil {
		return path
	}
	return filepath.ToSlash(name)
}

// chinesePages lists the Chinese pages below dir, in order.
func chinesePages(dir string) ([]string, error) {
	var zh []string
	err := filepath.WalkDir(dir, func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if d.IsDir() {
			if path != dir && skipDir(d.Name()) {
				return filepath.SkipDir
			}
			return nil
		}
		if strings.HasSuffix(d.Name(), Suffix) {
			zh = append(zh, path)
		}
		return nil
	})
	slices.Sort(zh)
	return zh, err
}

// SyncTree copies the English code blocks that differ into each Chinese
// page below dir whose blocks are as many as its English page's, and
// returns a line per page it changed.
func SyncTree(dir string) ([]string, error) {
	zh, err := chinesePages(dir)
	if err != nil {
		return nil, err
	}
	var out []string
	for _, zhPath := range zh {
		enText, err := os.ReadFile(strings.TrimSuffix(zhPath, Suffix) + ".md")
		if os.IsNotExist(err) {
			continue
		}
		if err != nil {
			return nil, err
		}
		zhText, err := os.ReadFile(zhPath)
		if err != nil {
			return nil, err
		}
		synced, changed := SyncBlocks(string(enText), string(zhText))
		if len(changed) == 0 {
			continue
		}
		if err := os.WriteFile(zhPath, []byte(synced), 0o644); err != nil {
			return nil, err
		}
		nums := make([]string, len(changed))
		for i, n := range changed {
			nums[i] = fmt.Sprint(n)
		}
		what := "code block "
		if len(nums) > 1 {
			what = "code blocks "
		}
		out = append(out, fmt.Sprintf("%s: copied %s%s from the English page: read the Chinese prose around each", relName(dir, zhPath), what, strings.Join(nums, ", ")))
	}
	return out, nil
}

// SyncBlocks returns the Chinese page zhText with each closed code block
// that differs from the English page's replaced by the English one, and
// the numbers (from 1) of the blocks replaced. When the pages' blocks are
// not as many, it changes nothing: which block is which is for a person
// to say.
func SyncBlocks(enText, zhText string) (string, []int) {
	en, zh := Parse(enText), Parse(zhText)
	if len(en.Blocks) != len(zh.Blocks) {
		return zhText, nil
	}
	enLines, zhLines := strings.Split(enText, "\n"), strings.Split(zhText, "\n")
	var changed []int
	// From the last block back, so that the earlier blocks' lines stay put.
	for i := len(zh.Blocks) - 1; i >= 0; i-- {
		e, z := en.Blocks[i], zh.Blocks[i]
		if e.End == 0 || z.End == 0 || (e.Info == z.Info && slices.Equal(e.Content, z.Content)) {
			continue
		}
		replacement := slices.Clone(enLines[e.Line-1 : e.End])
		zhLines = slices.Replace(zhLines, z.Line-1, z.End, replacement...)
		changed = append(changed, i+1)
	}
	slices.Reverse(changed)
	return strings.Join(zhLines, "\n"), changed
}

// Heading is an ATX heading: its level (1 for #) and its line.
type Heading struct {
	Level int
	Line  int
}

// Block is a fenced code block: its info string and content, exactly as
// written, and the line of its opening fence.
type Block struct {
	Info    string
	Content []string
	Line    int
	End     int // the line of its closing fence; 0 when it is left open
}

// Comment is a line that holds an HTML comment alone.
type Comment struct {
	Text string
	Line int
}

// Page is what a page's prose is hung on: what the check compares.
type Page struct {
	Headings []Heading
	Blocks   []Block
	Comments []Comment
	First    string // the first line
}

var (
	// atx is an ATX heading: up to three spaces, then 1 to 6 #s and a
	// blank or the end of the line (CommonMark).
	atx = regexp.MustCompile(`^ {0,3}(#{1,6})(?:[ \t]|$)`)
	// fence opens a fenced code block: a run of three or more backticks or
	// tildes. An indented fence counts, as in a list item.
	fence   = regexp.MustCompile("^[ \t]*(`{3,}|~{3,})(.*)$")
	comment = regexp.MustCompile(`^[ \t]*<!--.*-->[ \t]*$`)
)

// Parse finds a page's headings, fenced code blocks and comment lines.
// Lines are numbered from 1. A block left open runs to the end.
func Parse(text string) Page {
	lines := strings.Split(text, "\n")
	var p Page
	p.First = strings.TrimRight(lines[0], "\r")
	for i := 0; i < len(lines); i++ {
		line := strings.TrimRight(lines[i], "\r")
		if m := fence.FindStringSubmatch(line); m != nil && !(m[1][0] == '`' && strings.Contains(m[2], "`")) {
			b := Block{Info: strings.TrimSpace(m[2]), Line: i + 1}
			for i++; i < len(lines) && !closes(strings.TrimRight(lines[i], "\r"), m[1]); i++ {
				b.Content = append(b.Content, lines[i])
			}
			if i < len(lines) {
				b.End = i + 1
			}
			p.Blocks = append(p.Blocks, b)
			continue
		}
		if m := atx.FindStringSubmatch(line); m != nil {
			p.Headings = append(p.Headings, Heading{Level: len(m[1]), Line: i + 1})
			continue
		}
		if comment.MatchString(line) {
			p.Comments = append(p.Comments, Comment{Text: strings.TrimSpace(line), Line: i + 1})
		}
	}
	return p
}

// closes says whether line closes a block opened by open: a run of the
// same character, at least as long, and nothing else.
func closes(line, open string) bool {
	t := strings.TrimSpace(line)
	return len(t) >= len(open) && strings.Trim(t, open[:1]) == ""
}

// link is a Markdown link: its target, without a #fragment.
var link = regexp.MustCompile(`\[[^\]]*\]\(<?([^)#>\s]*)[^)]*\)`)

// linksTo says whether line holds a link to the page named name, which is
// in the same folder.
func linksTo(line, name string) bool {
	for _, m := range link.FindAllStringSubmatch(line, -1) {
		if strings.TrimPrefix(m[1], "./") == name {
			return true
		}
	}
	return false
}

// ComparePages compares the Chinese page zhName with its English page
// enName (a file name in the same folder), given their texts, and returns
// a line per problem.
func ComparePages(zhName, enName, enText, zhText string) []string {
	en, zh := Parse(enText), Parse(zhText)
	zhBase := filepath.Base(zhName)
	var out []string
	say := func(format string, args ...any) {
		out = append(out, zhName+": "+fmt.Sprintf(format, args...))
	}
	if !linksTo(zh.First, enName) {
		say("its first line is not a link to %s (want [English](%s)): %s", enName, enName, quote(zh.First))
	}
	if !linksTo(en.First, zhBase) {
		say("%s's first line is not a link to %s (want [中文](%s)): %s", enName, zhBase, zhBase, quote(en.First))
	}

	levels := func(hs []Heading) []string {
		s := make([]string, len(hs))
		for i, h := range hs {
			s[i] = strings.Repeat("#", h.Level)
		}
		return s
	}
	compareSeq(levels(en.Headings), levels(zh.Headings), "heading", "headings",
		func(i int) int { return en.Headings[i].Line }, func(i int) int { return zh.Headings[i].Line },
		func(i int) {
			say("heading %d is %s (line %d), %s's is %s (line %d)", i+1,
				strings.Repeat("#", zh.Headings[i].Level), zh.Headings[i].Line,
				enName, strings.Repeat("#", en.Headings[i].Level), en.Headings[i].Line)
		}, say, enName)

	keys := func(bs []Block) []string {
		s := make([]string, len(bs))
		for i, b := range bs {
			s[i] = b.Info + "\x00" + strings.Join(b.Content, "\n")
		}
		return s
	}
	compareSeq(keys(en.Blocks), keys(zh.Blocks), "code block", "code blocks",
		func(i int) int { return en.Blocks[i].Line }, func(i int) int { return zh.Blocks[i].Line },
		func(i int) { say("%s", blockDiff(i, enName, en.Blocks[i], zh.Blocks[i])) }, say, enName)

	texts := func(cs []Comment) []string {
		s := make([]string, len(cs))
		for i, c := range cs {
			s[i] = c.Text
		}
		return s
	}
	compareSeq(texts(en.Comments), texts(zh.Comments), "comment line", "comment lines",
		func(i int) int { return en.Comments[i].Line }, func(i int) int { return zh.Comments[i].Line },
		func(i int) {
			say("comment line %d is %s (line %d), %s's is %s (line %d)", i+1,
				zh.Comments[i].Text, zh.Comments[i].Line, enName, en.Comments[i].Text, en.Comments[i].Line)
		}, say, enName)
	return out
}

// compareSeq compares the English sequence en with the Chinese zh. When
// they are as long, it reports each item that differs (differ(i)); when
// they are not, one item missing would make every later one differ, so it
// reports the counts and the first item that differs, or the first that
// has no counterpart.
func compareSeq(en, zh []string, one, many string, enLine, zhLine func(int) int, differ func(int), say func(string, ...any), enName string) {
	if len(en) == len(zh) {
		for i := range en {
			if en[i] != zh[i] {
				differ(i)
			}
		}
		return
	}
	first := 0
	for first < len(en) && first < len(zh) && en[first] == zh[first] {
		first++
	}
	switch {
	case first < len(en) && first < len(zh):
		say("%d %s, %s has %d: %s %d is the first that differs (line %d vs %d)",
			len(zh), many, enName, len(en), one, first+1, zhLine(first), enLine(first))
	case first < len(en):
		say("%d %s, %s has %d: its %s %d (line %d) has no counterpart", len(zh), many, enName, len(en), one, first+1, enLine(first))
	default:
		say("%d %s, %s has %d: %s %d (line %d) is not in %s", len(zh), many, enName, len(en), one, first+1, zhLine(first), enName)
	}
}

// blockDiff says how the Chinese page's code block i differs from the
// English page's.
func blockDiff(i int, enName string, en, zh Block) string {
	head := fmt.Sprintf("code block %d differs from %s's (line %d vs %d)", i+1, enName, zh.Line, en.Line)
	if en.Info != zh.Info {
		return fmt.Sprintf("%s: its info string is %s, %s's %s", head, quote(zh.Info), enName, quote(en.Info))
	}
	for j := 0; j < len(en.Content) || j < len(zh.Content); j++ {
		switch {
		case j >= len(zh.Content):
			return fmt.Sprintf("%s: it ends at its line %d, before %s", head, j+1, quote(en.Content[j]))
		case j >= len(en.Content):
			return fmt.Sprintf("%s: its line %d, %s, is not in %s's", head, j+1, quote(zh.Content[j]), enName)
		case en.Content[j] != zh.Content[j]:
			return fmt.Sprintf("%s: its line %d is %s, %s's %s", head, j+1, quote(zh.Content[j]), enName, quote(en.Content[j]))
		}
	}
	return head
}

// quote shows a line in a message, shortened when long.
func quote(s string) string {
	if r := []rune(s); len(r) > 60 {
		s = string(r[:57]) + "…"
	}
	return fmt.Sprintf("%q", s)
}
