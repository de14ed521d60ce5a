package build

import (
	"fmt"
	"strings"
)

// expand replaces $VAR, ${VAR}, ${VAR:-default} and ${VAR:+alt} in s
// from vars, as Docker does for ENV, COPY, WORKDIR, USER … (RUN's are
// the shell's to expand); \$ keeps a dollar.
func expand(s string, vars map[string]string) (string, error) {
	var out strings.Builder
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch {
		case c == '\\' && i+1 < len(s) && s[i+1] == '$':
			out.WriteByte('$')
			i++
		case c == '$' && i+1 < len(s) && s[i+1] == '{':
			end := strings.IndexByte(s[i:], '}')
			if end < 0 {
				return "", fmt.Errorf("%q: a ${ is not closed", s)
			}
			out.WriteString(braced(s[i+2:i+end], vars))
			i += end
		case c == '$' && i+1 < len(s) && isNameByte(s[i+1]):
			j := i + 1
			for j < len(s) && isNameByte(s[j]) {
				j++
			}
			out.WriteString(vars[s[i+1:j]])
			i = j - 1
		default:
			out.WriteByte(c)
		}
	}
	return out.String(), nil
}

// braced is ${NAME}, ${NAME:-default} or ${NAME:+alt}.
func braced(inner string, vars map[string]string) string {
	if name, def, ok := strings.Cut(inner, ":-"); ok {
		if v := vars[name]; v != "" {
			return v
		}
		return def
	}
	if name, alt, ok := strings.Cut(inner, ":+"); ok {
		if vars[name] != "" {
			return alt
		}
		return ""
	}
	return vars[inner]
}

func isNameByte(c byte) bool {
	return c == '_' || c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9'
}
