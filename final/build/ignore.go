package build

import (
	"bufio"
	"bytes"
	"errors"
	"io/fs"
	"os"
	"path"
	"path/filepath"
	"regexp"
	"strings"
)

// ignore is a .dockerignore: patterns, each maybe negated with "!"; the
// last that matches a path (or a folder above it) decides.
type ignore []ignoreRule

type ignoreRule struct {
	re     *regexp.Regexp
	negate bool
}

// readIgnore reads the context's .dockerignore, when it has one.
func readIgnore(context string) (ignore, error) {
	data, err := os.ReadFile(filepath.Join(context, ".dockerignore"))
	if errors.Is(err, fs.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	var rules ignore
	scanner := bufio.NewScanner(bytes.NewReader(data))
	for scanner.Scan() {
		line := strings.TrimSpace(scanner.Text())
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		negate := strings.HasPrefix(line, "!")
		pattern := path.Clean(strings.TrimPrefix(strings.TrimPrefix(line, "!"), "/"))
		re, err := regexp.Compile("^" + globToRegexp(pattern) + "$")
		if err != nil {
			return nil, err
		}
		rules = append(rules, ignoreRule{re: re, negate: negate})
	}
	return rules, scanner.Err()
}

// globToRegexp turns a .dockerignore pattern into a regexp: ** is any
// number of folders, * and ? stay within one.
func globToRegexp(pattern string) string {
	var re strings.Builder
	for i := 0; i < len(pattern); i++ {
		switch c := pattern[i]; {
		case strings.HasPrefix(pattern[i:], "**/"):
			re.WriteString("(.*/)?")
			i += 2
		case strings.HasPrefix(pattern[i:], "**"):
			re.WriteString(".*")
			i++
		case c == '*':
			re.WriteString("[^/]*")
		case c == '?':
			re.WriteString("[^/]")
		default:
			re.WriteString(regexp.QuoteMeta(string(c)))
		}
	}
	return re.String()
}

// excludes tells whether rel (a path in the context, with /) is left out.
func (ig ignore) excludes(rel string) bool {
	excluded := false
	for _, r := range ig {
		for p := rel; p != "." && p != "/"; p = path.Dir(p) {
			if r.re.MatchString(p) {
				excluded = !r.negate
				break
			}
		}
	}
	return excluded
}
