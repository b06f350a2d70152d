/* SPDX-License-Identifier: MIT */
/*
 * helpers.h — shared by the Criterion tests.
 */
#ifndef PSHM_TEST_HELPERS_H
#define PSHM_TEST_HELPERS_H

#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <sys/stat.h>
#include <sys/types.h>

/*
 * A segment name unique to this process and call: "/pshm-test-<tag>-<pid>-<n>".
 * Tests never use a name a person might (such as the lab's /posix_shm).
 * Every name handed out is remembered and removed by th_cleanup(), which
 * the test fixtures call (TH_FIXTURE) so a failed test leaves nothing.
 */
const char *th_name(const char *tag);
void th_cleanup(void);

/* Criterion fixture: .init = th_setup, .fini = th_cleanup. */
void th_setup(void);
#define TH_FIXTURE .init = th_setup, .fini = th_cleanup

/* Skip the test, removing its segments first: Criterion does not run a
 * fixture's .fini after cr_skip_test(), so a skipped test would leave in
 * /dev/shm every name it had made. Use it instead of cr_skip_test(). */
#define th_skip(...)                                                         \
	do {                                                                 \
		th_cleanup();                                                \
		cr_skip_test(__VA_ARGS__);                                   \
	} while (0)

/* Path in /dev/shm of a segment name ("/x" -> "/dev/shm/x"), written into
 * @buf; returns @buf. */
const char *th_path(const char *name, char *buf, size_t len);

/* lstat() of the /dev/shm entry of @name (asserting it exists). */
struct stat th_lstat(const char *name);
/* Is there an entry named @name in /dev/shm (of any type, never followed)? */
bool th_exists(const char *name);
/* Map the whole file /dev/shm/@name read-write, directly, as another tool
 * or an attacker would; its size in *@size. munmap() it when done. */
void *th_map_raw(const char *name, size_t *size);

/* Write a file in /dev/shm directly (as an attacker or another tool would). */
void th_write_file(const char *name, const void *data, size_t len, mode_t mode);

/*
 * Run a shell command line with /bin/sh -c, feeding @in (may be NULL) to its
 * stdin, capturing stdout and stderr (NUL-terminated, malloc'd, caller
 * frees; pass NULL to discard). Returns the exit status, or 128+signal if it
 * died of a signal.
 */
int th_run(const char *cmdline, const char *in, char **out, char **err);

/* th_run() of the pshm command under test with the arguments @fmt, ... (a
 * shell word list: quote what needs it). */
int th_pshm(const char *in, char **out, char **err, const char *fmt, ...)
	__attribute__((format(printf, 4, 5)));
int th_vpshm(const char *in, char **out, char **err, const char *fmt, va_list ap)
	__attribute__((format(printf, 4, 0)));

/*
 * Run fn(arg) in a child process that first drops to the unprivileged
 * user "nobody" (the tests run as root in CI). Returns the child's exit
 * status (fn's return value), or 128+signal. Skips the test (cr_skip) if
 * the process cannot change user (not root).
 */
int th_as_nobody(int (*fn)(void *), void *arg);

/*
 * A copy of the executable @path that any user may run, in a fresh
 * directory under /tmp, for commands run as nobody: the checkout itself
 * may sit in a directory only its owner can enter. Written into @buf;
 * th_public_remove() deletes the copy and its directory.
 */
const char *th_public_copy(const char *path, char *buf, size_t len);
void th_public_remove(const char *copy);

/*
 * Run fn() in a child process with a mount namespace of its own and a
 * private tmpfs of @size ("64k", "1m") on /dev/shm: a machine whose
 * /dev/shm is that small, the real one never filled. Returns fn's value,
 * or 128+signal; skips the test when not root or when the kernel refuses
 * the namespace or the mount.
 */
int th_in_small_shm(const char *size, int (*fn)(void));

/* Is the current process root? */
bool th_is_root(void);

/* Uid and gid of "nobody". */
void th_nobody(uid_t *uid, gid_t *gid);

#endif
