/* cli/chan.c — placeholder until this group is implemented. */
#include <stdio.h>

#include "cli.h"

int cmd_chan(int argc, char **argv)
{
	(void)argc;
	return cli_failf(argv[0], "not implemented yet");
}

int cmd_send(int argc, char **argv)
{
	(void)argc;
	return cli_failf(argv[0], "not implemented yet");
}

int cmd_recv(int argc, char **argv)
{
	(void)argc;
	return cli_failf(argv[0], "not implemented yet");
}

void cli_describe_chan(const char *name, char *buf, size_t len)
{
	(void)name;
	snprintf(buf, len, "channel");
}
