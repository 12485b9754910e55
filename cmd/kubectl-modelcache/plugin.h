#ifndef MC_CMD_PLUGIN_H
#define MC_CMD_PLUGIN_H

/* Each takes argv[0] = the command name and returns the exit code. */
int cmd_estimate(int argc, char **argv);   /* estimate.c */
int cmd_render(int argc, char **argv);     /* render.c */
int cmd_status(int argc, char **argv);     /* status.c */

#endif
