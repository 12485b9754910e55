#!/usr/bin/env python3
"""Write the libFuzzer seed corpora (small valid inputs) under test/fuzz/corpus/."""
import json, os, struct, sys

here = os.path.dirname(os.path.abspath(__file__))

def out(target, name, data):
    d = os.path.join(here, "corpus", target)
    os.makedirs(d, exist_ok=True)
    with open(os.path.join(d, name), "wb") as f:
        f.write(data)

def st(tensors):
    hdr, off = {"__metadata__": {"format": "pt"}}, 0
    for name, dt, shape, size in tensors:
        n = 1
        for s in shape:
            n *= s
        hdr[name] = {"dtype": dt, "shape": shape, "data_offsets": [off, off + n * size]}
        off += n * size
    h = json.dumps(hdr).encode()
    h += b" " * (-len(h) % 8)
    return struct.pack("<Q", len(h)) + h + bytes(off)

out("safetensors", "dense", st([("a.weight", "BF16", [4, 8], 2), ("b", "F32", [3], 4)]))
out("safetensors", "awq", st([("l.qweight", "I32", [8, 1], 4), ("l.scales", "F16", [1, 8], 2)]))
out("safetensors", "empty", st([]))

def s(x):
    x = x.encode()
    return struct.pack("<Q", len(x)) + x

def gguf(kvs, tensors, version=3):
    b = b"GGUF" + struct.pack("<IQQ", version, len(tensors), len(kvs))
    for k, t, v in kvs:
        b += s(k) + struct.pack("<I", t) + v
    off = 0
    for name, ne, typ, nbytes in tensors:
        b += s(name) + struct.pack("<I", len(ne)) + b"".join(struct.pack("<Q", x) for x in ne)
        b += struct.pack("<IQ", typ, off)
        off += (nbytes + 31) // 32 * 32
    b += bytes(-len(b) % 32)
    return b + bytes(off)

u32 = lambda v: struct.pack("<I", v)
arr_str = lambda xs: struct.pack("<IQ", 8, len(xs)) + b"".join(s(x) for x in xs)
arr_i32 = lambda xs: struct.pack("<IQ", 5, len(xs)) + b"".join(struct.pack("<i", x) for x in xs)
nested = struct.pack("<IQ", 9, 2) + (struct.pack("<IQ", 0, 3) + b"\x01\x02\x03") * 2
out("gguf", "llama", gguf([("general.architecture", 8, s("llama")), ("general.alignment", 4, u32(32)),
                           ("llama.block_count", 4, u32(2)), ("llama.attention.head_count", 4, u32(4)),
                           ("llama.attention.head_count_kv", 9, arr_i32([2, 2])),
                           ("llama.embedding_length", 4, u32(64)), ("tokenizer.ggml.tokens", 9, arr_str(["a", "b"])),
                           ("x.nested", 9, nested), ("x.f32", 6, struct.pack("<f", 1.5)), ("x.bool", 7, b"\x01")],
                          [("t0", [32, 2], 8, 68), ("t1", [4], 0, 16)]))
out("gguf", "v2-deepseek", gguf([("general.architecture", 8, s("deepseek2")), ("deepseek2.block_count", 4, u32(3)),
                                 ("deepseek2.attention.kv_lora_rank", 4, u32(16)),
                                 ("deepseek2.rope.dimension_count", 4, u32(8))],
                                [("t", [256], 12, 144)], version=2))

out("config", "llama", json.dumps({"model_type": "llama", "num_hidden_layers": 32, "hidden_size": 4096,
                                   "num_attention_heads": 32, "num_key_value_heads": 8, "torch_dtype": "bfloat16",
                                   "max_position_embeddings": 131072}).encode())
out("config", "gemma3", json.dumps({"model_type": "gemma3", "text_config": {"num_hidden_layers": 34, "head_dim": 256,
                                    "num_attention_heads": 8, "num_key_value_heads": 4, "sliding_window": 1024,
                                    "sliding_window_pattern": 6}, "vision_config": {"num_hidden_layers": 27}}).encode())
out("config", "mla", json.dumps({"num_hidden_layers": 61, "kv_lora_rank": 512, "qk_rope_head_dim": 64,
                                 "num_attention_heads": 128, "quantization_config": {"quant_method": "fp8"}}).encode())
out("config", "hybrid", json.dumps({"num_hidden_layers": 4, "num_attention_heads": 4, "head_dim": 8,
                                    "layer_types": ["linear_attention", "full_attention", "sliding_attention", "full_attention"],
                                    "sliding_window": 16, "linear_num_value_heads": 2, "linear_key_head_dim": 4,
                                    "linear_value_head_dim": 4, "linear_conv_kernel_dim": 4}).encode())
out("model_index", "sd", json.dumps({"_class_name": "StableDiffusionPipeline", "unet": ["diffusers", "UNet2DConditionModel"],
                                     "vae": ["diffusers", "AutoencoderKL"], "text_encoder": ["transformers", "CLIPTextModel"],
                                     "safety_checker": [None, None]}).encode())
