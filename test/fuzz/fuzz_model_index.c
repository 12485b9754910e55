/* libFuzzer: file selection with a hostile model_index.json (diffusers). */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "estimate/classify.h"
#include "util/mem.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static struct est_file_entry files[] = {
		{"model_index.json", 100}, {"unet/diffusion_pytorch_model.safetensors", 10},
		{"unet/diffusion_pytorch_model.fp16.safetensors", 5}, {"vae/model.bin", 3},
		{"text_encoder/model.safetensors", 4}, {"m-Q4_K_M.gguf", 2},
		{"mmproj-f16.gguf", 1}, {"v1-5.safetensors", 50},
	};
	bool sel[8] = {1, 1, 1, 1, 1, 1, 1, 1};
	char *txt = xstrndup((const char *)data, size);
	struct est_pick p;
	classify_pick(files, 8, sel, txt, &p);
	for (size_t i = 0; i < p.nweights; i++)
		if (p.weights[i] >= 8)
			__builtin_trap();
	est_pick_cleanup(&p);
	free(txt);
	return 0;
}
