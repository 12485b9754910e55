/* modelcache-operator: the operator (`run`, the default), the hydration
 * downloader its Jobs run (`hydrate`) and `version`. */
#include <stdio.h>
#include <string.h>

#include "hydrate/hydrate.h"
#include "operator.h"

static int usage(FILE *f)
{
	fprintf(f,
		"Usage: modelcache-operator [COMMAND] [FLAGS]\n"
		"\n"
		"Commands:\n"
		"  run       run the operator (default)\n"
		"  hydrate   download a Hugging Face repository into a directory (used by hydration Jobs)\n"
		"  version   print the version\n"
		"\n"
		"Run 'modelcache-operator COMMAND --help' for the flags of a command.\n");
	return f == stdout ? 0 : 2;
}

int main(int argc, char **argv)
{
	if (argc < 2 || argv[1][0] == '-') {
		if (argc >= 2 && (strcmp(argv[1], "-h") == 0 || strcmp(argv[1], "--help") == 0))
			return usage(stdout);
		return operator_run(argc, argv);
	}
	const char *cmd = argv[1];
	if (strcmp(cmd, "run") == 0)
		return operator_run(argc - 1, argv + 1);
	if (strcmp(cmd, "hydrate") == 0)
		return hydrate_main(argc - 1, argv + 1);
	if (strcmp(cmd, "version") == 0) {
		if (argc > 2 && (strcmp(argv[2], "-h") == 0 || strcmp(argv[2], "--help") == 0)) {
			printf("Usage: modelcache-operator version\n\nPrints the version and exits.\n");
			return 0;
		}
		if (argc > 2) {
			fprintf(stderr, "modelcache-operator version: unexpected argument \"%s\"\n", argv[2]);
			return 2;
		}
		printf("modelcache-operator %s\n", MC_VERSION);
		return 0;
	}
	if (strcmp(cmd, "help") == 0)
		return usage(stdout);
	fprintf(stderr, "modelcache-operator: unknown command \"%s\"\n\n", cmd);
	return usage(stderr);
}
