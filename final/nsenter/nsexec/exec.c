//go:build cgo

// exec.c: the plan's last step, the command found as a shell finds it
// and executed, with Docker's statuses: 127 for a command that is not
// there, 126 for one that cannot run (containerinit's execCommand, whose
// messages these are).
#define _GNU_SOURCE
#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "nsexec.h"

// check tells a file that can run (0) from a missing one (-1, f
// untouched, when the name has no slash and PATH goes on) and from one
// that cannot run (the status, with f).
static int check(const char *name, const char *path, struct failure *f)
{
	char quoted[PATH_MAX * 2];
	struct stat st;

	go_quote(name, quoted, sizeof quoted);
	if (stat(path, &st) < 0) {
		if (errno == ENOENT && strchr(name, '/') == NULL)
			return -1;
		if (errno == ENOENT)
			return failf(f, 127, 0, "exec %s: no such file or directory", quoted);
		return failf(f, 126, errno, "exec %s: stat %s", quoted, path);
	}
	// The errno is the trace's, not the words'.
	if (S_ISDIR(st.st_mode)) {
		failf(f, 126, 0, "exec %s: is a directory", quoted);
		f->err = EISDIR;
		return 126;
	}
	if (access(path, X_OK) < 0) {
		int err = errno;
		failf(f, 126, 0, "exec %s: permission denied", quoted);
		f->err = err;
		return 126;
	}
	return 0;
}

// look_up finds name in each folder of PATH (an empty one is the working
// folder; an empty PATH has none), or as it is when it has a slash; the
// path, in found.
static int look_up(const char *name, const char *path, char *found, size_t size, struct failure *f)
{
	char quoted[PATH_MAX * 2];
	const char *dir = path, *end;
	size_t len;
	int n, status;

	if (strchr(name, '/') != NULL) {
		if ((size_t)snprintf(found, size, "%s", name) >= size)
			return failf(f, 126, ENAMETOOLONG, "exec %s", name);
		return check(name, name, f);
	}
	while (*path != '\0') { // Go's filepath.SplitList("") is no folder at all
		end = strchrnul(dir, ':');
		len = (size_t)(end - dir);
		while (len > 1 && dir[len - 1] == '/')
			len--; // as filepath.Join: /usr/bin/ and /usr/bin alike
		if (len == 0)
			n = snprintf(found, size, "%s", name);
		else if (len == 1 && dir[0] == '/')
			n = snprintf(found, size, "/%s", name);
		else
			n = snprintf(found, size, "%.*s/%s", (int)len, dir, name);
		if (n < 0 || (size_t)n >= size)
			return failf(f, 126, ENAMETOOLONG, "exec %s", name);
		status = check(name, found, f);
		if (status >= 0)
			return status;
		if (*end == '\0')
			break;
		dir = end + 1;
	}
	go_quote(name, quoted, sizeof quoted);
	return failf(f, 127, 0, "exec %s: executable file not found in $PATH", quoted);
}

int exec_command(const struct step *s, struct failure *f)
{
	char **argv, **envp, path[PATH_MAX];
	unsigned long long argc = number(s->args[1], s->nargs - 2);
	uint32_t envc, i;
	int status;

	if (argc == 0)
		bad_plan("the exec's step has no command (boxcraft exec refuses none)");
	envc = s->nargs - 2 - (uint32_t)argc;
	argv = calloc(argc + 1, sizeof *argv);
	envp = calloc(envc + 1, sizeof *envp);
	if (argv == NULL || envp == NULL)
		return failf(f, 125, ENOMEM, "exec %s", s->args[2]);
	for (i = 0; i < argc; i++)
		argv[i] = (char *)s->args[2 + i];
	for (i = 0; i < envc; i++)
		envp[i] = (char *)s->args[2 + argc + i];
	status = look_up(argv[0], s->args[0], path, sizeof path, f);
	if (status != 0) {
		trace_exec(s, argv[0], f);
		return status;
	}
	// Reported before it happens: an execve that succeeds closes the
	// trace's pipe and cannot say so.
	trace_exec(s, path, NULL);
	execve(path, argv, envp);
	status = errno == ENOENT ? 127 : 126; // ENOENT: a script whose interpreter is missing
	failf(f, status, errno, "exec %s", argv[0]);
	trace_exec(s, path, f);
	return status;
}
