package dockerfile

import (
	"bufio"
	"bytes"
	"encoding/json"
	"fmt"
	"strings"
)

// Instruction is one instruction of a Dockerfile.
type Instruction struct {
	Line    int               // where it starts, from 1
	Command string            // upper case: RUN, COPY …
	Flags   map[string]string // --from=builder → "from": "builder"
	Args    []string          // the exec form's words, or the shell form's one string (RUN, CMD, ENTRYPOINT) or words
	JSON    bool              // written as a JSON array (the exec form)
	Text    string            // as written, continuations joined: what the build prints
}

// flagCommands are the instructions that take --flags before their
// arguments.
var flagCommands = map[string]bool{"FROM": true, "COPY": true, "ADD": true, "RUN": true}

// shellForm are the instructions whose shell form is one string, handed
// to the shell whole.
var shellForm = map[string]bool{"RUN": true, "CMD": true, "ENTRYPOINT": true, "SHELL": true, "HEALTHCHECK": true}

// Parse reads a Dockerfile.
func Parse(data []byte) ([]Instruction, error) {
	var out []Instruction
	scanner := bufio.NewScanner(bytes.NewReader(data))
	scanner.Buffer(make([]byte, 64<<10), 1<<20)
	var text strings.Builder
	start, line := 0, 0
	for scanner.Scan() {
		line++
		raw := strings.TrimSpace(scanner.Text())
		if raw == "" || strings.HasPrefix(raw, "#") {
			continue // a comment, inside a continued instruction too
		}
		if text.Len() == 0 {
			start = line
		}
		body, continued := strings.CutSuffix(raw, `\`)
		text.WriteString(body)
		if continued {
			text.WriteString(" ")
			continue
		}
		in, err := parseInstruction(start, text.String())
		if err != nil {
			return nil, err
		}
		out = append(out, in)
		text.Reset()
	}
	if err := scanner.Err(); err != nil {
		return nil, fmt.Errorf("read the Dockerfile: %w", err)
	}
	if text.Len() > 0 {
		return nil, fmt.Errorf("line %d: the last instruction ends with a backslash", start)
	}
	if len(out) == 0 {
		return nil, fmt.Errorf("the Dockerfile has no instructions")
	}
	return out, nil
}

// parseInstruction splits one instruction into its name, flags and
// arguments.
func parseInstruction(line int, text string) (Instruction, error) {
	in := Instruction{Line: line, Text: strings.TrimSpace(text), Flags: map[string]string{}}
	cmd, rest, _ := strings.Cut(in.Text, " ")
	in.Command = strings.ToUpper(cmd)
	rest = strings.TrimSpace(rest)
	if flagCommands[in.Command] {
		rest = in.takeFlags(rest)
	}
	if strings.HasPrefix(rest, "[") {
		var words []string
		if err := json.Unmarshal([]byte(rest), &words); err == nil {
			in.Args, in.JSON = words, true
			return in, nil
		}
	}
	if shellForm[in.Command] {
		if rest != "" {
			in.Args = []string{rest}
		}
		return in, nil
	}
	words, err := Words(rest)
	if err != nil {
		return in, fmt.Errorf("line %d: %s: %w", line, in.Command, err)
	}
	in.Args = words
	return in, nil
}

// takeFlags takes the --name=value words that lead rest.
func (in *Instruction) takeFlags(rest string) string {
	for strings.HasPrefix(rest, "--") {
		word, after, _ := strings.Cut(rest, " ")
		name, value, _ := strings.Cut(strings.TrimPrefix(word, "--"), "=")
		in.Flags[name] = value
		rest = strings.TrimSpace(after)
	}
	return rest
}

// Words splits s on blanks, as the shell does with quotes: "a b" and
// 'a b' are one word, and a backslash keeps the next character.
func Words(s string) ([]string, error) {
	var words []string
	var word strings.Builder
	inWord := false
	var quote rune
	escaped := false
	for _, r := range s {
		switch {
		case escaped:
			word.WriteRune(r)
			escaped = false
		case r == '\\' && quote != '\'':
			escaped, inWord = true, true
		case quote != 0 && r == quote:
			quote = 0
		case quote != 0:
			word.WriteRune(r)
		case r == '"' || r == '\'':
			quote, inWord = r, true
		case r == ' ' || r == '\t':
			if inWord {
				words = append(words, word.String())
				word.Reset()
				inWord = false
			}
		default:
			word.WriteRune(r)
			inWord = true
		}
	}
	if quote != 0 {
		return nil, fmt.Errorf("a %c quote is not closed", quote)
	}
	if inWord {
		words = append(words, word.String())
	}
	return words, nil
}
