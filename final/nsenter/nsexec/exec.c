//go:build cgo

// exec.c: the plan's last step, the command found as a shell finds it
// and executed, with Docker's statuses: 127 for a command that is not
// there, 126 for one that cannot run (containerinit's execCommand, whose
// messages these are word for word).
#define _GNU_SOURCE
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "nsexec.h"

// check tells a file that can run (0) from a missing one (-1, ENOENT,
// msg untouched, when the name has no slash and PATH goes on) and from
// one that cannot run (the status, with msg).
static int check(const char *name, const char *path, char *msg, size_t n)
{
	char quoted[4096 * 4 + 3];
	struct stat st;

	go_quote(name, quoted, sizeof quoted);
	if (stat(path, &st) < 0) {
		if (errno == ENOENT && strchr(name, '/') == NULL)
			return -1;
		if (errno == ENOENT) {
			snprintf(msg, n, "exec %s: no such file or directory", quoted);
			return 127;
		}
		snprintf(msg, n, "exec %s: stat %s: %s", quoted, path, lower_strerror(errno));
		return 126;
	}
	if (S_ISDIR(st.st_mode)) {
		snprintf(msg, n, "exec %s: is a directory", quoted);
		return 126;
	}
	if (access(path, X_OK) < 0) {
		snprintf(msg, n, "exec %s: permission denied", quoted);
		return 126;
	}
	return 0;
}

// look_up finds name in each folder of PATH (an empty one is the working
// folder), or as it is when it has a slash; the path, in found.
static int look_up(const char *name, const char *path, char *found, size_t size, char *msg, size_t n)
{
	char quoted[4096 * 4 + 3];
	const char *dir = path, *end;
	int status;

	if (strchr(name, '/') != NULL) {
		snprintf(found, size, "%s", name);
		return check(name, name, msg, n);
	}
	for (;;) {
		end = strchrnul(dir, ':');
		if (end == dir)
			snprintf(found, size, "%s", name);
		else
			snprintf(found, size, "%.*s/%s", (int)(end - dir), dir, name);
		status = check(name, found, msg, n);
		if (status >= 0)
			return status;
		if (*end == '\0')
			break;
		dir = end + 1;
	}
	go_quote(name, quoted, sizeof quoted);
	snprintf(msg, n, "exec %s: executable file not found in $PATH", quoted);
	return 127;
}

int exec_command(const struct step *s, char *msg, size_t n)
{
	uint32_t argc = (uint32_t)atoi(s->args[1]), envc, i;
	char **argv, **envp, path[8192];
	int status;

	if (argc == 0 || s->nargs < 2 + argc) {
		snprintf(msg, n, "no command: give one, or use an image that has an Entrypoint or Cmd");
		return 125;
	}
	envc = s->nargs - 2 - argc;
	argv = calloc(argc + 1, sizeof *argv);
	envp = calloc(envc + 1, sizeof *envp);
	if (argv == NULL || envp == NULL) {
		snprintf(msg, n, "exec: out of memory");
		return 125;
	}
	for (i = 0; i < argc; i++)
		argv[i] = (char *)s->args[2 + i];
	for (i = 0; i < envc; i++)
		envp[i] = (char *)s->args[2 + argc + i];
	status = look_up(argv[0], s->args[0], path, sizeof path, msg, n);
	if (status != 0) {
		trace_exec(s, argv[0], msg);
		return status;
	}
	// Reported before it happens: an execve that succeeds closes the
	// trace's pipe and cannot say so.
	trace_exec(s, path, NULL);
	execve(path, argv, envp);
	status = errno == ENOENT ? 127 : 126; // ENOENT: a script whose interpreter is missing
	snprintf(msg, n, "exec %s: %s", argv[0], lower_strerror(errno));
	trace_exec(s, path, msg);
	return status;
}
