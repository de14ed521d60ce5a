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
#include <time.h>
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
	int cut; // out of memory once: the rest is dropped, not garbled
};

static void put(struct buf *b, const char *s, size_t n)
{
	if (b->cut)
		return;
	if (b->len + n + 1 > b->cap) {
		size_t cap = 2 * (b->len + n + 1);
		char *p = realloc(b->p, cap);
		if (p == NULL) {
			b->cut = 1; // the line is cut short: it is only the trace
			return;
		}
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

// end_line adds the failure, if any, as package trace writes one (its
// errno's name, then the message), ends the line and writes it.
static void end_line(struct buf *b, const struct failure *f)
{
	const char *name = f != NULL && f->err != 0 ? strerrorname_np(f->err) : NULL;

	if (f != NULL && trace_json) {
		if (name != NULL) {
			puts_(b, ",\"errno\":\"");
			puts_(b, name);
			puts_(b, "\"");
		}
		puts_(b, ",\"error\":\"");
		put_json(b, f->msg);
		puts_(b, "\"");
	} else if (f != NULL) {
		puts_(b, "  ");
		puts_(b, name != NULL ? name : "failed");
		puts_(b, ": ");
		puts_(b, f->msg);
	}
	puts_(b, trace_json ? "}\n" : "\n");
	if (b->p != NULL && write(trace_fd, b->p, b->len) < 0) {
		// The trace's reader is gone: the exec goes on without it.
	}
	free(b->p);
}

void trace_step(const struct step *s, int64_t start, const struct failure *f)
{
	struct buf b = {0};

	if (trace_fd < 0 || s->line[0] == '\0')
		return;
	begin_line(&b, start, now_ns() - start);
	puts_(&b, s->line);
	end_line(&b, f);
}

// trace_exec is the exec's line: its mark just before execve (took 0),
// or its failure. The line holds nsenter.PathMark where path goes.
void trace_exec(const struct step *s, const char *path, const struct failure *f)
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
	end_line(&b, f);
}

void fail_step(const struct step *s, int64_t start, const struct failure *f)
{
	struct buf b = {0};

	if (s->op != 'x') // the exec's step traced its failure itself
		trace_step(s, start, f);
	putf(&b, "{\"status\":%d,\"message\":\"", f->status);
	put_json(&b, f->msg);
	puts_(&b, "\"}\n");
	if (b.p == NULL || write(REPORT_FD, b.p, b.len) < 0)
		dprintf(2, "boxcraft-exec-init: %s\n", f->msg);
	_exit(f->status);
}

int failf(struct failure *f, int status, int err, const char *format, ...)
{
	size_t at;
	va_list ap;
	int n;

	va_start(ap, format);
	n = vsnprintf(f->msg, sizeof f->msg, format, ap);
	va_end(ap);
	at = n < 0 ? 0 : (size_t)n;
	if (err != 0 && at < sizeof f->msg)
		snprintf(f->msg + at, sizeof f->msg - at, ": %s", lower_strerror(err));
	f->status = status;
	f->err = err;
	return status;
}

// utf8_len is the length of the valid UTF-8 sequence at s, or 0 for
// one Go does not take as a rune (overlong, a surrogate, past U+10FFFF).
static int utf8_len(const unsigned char *s)
{
	unsigned char lo = 0x80, hi = 0xbf;
	int n, i;

	if (s[0] >= 0xc2 && s[0] <= 0xdf)
		n = 2;
	else if (s[0] >= 0xe0 && s[0] <= 0xef)
		n = 3;
	else if (s[0] >= 0xf0 && s[0] <= 0xf4)
		n = 4;
	else
		return 0;
	if (s[0] == 0xe0)
		lo = 0xa0;
	else if (s[0] == 0xed)
		hi = 0x9f;
	else if (s[0] == 0xf0)
		lo = 0x90;
	else if (s[0] == 0xf4)
		hi = 0x8f;
	if (s[1] < lo || s[1] > hi)
		return 0;
	for (i = 2; i < n; i++)
		if ((s[i] & 0xc0) != 0x80)
			return 0;
	return n;
}

void go_quote(const char *s, char *out, size_t n)
{
	const unsigned char *p = (const unsigned char *)s;
	size_t i = 0;
	int len;

	// Room for the widest escape (\u0085, or 4 bytes of UTF-8), the
	// closing quote and the NUL.
	if (n < 10) {
		if (n > 0)
			out[0] = '\0';
		return;
	}
	out[i++] = '"';
	while (*p && i + 8 < n) {
		const char *esc = NULL;
		switch (*p) {
		case '"': esc = "\\\""; break;
		case '\\': esc = "\\\\"; break;
		case '\a': esc = "\\a"; break;
		case '\b': esc = "\\b"; break;
		case '\f': esc = "\\f"; break;
		case '\n': esc = "\\n"; break;
		case '\r': esc = "\\r"; break;
		case '\t': esc = "\\t"; break;
		case '\v': esc = "\\v"; break;
		}
		if (esc != NULL) {
			memcpy(out + i, esc, 2);
			i += 2;
			p++;
		} else if (*p < 0x20 || *p == 0x7f) {
			i += (size_t)snprintf(out + i, n - i, "\\x%02x", *p++);
		} else if (*p < 0x80) {
			out[i++] = (char)*p++;
		} else if ((len = utf8_len(p)) == 0) {
			i += (size_t)snprintf(out + i, n - i, "\\x%02x", *p++); // not UTF-8
		} else if (len == 2 && p[0] == 0xc2 && p[1] < 0xa0) {
			i += (size_t)snprintf(out + i, n - i, "\\u%04x", p[1]); // C1 controls
			p += 2;
		} else {
			memcpy(out + i, p, (size_t)len); // printable, as Go takes most runes
			i += (size_t)len;
			p += len;
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
