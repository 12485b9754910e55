/* config.json -> struct model_arch. Key names follow transformers'
 * PretrainedConfig attribute_map aliases (n_layer, n_embd, n_head, ...). */
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>

#include <json-c/json.h>

#include "estimate/config.h"
#include "estimate/satmath.h"

static json_object *get(json_object *o, const char *k)
{
	json_object *v;
	if (o && json_object_object_get_ex(o, k, &v))
		return v;
	return NULL;
}

/* First integer found among keys, in the text config then the top level. */
static int64_t int_of(json_object *text, json_object *top, const char *const *keys)
{
	json_object *objs[2] = {text, top};
	for (int o = 0; o < 2; o++) {
		if (objs[o] == NULL)
			continue;
		for (const char *const *k = keys; *k; k++) {
			json_object *v = get(objs[o], *k);
			if (v && (json_object_is_type(v, json_type_int) ||
				  json_object_is_type(v, json_type_double))) {
				int64_t i = json_object_get_int64(v);
				if (i > 0 && i < ((int64_t)1 << 48))
					return i;
			}
		}
	}
	return 0;
}

#define KEYS(...) ((const char *const[]){__VA_ARGS__, NULL})

static const char *str_of(json_object *text, json_object *top, const char *key)
{
	json_object *v = get(text, key);
	if (!v || !json_object_is_type(v, json_type_string))
		v = get(top, key);
	if (v && json_object_is_type(v, json_type_string))
		return json_object_get_string(v);
	return NULL;
}

/* The key is there, even as null (get() cannot tell null from absent). */
static bool present(json_object *text, json_object *top, const char *key)
{
	return (text && json_object_object_get_ex(text, key, NULL)) ||
	       (top && json_object_object_get_ex(top, key, NULL));
}

/* The documented defaults of an architecture's config class, applied to keys
 * a config.json leaves out (transformers fills them the same way). */
struct arch_defaults {
	const char *type;
	int64_t layers, hidden, intermediate, vocab, heads, kv_heads, head_dim, max_context;
	int64_t experts, experts_per_tok;
	int64_t sliding_window, swa_pattern;    /* every swa_pattern-th layer is full */
	int64_t chunk, nope_interval;           /* every nope_interval-th layer is global */
};

static const struct arch_defaults arch_defaults[] = {
	/* transformers Gemma3TextConfig (configuration_gemma3.py): layer i is
	 * full attention when (i + 1) % sliding_window_pattern == 0 */
	{"gemma3_text", 26, 2304, 9216, 262208, 8, 4, 256, 131072, 0, 0, 4096, 6, 0, 0},
	{"gemma3", 26, 2304, 9216, 262208, 8, 4, 256, 131072, 0, 0, 4096, 6, 0, 0},
	/* transformers Llama4TextConfig (configuration_llama4.py): layer i uses
	 * RoPE and chunked attention unless (i + 1) % no_rope_layer_interval == 0 */
	{"llama4_text", 48, 5120, 8192, 202048, 40, 8, 128, 131072, 16, 1, 0, 0, 8192, 4},
	{"llama4", 48, 5120, 8192, 202048, 40, 8, 128, 131072, 16, 1, 0, 0, 8192, 4},
};

static const struct arch_defaults *defaults_of(const char *type)
{
	for (size_t i = 0; type && i < sizeof(arch_defaults) / sizeof(arch_defaults[0]); i++)
		if (strcmp(arch_defaults[i].type, type) == 0)
			return &arch_defaults[i];
	return NULL;
}

#define DEFAULT(field) do { if (a->field == 0 && d != NULL) a->field = d->field; } while (0)

static int dtype_bytes(const char *d)
{
	if (d == NULL)
		return 0;
	if (strcmp(d, "bfloat16") == 0 || strcmp(d, "float16") == 0 || strcmp(d, "half") == 0 ||
	    strcmp(d, "bf16") == 0 || strcmp(d, "fp16") == 0)
		return 2;
	if (strcmp(d, "float32") == 0 || strcmp(d, "float") == 0 || strcmp(d, "fp32") == 0)
		return 4;
	return 0;
}

int model_config_parse(const char *json, size_t len, struct model_arch *a)
{
	memset(a, 0, sizeof(*a));
	if (len > MODEL_CONFIG_MAX_BYTES)
		return -EINVAL;
	json_tokener *tok = json_tokener_new_ex(MODEL_CONFIG_MAX_DEPTH);
	if (tok == NULL)
		return -ENOMEM;
	json_object *root = json_tokener_parse_ex(tok, json, (int)len);
	int rc = 0;
	if (root == NULL || json_tokener_get_error(tok) != json_tokener_success ||
	    !json_object_is_type(root, json_type_object)) {
		rc = -EINVAL;
		goto out;
	}
	json_object *text = NULL;
	static const char *const text_keys[] = {"text_config", "llm_config", "language_config",
						 "thinker_config", NULL};
	for (const char *const *k = text_keys; *k && !text; k++) {
		json_object *t = get(root, *k);
		if (t && json_object_is_type(t, json_type_object))
			text = t;
	}
	/* Qwen-Omni style: thinker_config.text_config */
	if (text && get(text, "text_config") && json_object_is_type(get(text, "text_config"), json_type_object))
		text = get(text, "text_config");

	const char *mt = str_of(text, root, "model_type");
	if (mt)
		snprintf(a->name, sizeof(a->name), "%s", mt);
	const struct arch_defaults *d = defaults_of(mt);
	a->layers = int_of(text, root, KEYS("num_hidden_layers", "n_layer", "num_layers", "n_layers"));
	a->hidden = int_of(text, root, KEYS("hidden_size", "n_embd", "d_model", "dim"));
	a->intermediate = int_of(text, root, KEYS("intermediate_size", "ffn_dim", "n_inner"));
	a->vocab = int_of(text, root, KEYS("vocab_size", "padded_vocab_size"));
	a->heads = int_of(text, root, KEYS("num_attention_heads", "n_head", "n_heads", "num_heads"));
	a->kv_heads = int_of(text, root, KEYS("num_key_value_heads", "num_kv_heads", "n_head_kv",
					      "multi_query_group_num", "n_kv_heads"));
	DEFAULT(layers);
	DEFAULT(hidden);
	DEFAULT(intermediate);
	DEFAULT(vocab);
	DEFAULT(heads);
	DEFAULT(kv_heads);
	json_object *mq = get(text, "multi_query");
	if (!mq)
		mq = get(root, "multi_query");
	if (a->kv_heads == 0 && mq && json_object_get_boolean(mq))
		a->kv_heads = 1;
	if (a->kv_heads == 0)
		a->kv_heads = a->heads;
	a->head_dim = int_of(text, root, KEYS("head_dim", "kv_channels", "attention_head_size"));
	DEFAULT(head_dim);
	if (a->head_dim == 0 && a->heads > 0)
		a->head_dim = a->hidden / a->heads;
	a->max_context = int_of(text, root, KEYS("max_position_embeddings", "n_positions",
						  "max_sequence_length", "seq_length", "n_ctx",
						  "max_seq_len"));
	DEFAULT(max_context);
	const char *dt = str_of(text, root, "torch_dtype");
	if (!dt)
		dt = str_of(text, root, "dtype");
	if (dt) {
		snprintf(a->dtype, sizeof(a->dtype), "%s", dt);
		a->dtype_bytes = dtype_bytes(dt);
	}

	/* MLA (DeepSeek-V2/V3, Kimi-K2): one latent per token and layer */
	a->kv_lora_rank = int_of(text, root, KEYS("kv_lora_rank"));
	if (a->kv_lora_rank > 0) {
		a->qk_rope_head_dim = int_of(text, root, KEYS("qk_rope_head_dim"));
		int64_t nope = int_of(text, root, KEYS("qk_nope_head_dim"));
		if (nope + a->qk_rope_head_dim > 0)
			a->head_dim = nope + a->qk_rope_head_dim;
		a->v_head_dim = int_of(text, root, KEYS("v_head_dim"));
	}
	/* MoE */
	a->experts = int_of(text, root, KEYS("num_local_experts", "n_routed_experts", "num_experts",
					     "moe_num_experts"));
	a->experts_per_tok = int_of(text, root, KEYS("num_experts_per_tok", "moe_top_k",
						     "num_experts_per_token"));
	DEFAULT(experts);
	DEFAULT(experts_per_tok);

	/* Sliding window. transformers >= 4.53 lists layer_types; Gemma 2/3
	 * configs give sliding_window_pattern (every Nth layer is global);
	 * Qwen2/3 carry sliding_window but use_sliding_window=false. */
	json_object *sw = get(text, "sliding_window");
	if (!sw)
		sw = get(root, "sliding_window");
	int64_t window = sw && json_object_is_type(sw, json_type_int) ? json_object_get_int64(sw) : 0;
	if (window < 0 || window > ((int64_t)1 << 48))
		window = 0;
	if (!present(text, root, "sliding_window") && d)   /* absent, not null: the default */
		window = d->sliding_window;
	json_object *use = get(text, "use_sliding_window");
	if (!use)
		use = get(root, "use_sliding_window");
	json_object *lt = get(text, "layer_types");
	if (!lt)
		lt = get(root, "layer_types");
	int64_t linear = 0, swa = 0, chunked = 0;
	bool have_types = lt && json_object_is_type(lt, json_type_array) &&
			  (int64_t)json_object_array_length(lt) == a->layers;
	if (have_types) {
		for (size_t i = 0; i < json_object_array_length(lt); i++) {
			const char *t = json_object_get_string(json_object_array_get_idx(lt, i));
			if (t == NULL)
				continue;
			if (strcmp(t, "sliding_attention") == 0)
				swa++;
			else if (strcmp(t, "chunked_attention") == 0)
				chunked++;
			else if (strcmp(t, "linear_attention") == 0 || strcmp(t, "mamba") == 0 ||
				 strcmp(t, "conv") == 0)
				linear++;
		}
	}
	if (window > 0 && !(use && !json_object_get_boolean(use))) {
		a->sliding_window = window;
		if (have_types) {
			a->swa_layers = swa;
		} else {
			int64_t pat = int_of(text, root, KEYS("sliding_window_pattern"));
			if (pat == 0 && !present(text, root, "sliding_window_pattern") && d)
				pat = d->swa_pattern;
			if (pat > 0)
				a->swa_layers = a->layers - a->layers / pat;   /* pat < 2^48 */
			else if (mt && strcmp(mt, "gemma2") == 0)
				a->swa_layers = a->layers - a->layers / 2;
			else if (mt && (strcmp(mt, "mistral") == 0 || strcmp(mt, "mixtral") == 0))
				a->swa_layers = a->layers;   /* every layer windowed */
			/* else unknown pattern: priced as full attention */
		}
	}
	/* Chunked local attention (Llama 4): attention_chunk_size; the chunked
	 * layers come from layer_types, else no_rope_layers (1 = RoPE layer,
	 * chunked), else every no_rope_layer_interval-th layer is global. A null
	 * attention_chunk_size means no chunking (vLLM llama4.py likewise). */
	int64_t chunk = int_of(text, root, KEYS("attention_chunk_size"));
	if (chunk == 0 && !present(text, root, "attention_chunk_size") && d)
		chunk = d->chunk;
	if (chunk > 0 && a->layers > 0) {
		json_object *nr = get(text, "no_rope_layers");
		if (!nr)
			nr = get(root, "no_rope_layers");
		int64_t interval = int_of(text, root, KEYS("no_rope_layer_interval",
							    "nope_layer_interval"));
		if (interval == 0 && d)
			interval = d->nope_interval;
		if (have_types) {
			a->chunked_layers = chunked;
		} else if (nr && json_object_is_type(nr, json_type_array) &&
			   (int64_t)json_object_array_length(nr) == a->layers) {
			for (size_t i = 0; i < json_object_array_length(nr); i++)
				if (json_object_get_int64(json_object_array_get_idx(nr, i)) != 0)
					a->chunked_layers++;
		} else if (interval > 0) {
			/* an empty no_rope_layers is transformers' "use the interval" */
			a->chunked_layers = a->layers - a->layers / interval;
		}
		/* else unknown pattern: priced as full attention */
		if (a->chunked_layers > 0)
			a->chunk_size = chunk;
	}
	/* Linear-attention / SSM layers: a fixed state per sequence. Qwen3-Next
	 * gated delta net: v_heads x k_dim x v_dim state (f32) + conv state. */
	if (linear > 0) {
		a->recurrent_layers = linear;
		int64_t vh = int_of(text, root, KEYS("linear_num_value_heads"));
		int64_t kh = int_of(text, root, KEYS("linear_num_key_heads"));
		int64_t kd = int_of(text, root, KEYS("linear_key_head_dim"));
		int64_t vd = int_of(text, root, KEYS("linear_value_head_dim"));
		int64_t conv = int_of(text, root, KEYS("linear_conv_kernel_dim"));
		a->recurrent_state_bytes =
			sat_add(sat_mul(sat_mul3(vh, kd, vd), 4),
				sat_mul3(conv > 0 ? conv - 1 : 0,
					 sat_add(sat_mul3(2, kh, kd), sat_mul(vh, vd)), 2));
	}
	json_object *qc = get(root, "quantization_config");
	if (!qc)
		qc = get(text, "quantization_config");
	if (qc && json_object_is_type(qc, json_type_object)) {
		const char *m = str_of(qc, NULL, "quant_method");
		if (m) {
			snprintf(a->quant_method, sizeof(a->quant_method), "%s", m);
			for (char *p = a->quant_method; *p; p++)
				if (*p >= 'A' && *p <= 'Z')
					*p = (char)(*p - 'A' + 'a');
		}
		a->quant_bits = (int)int_of(qc, NULL, KEYS("bits", "w_bit", "weight_bits"));
		json_object *l4 = get(qc, "load_in_4bit"), *l8 = get(qc, "load_in_8bit");
		if (a->quant_bits == 0 && l4 && json_object_get_boolean(l4))
			a->quant_bits = 4;
		if (a->quant_bits == 0 && l8 && json_object_get_boolean(l8))
			a->quant_bits = 8;
	}
	a->known = a->layers > 0 && (a->heads > 0 || a->kv_lora_rank > 0);
out:
	json_object_put(root);
	json_tokener_free(tok);
	return rc;
}
