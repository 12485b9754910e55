/* Placeholder: 'kubectl modelcache estimate' is being built (see the issues). */
#include <stdio.h>

#include "plugin.h"

int cmd_estimate(int argc, char **argv)
{
	(void)argc;
	(void)argv;
	fprintf(stderr, "kubectl modelcache estimate: not built yet\n");
	return 1;
}
