/* config.json (transformers) -> struct model_arch. Multimodal configs keep
 * the language model under text_config (also llm_config / language_config);
 * its values win, the top level fills the gaps. */
#ifndef MC_ESTIMATE_CONFIG_H
#define MC_ESTIMATE_CONFIG_H

#include <stddef.h>

#include "estimate/arch.h"

#define MODEL_CONFIG_MAX_BYTES (4u << 20)
#define MODEL_CONFIG_MAX_DEPTH 32

/* 0 or -EINVAL (not JSON / too deep / too large); *a is zeroed first and
 * a->known says whether the attention shape was found. */
int model_config_parse(const char *json, size_t len, struct model_arch *a);

#endif
