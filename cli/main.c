/* SPDX-License-Identifier: MIT */
/*
 * main.c — `pshm <subcommand>`: dispatch, --help, --version.
 */
#include <locale.h>
#include <stdio.h>
#include <string.h>

#include "cli.h"

static const struct {
	const char *name;
	cli_fn fn;
	const char *summary;
} commands[] = {
	{ "ls", cmd_ls, "list segments in /dev/shm" },
	{ "stat", cmd_stat, "describe one segment" },
	{ "who", cmd_who, "processes that map a segment or hold it open" },
	{ "cat", cmd_cat, "copy a segment's bytes to standard output" },
	{ "dump", cmd_dump, "hex and ASCII dump of a segment" },
	{ "create", cmd_create, "create a raw segment" },
	{ "write", cmd_write, "write bytes into a segment" },
	{ "rm", cmd_rm, "remove segments" },
	{ "gc", cmd_gc, "find (and remove) abandoned segments" },
	{ "doctor", cmd_doctor, "check /dev/shm, namespaces and limits; say what to fix" },
	{ "put", cmd_put, "store a value in a checked box" },
	{ "get", cmd_get, "print a box's value after checking it" },
	{ "verify", cmd_verify, "check the integrity of boxes" },
	{ "publish", cmd_publish, "serve a sealed, read-only snapshot of a file" },
	{ "fetch", cmd_fetch, "print a sealed snapshot" },
	{ "chan", cmd_chan, "create or describe a message channel" },
	{ "send", cmd_send, "send messages to a channel" },
	{ "recv", cmd_recv, "receive messages from a channel" },
	{ "topic", cmd_topic, "create, describe or remove a publish/subscribe topic" },
	{ "pub", cmd_pub, "publish messages to a topic (publish is for snapshots)" },
	{ "sub", cmd_sub, "receive a topic's messages" },
	{ "service", cmd_service, "create, describe or remove a request/response service" },
	{ "serve", cmd_serve, "answer a service's requests with a command" },
	{ "call", cmd_call, "send a request to a service and print the reply" },
	{ "bridge", cmd_bridge, "carry a channel or topic to another machine (NNG)" },
};

static void usage(FILE *f)
{
	fprintf(f, "usage: pshm [-h | --help | -V | --version] <command> [options] [args]\n\n"
		   "POSIX shared memory from the shell: see, read, write and clean /dev/shm.\n\n"
		   "commands:\n");
	for (size_t i = 0; i < sizeof(commands) / sizeof(commands[0]); i++)
		fprintf(f, "  %-8s %s\n", commands[i].name, commands[i].summary);
	fprintf(f, "\n'pshm <command> --help' describes a command. See pshm(1).\n");
}

/* "pshm: <what>" about @arg (escaped) and the hint to --help: EXIT_USAGE. */
static int top_usage(const char *fmt, const char *arg, const char *arg2)
{
	char esc[CLI_ESC_MAX];
	fflush(stdout);
	fprintf(stderr, "pshm: ");
	fprintf(stderr, fmt, cli_esc(arg, esc, sizeof(esc)), arg2);
	fprintf(stderr, "\nTry 'pshm --help'.\n");
	return EXIT_USAGE;
}

int main(int argc, char **argv)
{
	/* Names print as they are in the user's character set (see cli_esc()). */
	setlocale(LC_CTYPE, "");
	if (argc < 2) {
		usage(stderr);
		return EXIT_USAGE;
	}
	const char *cmd = argv[1];
	if (!strcmp(cmd, "--help") || !strcmp(cmd, "-h") || !strcmp(cmd, "help")) {
		usage(stdout);
		return EXIT_OK;
	}
	if (!strcmp(cmd, "--version") || !strcmp(cmd, "-V")) {
		if (argc > 2)
			return top_usage("unexpected argument '%s' after %s", argv[2], cmd);
		printf("pshm %s (libpshm %s)\n", PSHM_VERSION_STRING, pshm_version());
		return EXIT_OK;
	}
	for (size_t i = 0; i < sizeof(commands) / sizeof(commands[0]); i++)
		if (!strcmp(cmd, commands[i].name))
			return commands[i].fn(argc - 1, argv + 1);
	return top_usage(cmd[0] == '-' ? "unknown option '%s'" : "unknown command '%s'", cmd,
			 NULL);
}
