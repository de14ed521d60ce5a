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
func report(g *globals, err error) {
	msg := oneLine(err)
	fmt.Fprintln(os.Stderr, "boxcraft-runc:", msg)
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
		_ = json.NewEncoder(f).Encode(map[string]string{"level": "error", "msg": msg, "time": now})
		return
	}
	fmt.Fprintf(f, "time=%q level=error msg=%q\n", now, msg)
}
