/* The estimator on the repos hack/make-fixture-model writes (the hub
 * engineer's generator, independent of this module's own writers), in the
 * real architectures' shapes as sparse files (1.4 TB of models on ~16 MB of
 * disk): weights, download bytes and projectors equal .fixture-truth.json,
 * only headers are read, and the KV figures of the issue hold for the real
 * configs. */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>
#include <json-c/json.h>

#include "estimate/estimate.h"
#include "estimate/source.h"
#include "fixture.h"
#include "util/mem.h"

static char *root;

static int setup(void **state)
{
	const char *src = getenv("MC_SOURCE_DIR");
	if (src == NULL)
		src = ".";
	root = fx_tmpdir();
	char *cmd = xasprintf("python3 '%s/hack/make-fixture-model' --out '%s' --real-shapes --fill sparse "
			      ">/dev/null", src, root);
	int rc = system(cmd);
	free(cmd);
	return rc == 0 ? 0 : -1;   /* a missing generator fails the group, never skips */
}

static int teardown(void **state)
{
	fx_rmrf(root);
	free(root);
	return 0;
}

struct est {
	struct estimate_result r;
	json_object *truth;
	uint64_t bytes_read;
};

static void estimate_fixture(const char *name, struct est *e)
{
	char *dir = xasprintf("%s/fixtures/%s", root, name);
	char *tp = xasprintf("%s/.fixture-truth.json", dir);
	struct est_repo *repo;
	char *msg = NULL;
	assert_int_equal(est_repo_dir_new(dir, &repo, &msg), 0);
	assert_int_equal(estimate_from_repo(repo, NULL, 0, NULL, 0, &e->r, &msg), 0);
	e->bytes_read = repo->bytes_read;
	est_repo_free(repo);
	e->truth = json_object_from_file(tp);
	assert_non_null(e->truth);
	free(dir);
	free(tp);
}

static int64_t tint(json_object *o, const char *k)
{
	json_object *v;
	if (!json_object_object_get_ex(o, k, &v))
		return -1;
	return json_object_get_int64(v);
}

static void check_truth(struct est *e)
{
	struct estimate_result *r = &e->r;
	assert_int_equal(r->weight_bytes - r->projector_bytes, tint(e->truth, "weight_bytes"));
	/* no include patterns: the Auto selection (docs/estimation.md) */
	assert_int_equal(r->download_bytes, tint(e->truth, "auto_download_bytes"));
	assert_true(r->auto_selection);
	json_object *af;
	assert_true(json_object_object_get_ex(e->truth, "auto_files", &af));
	assert_int_equal(r->ndownload, json_object_array_length(af));
	for (size_t i = 0; i < r->ndownload; i++) {
		bool found = false;
		for (size_t k = 0; k < json_object_array_length(af) && !found; k++)
			found = strcmp(json_object_get_string(json_object_array_get_idx(af, k)), r->download_paths[i]) == 0;
		assert_true(found);
	}
	int64_t pb = tint(e->truth, "projector_bytes");
	assert_int_equal(r->projector_bytes, pb < 0 ? 0 : pb);
	assert_false(r->used_fallback);
	/* headers only: at most ~100 KB (safetensors) / 256 KB (GGUF) per file
	 * plus the small JSON files, never the tensor data */
	assert_true(e->bytes_read < (uint64_t)(r->nfiles + 4) * (300u << 10));
	if (r->download_bytes > 1000000000)   /* GB-class models: < 0.1% read */
		assert_true(e->bytes_read * 1000 < (uint64_t)r->download_bytes);
}

static void done(struct est *e)
{
	estimate_result_cleanup(&e->r);
	json_object_put(e->truth);
}

static int64_t kv_tok(const struct estimate_result *r, const char *dtype)
{
	struct kv_dtype dt;
	assert_int_equal(kv_dtype_parse(dtype, &r->arch, &dt), 0);
	return kv_bytes_per_token(&r->arch, &dt);
}

static void test_dense_gqa(void **state)
{
	struct est e;
	estimate_fixture("llama-3.1-8b", &e);
	check_truth(&e);
	assert_string_equal(e.r.strategy, "safetensors_header_exact");
	assert_int_equal(e.r.nfiles, 4);
	assert_int_equal(kv_tok(&e.r, "fp16"), 131072);
	assert_int_equal(e.r.parameters, tint(e.truth, "elements"));
	done(&e);
	estimate_fixture("tinyllama", &e);
	check_truth(&e);
	assert_int_equal(kv_tok(&e.r, "fp16"), 22528);
	done(&e);
	estimate_fixture("qwen3-0.6b", &e);
	check_truth(&e);
	assert_int_equal(kv_tok(&e.r, "bf16"), 114688);
	done(&e);
	estimate_fixture("mistral-7b-gqa", &e);
	check_truth(&e);
	assert_int_equal(kv_tok(&e.r, "bf16"), 2 * 8 * 128 * 2 * 32);
	done(&e);
}

static void test_moe_mla(void **state)
{
	struct est e;
	estimate_fixture("qwen3-moe", &e);
	check_truth(&e);
	assert_true(e.r.arch.experts > 1);
	assert_true(e.r.arch.experts_per_tok > 0);
	assert_int_equal(e.r.parameters, tint(e.truth, "elements"));
	done(&e);
	/* DeepSeek-V3: 671B parameters, 1.34 TB in 163 shards, MLA cache */
	estimate_fixture("deepseek-v3-mla", &e);
	check_truth(&e);
	assert_int_equal(e.r.parameters, tint(e.truth, "elements"));
	assert_int_equal(kv_tok(&e.r, "bf16"), 61 * (512 + 64) * 2);
	done(&e);
}

static void test_swa_multimodal(void **state)
{
	struct est e;
	estimate_fixture("gemma-3-swa", &e);
	check_truth(&e);
	assert_true(e.r.arch.sliding_window > 0);
	assert_int_equal(e.r.arch.swa_layers, e.r.arch.layers - e.r.arch.layers / 6);
	int64_t layer = 2 * e.r.arch.kv_heads * e.r.arch.head_dim * 2;
	assert_int_equal(kv_tok(&e.r, "bf16"), (e.r.arch.layers / 6) * layer);
	done(&e);
	/* LLaVA: the language model under text_config (not the vision tower) */
	estimate_fixture("llava-multimodal", &e);
	check_truth(&e);
	assert_int_equal(e.r.arch.layers, 32);
	assert_int_equal(e.r.arch.hidden, 4096);
	assert_int_equal(kv_tok(&e.r, "fp16"), 2 * 32 * 128 * 2 * 32);
	done(&e);
}

static void test_quantized_and_formats(void **state)
{
	struct est e;
	estimate_fixture("llama-awq", &e);
	check_truth(&e);
	assert_string_equal(e.r.method, "awq");
	/* stored int32 elements undercount: unpacked, the parameters are 8B-class */
	assert_true(e.r.parameters > tint(e.truth, "elements"));
	assert_true(e.r.parameters > 7000000000LL && e.r.parameters < 9000000000LL);
	done(&e);
	estimate_fixture("tinyllama-gguf", &e);
	check_truth(&e);
	assert_string_equal(e.r.format, "gguf");
	assert_string_equal(e.r.note, "heaviest of 3 GGUF quants priced: F16");
	assert_true(e.r.projector_bytes > 0);
	assert_int_equal(kv_tok(&e.r, "f16"), 22528);
	done(&e);
	estimate_fixture("sd-diffusers", &e);
	check_truth(&e);
	assert_string_equal(e.r.format, "diffusion");
	assert_string_equal(e.r.strategy, "diffusion_component_sum");
	for (size_t i = 0; i < e.r.nfiles; i++)
		assert_non_null(strchr(e.r.files[i].path, '/'));   /* never the root checkpoint */
	done(&e);
	estimate_fixture("bin-and-safetensors", &e);
	check_truth(&e);
	for (size_t i = 0; i < e.r.nfiles; i++)
		assert_non_null(strstr(e.r.files[i].path, ".safetensors"));
	done(&e);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_dense_gqa),
		cmocka_unit_test(test_moe_mla),
		cmocka_unit_test(test_swa_multimodal),
		cmocka_unit_test(test_quantized_and_formats),
	};
	return cmocka_run_group_tests(tests, setup, teardown);
}
