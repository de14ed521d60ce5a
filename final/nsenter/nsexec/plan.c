//go:build cgo

// plan.c reads the plan boxcraft exec wrote (package nsenter's Plan) and
// takes its steps in order: exec-init's child never starts the Go
// runtime.
#define _GNU_SOURCE
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "nsexec.h"

// The most fields one step may hold (argv and env are one step's):
// far more than a command line can.
#define MAX_FIELDS (1 << 20)

void bad_plan(const char *what)
{
	dprintf(REPORT_FD, "{\"status\":125,\"message\":\"boxcraft-exec-init: %s\"}\n", what);
	_exit(125);
}

unsigned long long number(const char *s, unsigned long long max)
{
	unsigned long long n;
	char *end;

	errno = 0;
	n = strtoull(s, &end, 10);
	if (end == s || *end != '\0' || errno != 0 || n > max || s[0] == '-')
		bad_plan("a plan's number is not one");
	return n;
}

// read_all reads the settings pipe to its end: boxcraft exec closes it
// once the plan is written.
static char *read_all(size_t *len)
{
	size_t cap = 16384, n = 0;
	char *buf = malloc(cap);
	ssize_t r;

	for (;;) {
		if (buf == NULL)
			bad_plan("out of memory for the plan");
		if (n == cap)
			buf = realloc(buf, cap *= 2);
		if (buf == NULL)
			bad_plan("out of memory for the plan");
		r = read(SETTINGS_FD, buf + n, cap - n);
		if (r < 0 && errno == EINTR)
			continue;
		if (r < 0)
			bad_plan("read the plan");
		if (r == 0)
			break;
		n += (size_t)r;
	}
	close(SETTINGS_FD);
	*len = n;
	return buf;
}

static uint32_t u32(const char *p)
{
	const unsigned char *u = (const unsigned char *)p;
	return (uint32_t)u[0] | (uint32_t)u[1] << 8 | (uint32_t)u[2] << 16 | (uint32_t)u[3] << 24;
}

// min_args is how many arguments each step needs at least; -1 for an
// op that is not one.
static int min_args(char op)
{
	switch (op) {
	case 'c': case 'k': case 'n': case 'r':
		return 0;
	case 's': case 'd': case 'o': case 'f':
		return 1;
	case 'i': case 'x': case 'b':
		return 2;
	case 'T': case 'u':
		return 3;
	case 'p': case 't':
		return 4;
	}
	return -1;
}

// parse_step reads the step at *pos into s: its fields point into buf,
// each ending in the NUL that follows it there.
static void parse_step(const char *buf, size_t len, size_t *pos, struct step *s)
{
	size_t at = *pos;
	uint32_t count, i;
	const char **fields;
	uint32_t *lens;

	if (len - at < 5)
		bad_plan("a plan's step is cut short");
	s->op = buf[at];
	count = u32(buf + at + 1);
	at += 5;
	if (min_args(s->op) < 0)
		bad_plan("a plan's step is of no kind known");
	if (count < 1 + (uint32_t)min_args(s->op) || count > MAX_FIELDS)
		bad_plan("a plan's step has too few fields, or too many");
	fields = calloc(count, sizeof *fields);
	lens = calloc(count, sizeof *lens);
	if (fields == NULL || lens == NULL)
		bad_plan("out of memory for the plan");
	for (i = 0; i < count; i++) {
		if (len - at < 4)
			bad_plan("a plan's field is cut short");
		lens[i] = u32(buf + at);
		at += 4;
		if (len - at < (size_t)lens[i] + 1 || buf[at + lens[i]] != '\0')
			bad_plan("a plan's field is cut short");
		fields[i] = buf + at;
		at += lens[i] + 1;
	}
	s->line = fields[0];
	s->nargs = count - 1;
	s->args = fields + 1;
	s->lens = lens + 1;
	*pos = at;
}

void run_plan(void)
{
	size_t len, pos = 0;
	char *buf = read_all(&len);
	struct failure f;
	struct step s;
	int64_t start;
	int closed = 0;

	if (len == 0)
		bad_plan("no plan on the settings pipe: started by boxcraft exec, not by hand");
	while (pos < len) {
		parse_step(buf, len, &pos, &s);
		if (s.op == 'T') {
			set_trace(s.args[0], (int)number(s.args[1], 1 << 20), (int64_t)number(s.args[2], INT64_MAX));
			continue;
		}
		// The command inherits none of boxcraft's descriptors: a plan
		// marks them close-on-exec before it execs, or is not one.
		closed |= s.op == 'c';
		if (s.op == 'x' && !closed)
			bad_plan("the plan execs without closing inherited files first");
		if (s.op == 'r' && s.nargs % 4 != 0)
			bad_plan("the rlimits step has not four fields a limit");
		start = now_ns();
		memset(&f, 0, sizeof f);
		if (take_step(&s, &f) != 0)
			fail_step(&s, start, &f);
		trace_step(&s, start, NULL);
	}
	bad_plan("the plan ends without an exec");
}
