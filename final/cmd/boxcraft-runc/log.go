package main

import (
	"encoding/json"
	"fmt"
	"os"
	"time"
)

// report says why a command failed: one line on stderr, and with --log
// one line in the log, as JSON with --log-format json, which is where
// containerd's shim reads a runtime's last error from.
func report(g *globals, err error) { logLine(g, "error", err) }

// warn says what went wrong without failing the command (a poststart or
// poststop hook's failure, as the runtime spec asks), as report does,
// at level warning.
func warn(g *globals, err error) { logLine(g, "warning", err) }

func logLine(g *globals, level string, err error) {
	msg := oneLine(err)
	prefix := "boxcraft-runc:"
	if level != "error" {
		prefix += " " + level + ":"
	}
	fmt.Fprintln(os.Stderr, prefix, msg)
	if g.log == "" {
		return
	}
	f, openErr := os.OpenFile(g.log, os.O_WRONLY|os.O_APPEND|os.O_CREATE, 0o600)
	if openErr != nil {
		return
	}
	defer f.Close()
	now := time.Now().UTC().Format(time.RFC3339Nano)
	if g.logFormat == "json" {
		_ = json.NewEncoder(f).Encode(map[string]string{"level": level, "msg": msg, "time": now})
		return
	}
	fmt.Fprintf(f, "time=%q level=%s msg=%q\n", now, level, msg)
}
