/* Placeholder until the hydrator lands (issue 4); owned by the Hub work. */
#include <stdio.h>

#include "hydrate/hydrate.h"

int hydrate_main(int argc, char **argv)
{
	(void)argc;
	(void)argv;
	fprintf(stderr, "hydrate: not built yet\n");
	return 1;
}
