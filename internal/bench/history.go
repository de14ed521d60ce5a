package main

// The stability of the figures (issue 26): one session's lucky ratio is
// not a result. Each make bench adds its ratios to a history file beside
// the report, and the report gives each targeted ratio's range over the
// last five sessions on this machine.

import (
	"bufio"
	"encoding/json"
	"fmt"
	"os"
	"slices"
	"strings"
	"time"
)

// sessionsKept is how many sessions the stability line covers.
const sessionsKept = 5

// session is one make bench's ratios, by row (figure and anchor).
type session struct {
	When   time.Time          `json:"when"`
	Ratios map[string]float64 `json:"ratios"`
}

// historyPath is the history file beside the report at out.
func historyPath(out string) string {
	return strings.TrimSuffix(out, ".md") + "-history.jsonl"
}

// readHistory reads the sessions recorded so far; none when there is no
// history yet.
func readHistory(path string) ([]session, error) {
	f, err := os.Open(path)
	if os.IsNotExist(err) {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	defer f.Close()
	var sessions []session
	lines := bufio.NewScanner(f)
	for lines.Scan() {
		var s session
		if err := json.Unmarshal(lines.Bytes(), &s); err != nil {
			return nil, fmt.Errorf("%s: %w", path, err)
		}
		sessions = append(sessions, s)
	}
	return sessions, lines.Err()
}

// stability adds this session's ratios to the history at out and writes
// the range of each targeted ratio over the last sessions.
func (s *b) stability(out string) error {
	path := historyPath(out)
	sessions, err := readHistory(path)
	if err != nil {
		return err
	}
	now := session{When: time.Now().UTC(), Ratios: s.ratios}
	line, err := json.Marshal(now)
	if err != nil {
		return err
	}
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_APPEND, 0o644)
	if err != nil {
		return err
	}
	if _, err := fmt.Fprintf(f, "%s\n", line); err != nil {
		f.Close()
		return err
	}
	if err := f.Close(); err != nil {
		return err
	}
	sessions = append(sessions, now)
	if len(sessions) > sessionsKept {
		sessions = sessions[len(sessions)-sessionsKept:]
	}
	s.stabilityTable(sessions)
	return nil
}

// stabilityTable writes, for each row with a target, its lowest and
// highest ratio over the sessions, and in how many it met its target.
func (s *b) stabilityTable(sessions []session) {
	s.section("Stability: the last sessions",
		fmt.Sprintf("Each targeted ratio's range over the last %d `make bench` sessions on this machine (%s, which holds every session's ratios).", len(sessions), "docs/benchmarks-history.jsonl"),
		"| what | sessions | lowest | highest | target | sessions that met it |\n|---|---:|---:|---:|---|---:|\n")
	rows := make([]string, 0, len(s.targets))
	for row := range s.targets {
		rows = append(rows, row)
	}
	slices.Sort(rows)
	for _, row := range rows {
		var ratios []float64
		met := 0
		for _, session := range sessions {
			if r, ok := session.Ratios[row]; ok {
				ratios = append(ratios, r)
				if r > 0 && r <= s.targets[row] {
					met++
				}
			}
		}
		fmt.Fprintf(&s.report, "| %s | %d | %.2f× | %.2f× | ≤ %g× | %d |\n", row, len(ratios), slices.Min(ratios), slices.Max(ratios), s.targets[row], met)
	}
}
