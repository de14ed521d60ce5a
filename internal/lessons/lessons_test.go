package lessons

import (
	"strings"
	"testing"
)

func TestParse(t *testing.T) {
	readme := strings.Join([]string{
		"text",
		"```console",
		"$ not checked",
		"```",
		Marker,
		"```console",
		"$ echo one",
		"one",
		"$ python3 -c '",
		"print(2)",
		"'",
		"2",
		"$ true",
		"```",
		"<!-- check cgroup-v2 -->",
		"```console",
		"$ cat /proc/self/cgroup",
		"0::/",
		"```",
	}, "\n")
	blocks, err := Parse(readme, BashComplete)
	if err != nil {
		t.Fatal(err)
	}
	if len(blocks) != 2 || len(blocks[0].Commands) != 3 || blocks[0].When != "" || blocks[1].When != "cgroup-v2" {
		t.Fatalf("want 1 block of 3 commands, got %+v", blocks)
	}
	c := blocks[0].Commands
	if c[0].Text != "echo one" || c[0].Line != 7 || strings.Join(c[0].Want, "|") != "one" {
		t.Errorf("first command: %+v", c[0])
	}
	if c[1].Text != "python3 -c '\nprint(2)\n'" || strings.Join(c[1].Want, "|") != "2" {
		t.Errorf("a command over three lines: %+v", c[1])
	}
	if len(c[2].Want) != 0 {
		t.Errorf("a command that prints nothing: %+v", c[2])
	}
	for _, bad := range []string{Marker + "\ntext", Marker + "\n```console\nout\n```", Marker + "\n```console\n$ true"} {
		if _, err := Parse(bad, BashComplete); err == nil {
			t.Errorf("%q: no error", bad)
		}
	}
}

func TestMatches(t *testing.T) {
	for _, c := range []struct {
		want, got string
		ok        bool
	}{
		{"exit status 2", "exit status 2", true},
		{"exit status 2", "exit status 0", false},
		{"a\n…\nd", "a\nb\nc\nd", true},
		{"a\n…\nd", "a\nd", true},
		{"a\n…\nd", "a\nb", false},
		{"image …/dotdot.tar: bad", "image /tmp/x/boxcraft/dotdot.tar: bad", true},
		{"sha256:26411734ac7b", "sha256:51db9e61fd7b", true},
		{"sha256:2641", "sha256:51db", false},
		{"-rw-r--r-- 1 root root 5 Nov 26 20:44 f", "-rw-r--r-- 1 root root 5 Dec  5 13:02 f", true},
		{"/var/lib/boxcraft/step04/run-24054/rootfs", "/var/lib/boxcraft/step04/run-7/rootfs", true},
		{"one", "one\n\n", true},
		{"one", "one\ntwo", false},
	} {
		if got := Matches(strings.Split(c.want, "\n"), strings.Split(c.got, "\n")); got != c.ok {
			t.Errorf("Matches(%q, %q) = %v, want %v", c.want, c.got, got, c.ok)
		}
	}
}

func TestWithoutSudo(t *testing.T) {
	for in, want := range map[string]string{
		"sudo _build/bin/step01 run x":            "_build/bin/step01 run x",
		"time (sudo timeout 1 x; echo $?)":        "time (timeout 1 x; echo $?)",
		"echo pseudo sudoers":                     "echo pseudo sudoers",
		"cp a b && sudo ls /var/lib/boxcraft/x y": "cp a b && ls /var/lib/boxcraft/x y",
	} {
		if got := WithoutSudo(in); got != want {
			t.Errorf("WithoutSudo(%q) = %q, want %q", in, got, want)
		}
	}
}
