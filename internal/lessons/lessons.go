// Package lessons checks the lessons' transcripts: it runs the commands of
// each block a lesson README marks as checked, in a fresh copy of the
// repository, and compares what they print with what the lesson shows.
//
// The convention (docs/lesson-template.md): a line `<!-- check -->` right
// before a fenced block whose info string is `console`; `<!-- check
// cgroup-v1 -->` or `<!-- check cgroup-v2 -->` for a block that holds only
// on a host of that cgroup version. In that block a line
// `$ CMD` is a command, and the lines up to the next command are what it
// prints, stdout and stderr together. A command goes on over the next lines
// while bash finds it unfinished (an open quote). In what a command prints,
// a line `…` stands for any number of lines, and `…` within a line for any
// text. Before comparing, both sides are normalised: digests and other hex
// of 12 digits or more, dates and times, mktemp's folder names, and the
// pids and times in a step's folder names (run-PID, kept-…) become
// placeholders, runs of blanks become one space, and trailing blanks and
// blank lines at the end go. Each
// checked block starts in the copy's top folder; variables set and folders
// entered carry on to the lesson's next checked block.
package lessons

import (
	"bytes"
	"fmt"
	"os/exec"
	"regexp"
	"strings"
)

// Marker is the line that marks the next console block as checked.
const Marker = "<!-- check -->"

// marker matches Marker and its forms for one cgroup version.
var marker = regexp.MustCompile(`^<!-- check(?: (cgroup-v1|cgroup-v2))? -->$`)

// Ellipsis in an expected line stands for any text; alone, for any lines.
const Ellipsis = "…"

// Command is one `$ ` command of a checked block and what it should print.
type Command struct {
	Line int      // the README's line of the `$ `
	Text string   // the command, without `$ `, continuation lines joined by newlines
	Want []string // the lines under it
}

// Block is one checked console block.
type Block struct {
	Line     int    // the README's line of the marker
	When     string // "", or the cgroup version it holds on: cgroup-v1, cgroup-v2
	Commands []Command
}

// Parse finds the checked blocks of a README. complete says whether a
// command's text is a whole shell command (bash -n; tests may give another).
func Parse(readme string, complete func(string) bool) ([]Block, error) {
	lines := strings.Split(readme, "\n")
	var blocks []Block
	for i := 0; i < len(lines); i++ {
		m := marker.FindStringSubmatch(strings.TrimSpace(lines[i]))
		if m == nil {
			continue
		}
		if i+1 >= len(lines) || strings.TrimSpace(lines[i+1]) != "```console" {
			return nil, fmt.Errorf("line %d: %s is not followed by a ```console block", i+1, m[0])
		}
		b := Block{Line: i + 1, When: m[1]}
		j := i + 2
		for ; j < len(lines) && strings.TrimSpace(lines[j]) != "```"; j++ {
			line := lines[j]
			if cmd, ok := strings.CutPrefix(line, "$ "); ok {
				start := j
				for !complete(cmd) && j+1 < len(lines) && strings.TrimSpace(lines[j+1]) != "```" {
					j++
					cmd += "\n" + lines[j]
				}
				b.Commands = append(b.Commands, Command{Line: start + 1, Text: cmd})
				continue
			}
			if len(b.Commands) == 0 {
				return nil, fmt.Errorf("line %d: a checked block must start with a $ command", j+1)
			}
			c := &b.Commands[len(b.Commands)-1]
			c.Want = append(c.Want, line)
		}
		if j == len(lines) {
			return nil, fmt.Errorf("line %d: the checked block is not closed", i+1)
		}
		if len(b.Commands) == 0 {
			return nil, fmt.Errorf("line %d: the checked block has no command", i+1)
		}
		blocks = append(blocks, b)
		i = j
	}
	return blocks, nil
}

// BashComplete says whether bash would run text as it is, rather than
// wait for more (an open quote or bracket).
func BashComplete(text string) bool {
	return exec.Command("bash", "-n", "-c", text).Run() == nil
}

var sudo = regexp.MustCompile(`(^|[\s(;|&])sudo `)

// WithoutSudo drops `sudo ` where it starts a command: a root shell runs
// the same command without it, and many machines have no sudo at all.
func WithoutSudo(cmd string) string {
	return sudo.ReplaceAllString(cmd, "$1")
}

var normalisers = []struct {
	re   *regexp.Regexp
	with string
}{
	{regexp.MustCompile(`[0-9a-f]{12,}`), "<hex>"},
	{regexp.MustCompile(`/tmp/tmp\.[A-Za-z0-9]+`), "/tmp/tmp.<x>"},
	{regexp.MustCompile(`\b(Jan|Feb|Mar|Apr|May|Jun|Jul|Aug|Sep|Oct|Nov|Dec) +[0-9]{1,2} +([0-9]{2}:[0-9]{2}|[0-9]{4})\b`), "<date>"},
	{regexp.MustCompile(`\b[0-9]{4}-[0-9]{2}-[0-9]{2}[ T][0-9]{2}:[0-9]{2}(:[0-9]{2})?\b`), "<date>"},
	{regexp.MustCompile(`\brun-[0-9]+\b`), "run-<pid>"},
	{regexp.MustCompile(`\bkept-[0-9]{8}-[0-9]{6}-[0-9]+\b`), "kept-<id>"},
}

var blanks = regexp.MustCompile(`[ \t]+`)

// Normalise replaces in a line what changes from run to run. Runs of
// blanks become one space: ls -C pads with tabs when its output is not a
// terminal, and columns line up differently with other widths.
func Normalise(line string) string {
	line = blanks.ReplaceAllString(strings.TrimRight(line, " \t\r"), " ")
	for _, n := range normalisers {
		line = n.re.ReplaceAllString(line, n.with)
	}
	return line
}

func normaliseAll(lines []string) []string {
	out := make([]string, 0, len(lines))
	for _, l := range lines {
		out = append(out, Normalise(l))
	}
	for len(out) > 0 && out[len(out)-1] == "" {
		out = out[:len(out)-1]
	}
	return out
}

// lineMatches compares one normalised expected line, with its `…`s, with
// one normalised line printed.
func lineMatches(want, got string) bool {
	if !strings.Contains(want, Ellipsis) {
		return want == got
	}
	parts := strings.Split(want, Ellipsis)
	for i, p := range parts {
		parts[i] = regexp.QuoteMeta(p)
	}
	return regexp.MustCompile("^" + strings.Join(parts, ".*") + "$").MatchString(got)
}

// Matches says whether what a command printed is what the lesson shows.
func Matches(want, got []string) bool {
	return match(normaliseAll(want), normaliseAll(got))
}

func match(want, got []string) bool {
	if len(want) == 0 {
		return len(got) == 0
	}
	if strings.TrimSpace(want[0]) == Ellipsis {
		for skip := 0; skip <= len(got); skip++ {
			if match(want[1:], got[skip:]) {
				return true
			}
		}
		return false
	}
	return len(got) > 0 && lineMatches(want[0], got[0]) && match(want[1:], got[1:])
}

// separator is printed before each command's output, to split what a
// lesson's shell printed into each command's part.
const separator = "@@lessons-check-command@@"

// Script is the bash script that runs a lesson's blocks in repo, each
// command's output (stdout and stderr) after a separator line.
func Script(repo string, blocks []Block) string {
	var s strings.Builder
	for _, b := range blocks {
		fmt.Fprintf(&s, "cd %q || exit 97\n", repo)
		for _, c := range b.Commands {
			fmt.Fprintf(&s, "printf '\\n%s\\n'\n{\n%s\n} 2>&1\n", separator, WithoutSudo(c.Text))
		}
	}
	return s.String()
}

// Split cuts what Script printed into each command's lines.
func Split(out []byte) [][]string {
	parts := bytes.Split(out, []byte("\n"+separator+"\n"))
	var each [][]string
	for _, p := range parts[1:] {
		each = append(each, strings.Split(string(p), "\n"))
	}
	return each
}
