/* SPDX-License-Identifier: MIT */
/*
 * cli.h — shared by the pshm command's source files. The command is a pure
 * client of <pshm.h>: it has no shared-memory logic of its own.
 *
 *   main.c   dispatch
 *   opt.c    options, help texts and usage errors, for every subcommand
 *   out.c    messages, escaping, JSON strings, input and output
 *   parse.c  numbers, durations, modes, users
 *   why.c    errors explained: policy, kinds, file types
 *   ls.c     ls, stat, who          read.c   cat, dump
 *   write.c  create, write, rm      gc.c     gc
 *   doctor.c doctor (the system around /dev/shm; gc for the leftovers)
 *   box.c    put, get, verify, publish, fetch
 *   chan.c   chan create|stat, send, recv
 *   topic.c  topic create|stat|rm, pub, sub
 *   msg.c    messages in and out, for send, recv, pub and sub
 *   service.c service create|stat|rm, serve, call
 *   bridge*.c  bridge send|recv (NNG; see bridge.h)
 */
#ifndef PSHM_CLI_H
#define PSHM_CLI_H

#include <signal.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>

#include "pshm.h"

/* Exit statuses. */
/* A macro's value as a string literal: CLI_STR(PSHM_CHAN_MAX_PRODUCERS). */
#define CLI_STR_(x) #x
#define CLI_STR(x) CLI_STR_(x)

enum { EXIT_OK = 0, EXIT_FAIL = 1, EXIT_USAGE = 2 };

/* One subcommand: argv[0] is its name. Returns the exit status. */
typedef int (*cli_fn)(int argc, char **argv);

/* ---- options (opt.c) -------------------------------------------------------
 * Every option of every subcommand, once: one letter, one long name, one
 * meaning. A subcommand lists the ones it takes; -h/--help is always
 * there, and --allow-foreign/--allow-shared-write on every command that
 * opens a segment (policy). */
enum cli_opt {
	CLI_O_END = 0, /* ends a list */
	CLI_O_HELP,
	CLI_O_JSON,
	CLI_O_LONG,
	CLI_O_TEXT,
	CLI_O_OFFSET,
	CLI_O_COUNT,
	CLI_O_MODE,
	CLI_O_EXIST_OK,
	CLI_O_CREATE,
	CLI_O_NUL,
	CLI_O_FORCE,
	CLI_O_OLDER_THAN,
	CLI_O_YES,
	CLI_O_CAPACITY,
	CLI_O_DIR,
	CLI_O_UID,
	CLI_O_SIZE,
	CLI_O_MAX_MSG,
	CLI_O_MPSC,
	CLI_O_PRODUCERS,
	CLI_O_TIMEOUT,
	CLI_O_FOLLOW,
	CLI_O_ALLOW_FOREIGN,
	CLI_O_ALLOW_SHARED_WRITE,
	/* topics: --history is a count for `topic create` (CLI_O_HISTORY: the
	 * messages kept) and a flag for `sub` (CLI_O_FROM_HISTORY: start from
	 * them); one long name, two kinds, and no command takes both. */
	CLI_O_HISTORY,
	CLI_O_FROM_HISTORY,
	CLI_O_LOSSY,
	CLI_O_SUBSCRIBERS,
	/* services */
	CLI_O_CLIENTS,
	CLI_O_SERVERS,
	CLI_O_PERSISTENT,
	/* pshm bridge */
	CLI_O_STATS,
	CLI_O_LISTEN_ANY,
	CLI_O_WINDOW,
	CLI_O_TLS_CERT,
	CLI_O_TLS_KEY,
	CLI_O_TLS_CA,
	CLI_O_COUNT_OF
};

/* An option a subcommand takes, with its help for that subcommand (lines
 * after the first start with '\n'; NULL: the option's usual help). */
struct cli_optdoc {
	enum cli_opt id;
	const char *help;
};

/* A subcommand's interface: what --help prints and what is accepted. */
struct cli_cmd {
	const char *name;     /* "dump", "chan create" */
	const char *synopsis; /* after "usage: pshm NAME " */
	const char *text;     /* what it does, paragraphs ending in '\n' */
	const struct cli_optdoc *opts; /* ends with CLI_O_END; may be NULL */
	bool policy;          /* takes --allow-foreign, --allow-shared-write */
	int min, max;         /* operands; max < 0: no limit */
	int stop_after;       /* after this many operands, every argument is
			       * one (send's messages); 0: never */
	const char *operand;  /* "segment name": for "missing segment name" */
};

/* The operands, in order, and the policy flags given (PSHM_ALLOW_*). */
struct cli_args {
	int n;
	char **v;
	unsigned flags;
};

/* Called for each option (other than help and policy) with its argument.
 * Returns 0, or an exit status to stop at once (from cli_bad_value()). */
typedef int (*cli_opt_fn)(void *ctx, enum cli_opt id, const char *arg);

/* A cli_opt_fn for options without a value: @ctx is a bool[CLI_O_COUNT_OF],
 * set at each option given. */
int cli_opt_flag(void *ctx, enum cli_opt id, const char *arg);

/* Parse @argv (argv[0]: the subcommand) for @cmd: options may follow
 * operands, "--" ends them. Prints the help for -h/--help (EXIT_OK), and
 * names a bad option or operand count (EXIT_USAGE). Returns -1 to go on,
 * with the operands in @a (pointers into argv), or the exit status. */
int cli_options(const struct cli_cmd *cmd, int argc, char **argv, cli_opt_fn fn, void *ctx,
		struct cli_args *a);
/* @cmd's help text, on @f. */
void cli_help(const struct cli_cmd *cmd, FILE *f);
/* "pshm <cmd>: bad --<option> '<arg>' (<why>)" and the hint to --help:
 * EXIT_USAGE. */
int cli_bad_value(const struct cli_cmd *cmd, enum cli_opt id, const char *arg,
		  const char *why);
/* The usual value parsers, reporting with cli_bad_value(): 0 or the exit
 * status. A number: cli_parse_number()'s forms, from @min to @max. */
int cli_opt_number(const struct cli_cmd *cmd, enum cli_opt id, const char *arg, uint64_t min,
		   uint64_t max, uint64_t *out);
/* The same for a count of things (producers, messages): its error speaks
 * of a whole number, not of sizes. */
int cli_opt_count(const struct cli_cmd *cmd, enum cli_opt id, const char *arg, uint64_t min,
		  uint64_t max, uint64_t *out);
int cli_opt_mode(const struct cli_cmd *cmd, enum cli_opt id, const char *arg, mode_t *out);
int cli_opt_duration(const struct cli_cmd *cmd, enum cli_opt id, const char *arg, double *out);
/* "--mode": the option's name as typed in its long form. */
const char *cli_opt_name(enum cli_opt id);
/* "pshm <cmd>: <formatted message>" and a hint to --help. Returns
 * EXIT_USAGE. */
int cli_usage(const char *cmd, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/* A verb of a command that has verbs (pshm chan create, pshm topic stat). */
struct cli_verb {
	const char *name;
	int (*run)(int argc, char **argv); /* argv[0] is the verb */
};
/* Run the verb argv[1] of @cmd from @verbs (ended by a NULL name). With
 * -h, --help or help, @usage goes to standard output (EXIT_OK); with no
 * verb, to standard error (EXIT_USAGE); an unknown verb is named with the
 * list of those there are (EXIT_USAGE). */
int cli_verbs(const char *cmd, int argc, char **argv, const struct cli_verb *verbs,
	      void (*usage)(FILE *f));

/* ---- messages and output (out.c) -------------------------------------------
 * All on stderr (standard output is flushed first). */
/* "pshm: <action> '<name>': <message for err>". Returns EXIT_FAIL. */
int cli_fail(const char *action, const char *name, int err);
/* "pshm: <action> '<name>': <formatted message>", the name escaped with
 * cli_esc(). Returns EXIT_FAIL. */
int cli_failn(const char *action, const char *name, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));
/* "pshm: <action>: <formatted message>". Returns EXIT_FAIL. */
int cli_failf(const char *action, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/* Read from @fd until @cap bytes or the end; *@got says how many. 0 or
 * -errno. */
int cli_read_full(int fd, char *buf, size_t cap, size_t *got);
/* Read all of @fd into a malloc'd buffer (*@out, *@len). 0 or -errno. */
int cli_read_all(int fd, char **out, size_t *len);
/* Write all of @data to @fd. 0 or -errno. */
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

/* JSON string literal of @s to stdout (quotes and escapes). Valid UTF-8
 * passes through; a byte that is not part of valid UTF-8 is written as
 * \u00XX (the byte's value), so the output is always valid JSON. */
void cli_json_str(const char *s);
/* @s for a terminal: characters printable in the current locale (a UTF-8
 * name such as "données" under a UTF-8 locale) as they are; control
 * characters, invalid sequences, bidirectional controls and other bytes
 * as \xNN, '\' as "\\", so that a hostile name cannot drive the
 * terminal. Truncated to fit @len; returns @buf. */
const char *cli_esc(const char *s, char *buf, size_t len);
/* Room for cli_esc() of any segment name. */
#define CLI_ESC_MAX (4 * 257 + 1)
/* Human size: "4.0K", "12M". */
const char *cli_human(uint64_t n, char *buf, size_t len);
/* "512 bytes", "64K (65536 bytes)": a size for a sentence. */
const char *cli_size_words(uint64_t n, char *buf, size_t len);
/* The user's name, or the number if it has none. Returns @buf. */
const char *cli_user_name(uid_t uid, char *buf, size_t len);

/* ---- numbers (parse.c): one family, one syntax -----------------------------
 * Every number starts with a digit (no space, no sign). All return 0 or
 * -EINVAL / -ERANGE. */
/* A size, offset or count: decimal "4096" or hexadecimal "0x1000",
 * optionally followed by a binary unit: "64K", "1M", "2G", "1T" ("KiB",
 * "KB" and lower case too). */
int cli_parse_number(const char *s, uint64_t *out);
/* A duration in seconds: decimal digits and a point ("1.5"), then an
 * optional unit: s, m, h, d. At most CLI_DURATION_MAX seconds (1000 years:
 * beyond any file's age, even one backdated to 1900, and any useful
 * timeout; a timeout past int64 nanoseconds waits for ever): -ERANGE above
 * it, -EINVAL if malformed. */
#define CLI_DURATION_MAX_DAYS 365000
#define CLI_DURATION_MAX (CLI_DURATION_MAX_DAYS * 86400.0)
int cli_parse_duration(const char *s, double *out);
/* A permission mode: octal digits, 1 to 777 ("600", "0640"). */
int cli_parse_mode(const char *s, mode_t *out);
/* A user, by name or number. */
int cli_parse_uid(const char *s, uid_t *out);

/* ---- errors explained (why.c) ------------------------------------------- */
/* Report @err from an operation on the segment (or box, channel) @name in
 * the most useful words: what is wrong with a bad name, what is there
 * instead of a regular file, why the open policy refused it and which
 * option not in @flags accepts it; otherwise pshm_strerror(). Returns
 * EXIT_FAIL. */
int cli_seg_fail(const char *action, const char *name, int err, unsigned flags);
/* The message of cli_seg_fail(), written into @buf (or a static string). */
const char *cli_seg_why(const char *name, int err, unsigned flags, char *buf, size_t len);
/* "raw segment", "box", "channel", or the file type ("directory") */
const char *cli_kind_name(const struct pshm_stat *st);
/* When @name is not of @kind (PSHM_KIND_*), what it is: "is a box, not a
 * channel" into @buf, returning it; NULL if it is of @kind or unknown. */
const char *cli_kind_mismatch(const char *name, int kind, char *buf, size_t len);
/* `pshm chan|topic|service rm NAME...` (@cmd): remove each operand that is
 * a @kind with @unlink_fn; anything else is left alone, saying what it is.
 * The exit status. */
int cli_kind_rm(const struct cli_cmd *cmd, int kind, int (*unlink_fn)(const char *), int argc,
		char **argv);
/* "regular file", "symbolic link", "directory", "FIFO", ... */
const char *cli_type_name(mode_t m);
/* The same in one word, for listings: "regular", "symlink", "fifo", ... */
const char *cli_type_word(mode_t m);
/* -ENOSPC: say how much was asked for and how much is free. EXIT_FAIL. */
int cli_nospc_fail(const char *action, const char *name, uint64_t size);

/* ---- listings (ls.c), shared with gc.c ------------------------------------ */
/* Who uses the entries of a listing, from one scan of /proc. */
struct cli_users {
	long *count;   /* per entry; -1: not a segment, or unknown */
	int complete;  /* the scan saw every process */
};
/* 0 or -ENOMEM; the caller frees u->count. */
int cli_users_of(const struct pshm_stat *v, size_t n, struct cli_users *u);
/* Every entry of /dev/shm (*v, *n) and their users (*u). Returns -1 to go
 * on (the caller frees *v and u->count), or the exit status. */
int cli_listing(const char *cmd, struct pshm_stat **v, size_t *n, struct cli_users *u);

/* ---- messages between the shell and a ring (msg.c) ------------------------
 * For the commands that send (send, pub: NAME [MSG... | -]) and receive
 * (recv, sub: one message a line on standard output). */
/* Seconds, as cli_opt_duration() gives them, as a library timeout in
 * nanoseconds (PSHM_FOREVER beyond what int64 holds). */
int64_t cli_timeout_ns(double s);
/* Send one message: EXIT_OK, or the exit status after saying why not. */
typedef int (*cli_msg_put)(void *ctx, const void *msg, size_t len);
/* A '-' among several MSG operands: EXIT_USAGE; -1 to go on. Run it
 * before attaching. */
int cli_msg_check(const char *cmd, const struct cli_args *a);
/* put() each message of @a (operands: NAME then MSG...): the MSG operands,
 * or with none or '-' alone, each record of standard input (a line, or
 * with @nul a NUL-ended record) without its end. EXIT_OK or the status of
 * the first failure. */
int cli_msg_send(const struct cli_args *a, bool nul, cli_msg_put put, void *ctx);
/* How many messages @a sends: the MSG operands, or -1 for standard input. */
long long cli_msg_total(const struct cli_args *a);

/* -n, --follow and --timeout of a receiving command. */
#define CLI_TIMEOUT_UNSET INT64_MIN
struct cli_recv {
	uint64_t count;  /* stop after this many; 0: no limit */
	bool follow;     /* wait for more until the senders are gone */
	int64_t timeout; /* per message; CLI_TIMEOUT_UNSET: 0, or for ever with
			  * -n or --follow */
};
/* A cli_opt_fn's work for -n, --follow and --timeout; 0 or EXIT_USAGE. */
int cli_recv_opt(const struct cli_cmd *cmd, struct cli_recv *o, enum cli_opt id,
		 const char *arg);
/* Wait at most @timeout_ns for the next message, write it out, take it:
 * 0, -errno from the library, or CLI_WRITE_FAILED with the write's errno
 * in *@werr. */
#define CLI_WRITE_FAILED (-100000)
typedef int (*cli_msg_get)(void *ctx, int64_t timeout_ns, int *werr);
/* get() messages as @o asks, stopping at SIGINT or SIGTERM (cli_catch_stop()
 * first): without -n, running dry, the senders leaving (-EPIPE) or an
 * interruption ends it with EXIT_OK; with -n, stopping short fails,
 * saying "@gone after N of M messages" for -EPIPE. Returns the status. */
int cli_msg_recv(const char *name, const struct cli_recv *o, const char *gone, cli_msg_get get,
		 void *ctx);
/* Write @len bytes of @msg and then @end to standard output, whole: 0 or
 * -errno. */
int cli_msg_write(const void *msg, size_t len, char end);

/* ---- subcommands -------------------------------------------------------- */
int cmd_ls(int argc, char **argv);
int cmd_stat(int argc, char **argv);
int cmd_who(int argc, char **argv);
int cmd_cat(int argc, char **argv);
int cmd_dump(int argc, char **argv);
int cmd_create(int argc, char **argv);
int cmd_write(int argc, char **argv);
int cmd_rm(int argc, char **argv);
int cmd_gc(int argc, char **argv);
int cmd_doctor(int argc, char **argv);

int cmd_put(int argc, char **argv);
int cmd_get(int argc, char **argv);
int cmd_verify(int argc, char **argv);
int cmd_publish(int argc, char **argv);
int cmd_fetch(int argc, char **argv);

int cmd_chan(int argc, char **argv);
int cmd_send(int argc, char **argv);
int cmd_recv(int argc, char **argv);

int cmd_topic(int argc, char **argv);
int cmd_pub(int argc, char **argv);
int cmd_sub(int argc, char **argv);
int cmd_service(int argc, char **argv);
int cmd_serve(int argc, char **argv);
int cmd_call(int argc, char **argv);
/* bridge.c (with NNG; without, it says it is unavailable) */
int cmd_bridge(int argc, char **argv);

/* What `pshm ls` / `pshm stat` print about a box or a channel, in one short
 * phrase (e.g. "box, 12/64 bytes, seq 42"). Implemented by the box and
 * channel groups. */
void cli_describe_box(const char *name, char *buf, size_t len);
void cli_describe_chan(const char *name, char *buf, size_t len);
void cli_describe_topic(const char *name, char *buf, size_t len);

#endif
