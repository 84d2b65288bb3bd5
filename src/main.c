/* main.c — greenlight's entry point: everything else is in the core library. */
#include "cli.h"

int
main(int argc, char **argv)
{
	return cli_main(argc, argv);
}
