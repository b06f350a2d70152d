/*
 * cli.h — shared by the pshm command's source files. The command is a pure
 * client of <pshm.h>: it has no shared-memory logic of its own.
 */
#ifndef PSHM_CLI_H
#define PSHM_CLI_H

#include <stdbool.h>
#include <stdint.h>

#include "pshm.h"

/* Exit statuses. */
enum { EXIT_OK = 0, EXIT_FAIL = 1, EXIT_USAGE = 2 };

/* One subcommand: argv[0] is its name. Returns the exit status. */
typedef int (*cli_fn)(int argc, char **argv);

/* "pshm: <action> '<name>': <message for err>" on stderr. Returns EXIT_FAIL. */
int cli_fail(const char *action, const char *name, int err);
/* "pshm: <action> '<name>': <formatted message>" on stderr. Returns EXIT_FAIL. */
int cli_failn(const char *action, const char *name, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));
/* "pshm: <action>: <formatted message>" on stderr. Returns EXIT_FAIL. */
int cli_failf(const char *action, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* "pshm <cmd>: <formatted message>" and a hint to --help, on stderr.
 * Returns EXIT_USAGE. */
int cli_usage(const char *cmd, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/* Parse "4096", "64K", "1M", "2G" (powers of 1024; "KiB"/"k" accepted too).
 * Returns 0 or -EINVAL / -ERANGE. */
int cli_parse_size(const char *s, uint64_t *out);
/* Parse a duration: "90", "90s", "10m", "2h", "7d". Seconds in *out. */
int cli_parse_duration(const char *s, double *out);
/* Human size: "4.0K", "12M". */
const char *cli_human(uint64_t n, char *buf, size_t len);
/* JSON string literal of @s to stdout (quotes and escapes). */
void cli_json_str(const char *s);
/* @s with bytes that are not printable ASCII written as \xNN (and '\' as
 * "\\"), so that a hostile segment name cannot drive the terminal.
 * Truncated to fit @len; returns @buf. */
const char *cli_esc(const char *s, char *buf, size_t len);
/* Room for cli_esc() of any segment name. */
#define CLI_ESC_MAX (4 * 257 + 1)

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
