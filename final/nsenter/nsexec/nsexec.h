//go:build cgo

// nsexec.h: what the constructor (nsexec.c), the plan's reader (plan.c),
// its steps (steps.c, terminal.c, exec.c) and what they write back
// (report.c) share.
#ifndef BOXCRAFT_NSEXEC_H
#define BOXCRAFT_NSEXEC_H

#include <stddef.h>
#include <stdint.h>

// The descriptors exec-init is started with (containerinit's numbers).
#define SETTINGS_FD 3 // the plan, read to its end
#define REPORT_FD 4   // a failure, as JSON; closed on exec when all went well

// A step of the plan (nsenter/plan.go): its op, its trace line without
// the times, its arguments (each ending in a NUL; lens, for a BPF
// program, which holds NULs).
struct step {
	char op;
	const char *line;
	uint32_t nargs;
	const char **args;
	const uint32_t *lens;
};

// A failure: the status to end with (125 for the set-up, 126 or 127 for
// the exec), the errno behind it (0 if none), and the whole message.
struct failure {
	int status;
	int err;
	char msg[8192];
};

// failf fills f: format's text, then ": " and err's text when err is
// not 0. It returns status.
int failf(struct failure *f, int status, int err, const char *format, ...) __attribute__((format(printf, 4, 5)));

// bad_plan ends the child when the plan itself is wrong: boxcraft exec
// wrote it, so this is a bug, said on the report pipe.
void bad_plan(const char *what) __attribute__((noreturn));

// number is a plan's decimal argument, up to max; anything else is a bad
// plan.
unsigned long long number(const char *s, unsigned long long max);

// run_plan reads the plan on SETTINGS_FD and takes its steps, the last
// of which execs the command.
void run_plan(void) __attribute__((noreturn));

// take_step makes a step's calls: 0, or a failure's status with f
// filled. The exec's step (exec_command) returns only if the exec failed.
int take_step(const struct step *s, struct failure *f);
int exec_command(const struct step *s, struct failure *f);
int make_terminal(const struct step *s, struct failure *f);

// The trace (report.c): set_trace from the plan's first step, then a
// line for each step taken.
void set_trace(const char *mode, int fd, int64_t origin);
int64_t now_ns(void);
void trace_step(const struct step *s, int64_t start, const struct failure *f);
void trace_exec(const struct step *s, const char *path, const struct failure *f);

// fail_step reports a failed step, on REPORT_FD and in the trace, and
// ends the process with its status.
void fail_step(const struct step *s, int64_t start, const struct failure *f) __attribute__((noreturn));

// go_quote is s as Go's %q writes it, into out of size n (cut short,
// closed with a quote, if it does not fit).
void go_quote(const char *s, char *out, size_t n);

// lower_strerror is strerror(err) as Go spells it: in lower case first.
const char *lower_strerror(int err);

#endif
