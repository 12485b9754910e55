/* Placeholder until the controller runtime lands (issue 6); owned by the runtime work. */
#include <stdio.h>

#include "operator.h"

int operator_run(int argc, char **argv)
{
	(void)argc;
	(void)argv;
	fprintf(stderr, "modelcache-operator run: the controller runtime is not built yet\n");
	return 1;
}
