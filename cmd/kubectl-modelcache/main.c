/* kubectl-modelcache: the kubectl plugin (`kubectl modelcache ...`). */
#include <stdio.h>
#include <string.h>

#include "plugin.h"

static int usage(FILE *f)
{
	fprintf(f,
		"Usage: kubectl modelcache COMMAND [FLAGS]\n"
		"\n"
		"Commands:\n"
		"  estimate  estimate the GPU memory a model needs and whether it fits\n"
		"  render    print the objects the operator would compose for ModelCaches\n"
		"  status    show the per-cluster state of ModelCaches\n"
		"\n"
		"Run 'kubectl modelcache COMMAND --help' for the flags of a command.\n");
	return f == stdout ? 0 : 1;
}

int main(int argc, char **argv)
{
	if (argc < 2)
		return usage(stderr);
	const char *cmd = argv[1];
	if (strcmp(cmd, "-h") == 0 || strcmp(cmd, "--help") == 0 || strcmp(cmd, "help") == 0)
		return usage(stdout);
	if (strcmp(cmd, "estimate") == 0)
		return cmd_estimate(argc - 1, argv + 1);
	if (strcmp(cmd, "render") == 0)
		return cmd_render(argc - 1, argv + 1);
	if (strcmp(cmd, "status") == 0)
		return cmd_status(argc - 1, argv + 1);
	if (strcmp(cmd, "version") == 0) {
		printf("kubectl-modelcache %s\n", MC_VERSION);
		return 0;
	}
	fprintf(stderr, "kubectl-modelcache: unknown command \"%s\"\n\n", cmd);
	return usage(stderr);
}
