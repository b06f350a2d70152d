/* cli/box.c — placeholder until this group is implemented. */
#include <stdio.h>

#include "cli.h"

int cmd_put(int argc, char **argv)
{
	(void)argc;
	return cli_failf(argv[0], "not implemented yet");
}

int cmd_get(int argc, char **argv)
{
	(void)argc;
	return cli_failf(argv[0], "not implemented yet");
}

int cmd_verify(int argc, char **argv)
{
	(void)argc;
	return cli_failf(argv[0], "not implemented yet");
}

int cmd_publish(int argc, char **argv)
{
	(void)argc;
	return cli_failf(argv[0], "not implemented yet");
}

int cmd_fetch(int argc, char **argv)
{
	(void)argc;
	return cli_failf(argv[0], "not implemented yet");
}

void cli_describe_box(const char *name, char *buf, size_t len)
{
	(void)name;
	snprintf(buf, len, "box");
}
