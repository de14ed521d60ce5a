//go:build cgo

// report.c: what exec-init's child writes back to boxcraft exec: a line
// of --trace for each step (the times its own, the rest as boxcraft exec
// wrote it in the plan, so that package trace's format holds), and, when
// a step fails, the failure as containerinit.Failure's JSON on the
// report pipe.
#define _GNU_SOURCE
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "nsexec.h"

static int trace_fd = -1;
static int trace_json;
static int64_t trace_origin;

void set_trace(const char *mode, int fd, int64_t origin)
{
	if (mode[0] == '\0')
		return;
	trace_fd = fd;
	trace_json = strcmp(mode, "json") == 0;
	trace_origin = origin;
}

// now_ns is the wall clock: the origin is boxcraft exec's, another
// process's, and only the wall clock is shared.
int64_t now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_REALTIME, &ts);
	return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

// A growing buffer for one line: lines are written whole, by one write.
struct buf {
	char *p;
	size_t len, cap;
};

static void put(struct buf *b, const char *s, size_t n)
{
	if (b->len + n + 1 > b->cap) {
		size_t cap = 2 * (b->len + n + 1);
		char *p = realloc(b->p, cap);
		if (p == NULL)
			return; // the line is cut short: it is only the trace
		b->p = p;
		b->cap = cap;
	}
	memcpy(b->p + b->len, s, n);
	b->len += n;
	b->p[b->len] = '\0';
}

static void puts_(struct buf *b, const char *s) { put(b, s, strlen(s)); }

static void putf(struct buf *b, const char *format, ...)
{
	char small[128];
	va_list ap;
	int n;

	va_start(ap, format);
	n = vsnprintf(small, sizeof small, format, ap);
	va_end(ap);
	if (n > 0)
		put(b, small, (size_t)n < sizeof small ? (size_t)n : sizeof small - 1);
}

// put_json is s as a JSON string's contents.
static void put_json(struct buf *b, const char *s)
{
	for (; *s; s++) {
		unsigned char c = (unsigned char)*s;
		if (c == '"' || c == '\\') {
			char esc[2] = {'\\', (char)c};
			put(b, esc, 2);
		} else if (c < 0x20) {
			putf(b, "\\u%04x", c);
		} else {
			put(b, (const char *)&c, 1);
		}
	}
}

// ms is a duration as package trace gives it: whole microseconds.
static double ms(int64_t ns) { return (double)(ns / 1000) / 1000; }

// begin_line writes a line's times: at, since the origin, and took.
static void begin_line(struct buf *b, int64_t start, int64_t took)
{
	if (trace_json)
		putf(b, "{\"at_ms\":%.3f,\"took_ms\":%.3f", ms(start - trace_origin), ms(took));
	else
		putf(b, "%+8.2fms %7.2fms  ", ms(start - trace_origin), ms(took));
}

// end_line adds the error, if any, ends the line and writes it.
static void end_line(struct buf *b, const char *error)
{
	if (error != NULL && trace_json) {
		puts_(b, ",\"error\":\"");
		put_json(b, error);
		puts_(b, "\"");
	} else if (error != NULL) {
		puts_(b, "  failed: ");
		puts_(b, error);
	}
	puts_(b, trace_json ? "}\n" : "\n");
	if (b->p != NULL && write(trace_fd, b->p, b->len) < 0) {
		// The trace's reader is gone: the exec goes on without it.
	}
	free(b->p);
}

void trace_step(const struct step *s, int64_t start, const char *error)
{
	struct buf b = {0};

	if (trace_fd < 0 || s->line[0] == '\0')
		return;
	begin_line(&b, start, now_ns() - start);
	puts_(&b, s->line);
	end_line(&b, error);
}

// trace_exec is the exec's line: its mark just before execve (took 0),
// or its failure. The line holds nsenter.PathMark where path goes.
void trace_exec(const struct step *s, const char *path, const char *error)
{
	struct buf b = {0};
	const char *mark;
	char quoted[4096 * 4 + 3];

	if (trace_fd < 0 || s->line[0] == '\0')
		return;
	begin_line(&b, now_ns(), 0);
	mark = strstr(s->line, "@PATH@");
	if (mark == NULL) {
		puts_(&b, s->line);
	} else {
		put(&b, s->line, (size_t)(mark - s->line));
		go_quote(path, quoted, sizeof quoted);
		if (trace_json)
			put_json(&b, quoted);
		else
			puts_(&b, quoted);
		puts_(&b, mark + strlen("@PATH@"));
	}
	end_line(&b, error);
}

void fail_step(const struct step *s, int64_t start, int status, const char *msg)
{
	struct buf b = {0};

	if (s->op != 'x')
		trace_step(s, start, msg);
	putf(&b, "{\"status\":%d,\"message\":\"", status);
	put_json(&b, msg);
	puts_(&b, "\"}\n");
	if (b.p == NULL || write(REPORT_FD, b.p, b.len) < 0)
		dprintf(2, "boxcraft-exec-init: %s\n", msg);
	_exit(status);
}

void go_quote(const char *s, char *out, size_t n)
{
	size_t i = 0;

	// Room for the widest escape (\xNN), the closing quote and the NUL.
	if (n < 8)
		return;
	out[i++] = '"';
	for (; *s && i + 6 < n; s++) {
		unsigned char c = (unsigned char)*s;
		switch (c) {
		case '"': case '\\':
			out[i++] = '\\';
			out[i++] = (char)c;
			break;
		case '\n': out[i++] = '\\'; out[i++] = 'n'; break;
		case '\t': out[i++] = '\\'; out[i++] = 't'; break;
		case '\r': out[i++] = '\\'; out[i++] = 'r'; break;
		default:
			if (c < 0x20 || c == 0x7f)
				i += (size_t)snprintf(out + i, n - i, "\\x%02x", c);
			else
				out[i++] = (char)c; // UTF-8 as it is, as Go's %q for printable runes
		}
	}
	out[i++] = '"';
	out[i] = '\0';
}

const char *lower_strerror(int err)
{
	static char text[256];

	snprintf(text, sizeof text, "%s", strerror(err));
	if (text[0] >= 'A' && text[0] <= 'Z' && !(text[1] >= 'A' && text[1] <= 'Z'))
		text[0] = (char)(text[0] - 'A' + 'a');
	return text;
}
