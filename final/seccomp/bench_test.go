package seccomp

import (
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/boxcraft/boxcraft/final/spec"
	"golang.org/x/sys/unix"
)

// benchEnv asks the re-executed child for a getpid loop of that many
// calls under its profile (childEnv), timed from inside.
const benchEnv = "BOXCRAFT_SECCOMP_BENCH"

// BenchmarkGetpid is what the filter costs a system call: getpid, the
// cheapest there is, in a loop, with no filter and with Docker's
// default profile (getpid is near the start of the filter's list; a call
// near its end, or one it refuses, costs more). Each runs in a child of
// its own, as a filter cannot be taken off:
//
//	go test -run '^$' -bench Getpid ./final/seccomp/
func BenchmarkGetpid(b *testing.B) {
	for _, bench := range []struct {
		name    string
		profile *spec.Seccomp
	}{{"unconfined", nil}, {"default-profile", Default(dockerCaps)}} {
		b.Run(bench.name, func(b *testing.B) {
			profile, _ := json.Marshal(bench.profile)
			cmd := exec.Command(os.Args[0])
			cmd.Env = append(os.Environ(), childEnv+"="+string(profile), benchEnv+"="+strconv.Itoa(b.N))
			out, err := cmd.Output()
			if err != nil {
				b.Fatalf("the child: %v", err)
			}
			ns, err := strconv.ParseFloat(strings.TrimSpace(string(out)), 64)
			if err != nil {
				b.Fatalf("the child's report %q: %v", out, err)
			}
			b.ReportMetric(ns, "ns/getpid")
		})
	}
}

// getpidLoop installs f and prints the nanoseconds one getpid takes.
func getpidLoop(f *spec.Seccomp, n int) int {
	if err := unix.Prctl(unix.PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0); err != nil {
		return fail(err)
	}
	if err := Install(f, nil); err != nil {
		return fail(err)
	}
	start := time.Now()
	for range n {
		unix.RawSyscall(unix.SYS_GETPID, 0, 0, 0)
	}
	fmt.Println(float64(time.Since(start).Nanoseconds()) / float64(max(n, 1)))
	return 0
}
