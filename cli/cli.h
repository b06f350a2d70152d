/*
 * cli.h — shared by the pshm command's source files. The command is a pure
 * client of <pshm.h>: it has no shared-memory logic of its own.
 */
#ifndef PSHM_CLI_H
#define PSHM_CLI_H

#include <signal.h>
#include <stdbool.h>
#include <stdint.h>

#include "pshm.h"

/* Exit statuses. */
enum { EXIT_OK = 0, EXIT_FAIL = 1, EXIT_USAGE = 2 };

/* One subcommand: argv[0] is its name. Returns the exit status. */
typedef int (*cli_fn)(int argc, char **argv);

/* Messages, all on stderr (standard output is flushed first). */
/* "pshm: <action> '<name>': <message for err>". Returns EXIT_FAIL. */
int cli_fail(const char *action, const char *name, int err);
/* "pshm: <action> '<name>': <formatted message>", the name escaped with
 * cli_esc(). Returns EXIT_FAIL. */
int cli_failn(const char *action, const char *name, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));
/* "pshm: <action>: <formatted message>". Returns EXIT_FAIL. */
int cli_failf(const char *action, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* "pshm <cmd>: <formatted message>" and a hint to --help. Returns
 * EXIT_USAGE. */
int cli_usage(const char *cmd, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* Report @err from an operation on the segment (or box) @name in the most
 * useful words: what is wrong with a bad name, what is there instead of a
 * regular file, why the open policy refused it and which option accepts
 * it; otherwise pshm_strerror(). Returns EXIT_FAIL. */
int cli_seg_fail(const char *action, const char *name, int err);
/* The message of cli_seg_fail(), written into @buf (or a static string). */
const char *cli_seg_why(const char *name, int err, char *buf, size_t len);

/* Options. Every subcommand calls cli_opt_start() before its getopt_long()
 * loop, with an option string that starts with ':' and without '+':
 * options may then follow operands (`pshm get NAME --force`), `--` ends
 * them, and getopt prints nothing itself. On '?' or ':', return
 * cli_bad_option(), which names the bad option (exit status 2). */
void cli_opt_start(void);
int cli_bad_option(const char *cmd, int c, char **argv);

/* Input and output. All return 0 or -errno. */
/* Read from @fd until @cap bytes or the end; *@got says how many. */
int cli_read_full(int fd, char *buf, size_t cap, size_t *got);
/* Read all of @fd into a malloc'd buffer (*@out, *@len). */
int cli_read_all(int fd, char **out, size_t *len);
/* Write all of @data to @fd. */
int cli_write_all(int fd, const void *data, size_t len);
/* Set by SIGINT and SIGTERM once cli_catch_stop() has run; the handler is
 * installed without SA_RESTART, so a blocking wait returns -EINTR. */
extern volatile sig_atomic_t cli_stop;
void cli_catch_stop(void);
/* Report that writing standard output failed with -@err: exit status. */
int cli_out_fail(const char *action, const char *name, int err);
/* Flush standard output and report any write error on it (closed pipe,
 * full disk), earlier ones included: EXIT_OK or the failure's status. */
int cli_finish_stdout(const char *action, const char *name);

/* Parse "4096", "64K", "1M", "2G" (powers of 1024; "KiB"/"k" accepted too).
 * The first character must be a digit (no space, no sign).
 * Returns 0 or -EINVAL / -ERANGE. */
int cli_parse_size(const char *s, uint64_t *out);
/* Parse a duration: "90", "90s", "1.5h", "10m", "2h", "7d": decimal digits
 * (and a point), then an optional unit. Seconds in *out. */
int cli_parse_duration(const char *s, double *out);
/* Parse an offset or a length: a size as above, or hexadecimal "0x1000". */
int cli_parse_offset(const char *s, uint64_t *out);
/* Parse a permission mode: octal digits, 1 to 777 ("600", "0640").
 * Returns 0 or -EINVAL. */
int cli_parse_mode(const char *s, mode_t *out);
/* Human size: "4.0K", "12M". */
const char *cli_human(uint64_t n, char *buf, size_t len);
/* JSON string literal of @s to stdout (quotes and escapes). Valid UTF-8
 * passes through; a byte that is not part of valid UTF-8 is written as
 * \u00XX (the byte's value), so the output is always valid JSON, though
 * such a byte reads back as the character U+00XX. */
void cli_json_str(const char *s);
/* @s with bytes that are not printable ASCII written as \xNN (and '\' as
 * "\\"), so that a hostile segment name cannot drive the terminal.
 * Truncated to fit @len; returns @buf. */
const char *cli_esc(const char *s, char *buf, size_t len);
/* Room for cli_esc() of any segment name. */
#define CLI_ESC_MAX (4 * 257 + 1)
/* "regular file", "symbolic link", "directory", "FIFO", ... */
const char *cli_type_name(mode_t m);
/* The same in one word, for listings: "regular", "symlink", "fifo", ... */
const char *cli_type_word(mode_t m);
/* The user's name, or the number if it has none. Returns @buf. */
const char *cli_user_name(uid_t uid, char *buf, size_t len);

/* Subcommands, by group (cli/seg.c, cli/box.c, cli/chan.c). */
int cmd_ls(int argc, char **argv);
int cmd_stat(int argc, char **argv);
int cmd_who(int argc, char **argv);
int cmd_cat(int argc, char **argv);
int cmd_dump(int argc, char **argv);
int cmd_create(int argc, char **argv);
int cmd_write(int argc, char **argv);
int cmd_rm(int argc, char **argv);
int cmd_gc(int argc, char **argv);

int cmd_put(int argc, char **argv);
int cmd_get(int argc, char **argv);
int cmd_verify(int argc, char **argv);
int cmd_publish(int argc, char **argv);
int cmd_fetch(int argc, char **argv);

int cmd_chan(int argc, char **argv);
int cmd_send(int argc, char **argv);
int cmd_recv(int argc, char **argv);

/* What `pshm ls` / `pshm stat` print about a box or a channel, in one short
 * phrase (e.g. "box, 12/64 bytes, seq 42"). Implemented by the box and
 * channel groups; NULL buf content means nothing to add. */
void cli_describe_box(const char *name, char *buf, size_t len);
void cli_describe_chan(const char *name, char *buf, size_t len);

#endif
