/* Placeholder: 'kubectl modelcache render' is being built (see the issues). */
#include <stdio.h>

#include "plugin.h"

int cmd_render(int argc, char **argv)
{
	(void)argc;
	(void)argv;
	fprintf(stderr, "kubectl modelcache render: not built yet\n");
	return 1;
}
