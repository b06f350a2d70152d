/* cli/seg.c — placeholder until this group is implemented. */
#include <stdio.h>

#include "cli.h"

int cmd_ls(int argc, char **argv)
{
	(void)argc;
	return cli_failf(argv[0], "not implemented yet");
}

int cmd_stat(int argc, char **argv)
{
	(void)argc;
	return cli_failf(argv[0], "not implemented yet");
}

int cmd_who(int argc, char **argv)
{
	(void)argc;
	return cli_failf(argv[0], "not implemented yet");
}

int cmd_cat(int argc, char **argv)
{
	(void)argc;
	return cli_failf(argv[0], "not implemented yet");
}

int cmd_dump(int argc, char **argv)
{
	(void)argc;
	return cli_failf(argv[0], "not implemented yet");
}

int cmd_create(int argc, char **argv)
{
	(void)argc;
	return cli_failf(argv[0], "not implemented yet");
}

int cmd_write(int argc, char **argv)
{
	(void)argc;
	return cli_failf(argv[0], "not implemented yet");
}

int cmd_rm(int argc, char **argv)
{
	(void)argc;
	return cli_failf(argv[0], "not implemented yet");
}

int cmd_gc(int argc, char **argv)
{
	(void)argc;
	return cli_failf(argv[0], "not implemented yet");
}
