/* `modelcache-operator hydrate`: download a Hugging Face repository into a
 * directory, resumable and verified, marker written last. */
#ifndef MC_HYDRATE_HYDRATE_H
#define MC_HYDRATE_HYDRATE_H

/* argv[0] is "hydrate". Returns the process exit code (see the issue). */
int hydrate_main(int argc, char **argv);

#endif
