/* Include/exclude selection of repository files, shared by the hydrator and
 * the estimator so both price and fetch the same files.
 *
 * Matching follows huggingface_hub (`hf download --include/--exclude`,
 * fnmatch without FNM_PATHNAME): `*` matches any run of characters INCLUDING
 * '/', `?` one character, `[abc]`/`[!a-z]` a class, `\x` a literal x; `**`
 * is the same as `*`, and a leading `**` + '/' also matches at the top level
 * ("** /config.json" without the space matches "config.json"). A pattern
 * ending in '/' selects everything under that folder ("original/" ==
 * "original/ *" without the space). So "*.safetensors" also selects
 * "unet/x.safetensors", and "original/ *" selects everything below original/.
 *
 * A file is selected when (no include pattern OR it matches one) AND it
 * matches no exclude pattern. */
#ifndef MC_HUB_FILTER_H
#define MC_HUB_FILTER_H

#include <stdbool.h>
#include <stddef.h>

bool hub_glob_match(const char *pattern, const char *path);
bool hub_filter_selects(const char *const *include, size_t ninclude,
			const char *const *exclude, size_t nexclude, const char *path);

#endif
