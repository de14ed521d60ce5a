//go:build cgo

// nsexec.h: what the constructor (nsexec.c), the plan's reader (plan.c),
// its steps (steps.c) and what they write back (report.c) share.
#ifndef BOXCRAFT_NSEXEC_H
#define BOXCRAFT_NSEXEC_H

#include <stdint.h>
#include <time.h>

// The descriptors exec-init is started with (containerinit's numbers).
#define SETTINGS_FD 3 // the plan, read to its end
#define REPORT_FD 4   // a failure, as JSON; closed on exec when all went well

// A step of the plan (nsenter/plan.go): its op, what its failure's
// message starts with, its trace line without the times, its arguments.
struct step {
	char op;
	const char *what;
	const char *line;
	uint32_t nargs;
	const char **args;
	const uint32_t *lens; // of each argument: a BPF program holds NULs
};

// run_plan reads the plan on SETTINGS_FD and takes its steps; it returns
// only if the plan is not one.
void run_plan(void);

// take_step makes a step's calls. It returns 0, or the status to end
// with (125 for the set-up, 126 or 127 for the exec) and msg, the whole
// message, in msg. The exec's step returns only if the exec failed.
int take_step(const struct step *s, char *msg, size_t n);

// The trace (report.c): set_trace from the plan's first step, then a
// line for each step taken.
void set_trace(const char *mode, int fd, int64_t origin);
int64_t now_ns(void);
void trace_step(const struct step *s, int64_t start, const char *error);
void trace_exec(const struct step *s, const char *path, const char *error);

// fail_step reports the step that failed, on REPORT_FD and in the trace,
// and ends the process with status (125 for the set-up, 126 or 127 for
// the exec). msg is the whole message.
void fail_step(const struct step *s, int64_t start, int status, const char *msg) __attribute__((noreturn));

// go_quote is s as Go's %q writes it, into out of size n.
void go_quote(const char *s, char *out, size_t n);

// lower_strerror is strerror(err) as Go spells it: in lower case first.
const char *lower_strerror(int err);

#endif
