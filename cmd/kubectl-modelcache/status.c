/* Placeholder: 'kubectl modelcache status' is being built (see the issues). */
#include <stdio.h>

#include "plugin.h"

int cmd_status(int argc, char **argv)
{
	(void)argc;
	(void)argv;
	fprintf(stderr, "kubectl modelcache status: not built yet\n");
	return 1;
}
