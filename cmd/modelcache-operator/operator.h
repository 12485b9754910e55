#ifndef MC_CMD_OPERATOR_H
#define MC_CMD_OPERATOR_H

/* `modelcache-operator run`: argv[0] is "run" (or the program name). */
int operator_run(int argc, char **argv);

#endif
