#!/usr/bin/env python3
"""Builds a small Llama-shaped model directory with a real tokenizer, for serve.sh (the silo end to end).

    python3 make_serve_model.py TOKENIZER_DIR OUT_DIR

TOKENIZER_DIR: a Hugging Face fixture with tokenizer.json, tokenizer_config.json, generation_config.json and
config.json (llama3-tiny: byte-level BPE, 705 ids, BOS 700, EOS 701/704). OUT_DIR gets those tokenizer files, a
config.json (hidden 256, 4 layers, 8/4 heads, head_dim 32, intermediate 512, llama3 RoPE, untied) and
model.safetensors in bf16: CPU and GPU backends read the same rounded weights. Weights come from Python's own
random module with a fixed seed (no numpy needed); the LM head is widened (std 0.4 against unit-RMS hidden states: logits spread ~6) so greedy paths rarely meet
near-ties that bf16 activations could flip.
"""
import array
import json
import os
import random
import shutil
import struct
import sys

SEED = 20261125
HIDDEN, LAYERS, HEADS, KV_HEADS, HEAD_DIM, INTER = 256, 4, 8, 4, 32, 512


class Tensor:
    def __init__(self, shape, values):
        self.shape, self.values = shape, values

    @property
    def size(self):
        return len(self.values)


def normal(rng, mean, std, shape):
    n = 1
    for d in shape:
        n *= d
    return Tensor(list(shape), [rng.gauss(mean, std) for _ in range(n)])


def bf16_bytes(t):
    """float32 -> bf16 (round to nearest even) as little-endian bytes."""
    u = array.array("I")
    u.frombytes(array.array("f", t.values).tobytes())
    out = array.array("H", (((x + 0x7FFF + ((x >> 16) & 1)) >> 16) & 0xFFFF for x in u))
    if sys.byteorder != "little":
        out.byteswap()
    return out.tobytes()


def main():
    src, out = sys.argv[1], sys.argv[2]
    os.makedirs(out, exist_ok=True)
    for name in ("tokenizer.json", "tokenizer_config.json", "generation_config.json"):
        shutil.copy(os.path.join(src, name), os.path.join(out, name))
    base = json.load(open(os.path.join(src, "config.json")))
    vocab = base["vocab_size"]
    config = {
        "architectures": ["LlamaForCausalLM"], "model_type": "llama", "hidden_act": "silu",
        "vocab_size": vocab, "hidden_size": HIDDEN, "intermediate_size": INTER, "num_hidden_layers": LAYERS,
        "num_attention_heads": HEADS, "num_key_value_heads": KV_HEADS, "head_dim": HEAD_DIM,
        "max_position_embeddings": 4096, "rms_norm_eps": 1e-5, "tie_word_embeddings": False,
        "attention_bias": False, "mlp_bias": False, "torch_dtype": "bfloat16",
        "bos_token_id": base["bos_token_id"], "eos_token_id": base["eos_token_id"],
        "rope_theta": 500000.0,
        "rope_scaling": {"rope_type": "llama3", "factor": 8.0, "low_freq_factor": 1.0, "high_freq_factor": 4.0,
                         "original_max_position_embeddings": 512},
    }
    json.dump(config, open(os.path.join(out, "config.json"), "w"), indent=2)

    rng = random.Random(SEED)
    tensors = {"model.embed_tokens.weight": normal(rng, 0, 1.0, (vocab, HIDDEN))}
    for i in range(LAYERS):
        p = f"model.layers.{i}."
        tensors[p + "input_layernorm.weight"] = normal(rng, 1, 0.1, (HIDDEN,))
        tensors[p + "post_attention_layernorm.weight"] = normal(rng, 1, 0.1, (HIDDEN,))
        tensors[p + "self_attn.q_proj.weight"] = normal(rng, 0, 0.08, (HEADS * HEAD_DIM, HIDDEN))
        tensors[p + "self_attn.k_proj.weight"] = normal(rng, 0, 0.08, (KV_HEADS * HEAD_DIM, HIDDEN))
        tensors[p + "self_attn.v_proj.weight"] = normal(rng, 0, 0.06, (KV_HEADS * HEAD_DIM, HIDDEN))
        tensors[p + "self_attn.o_proj.weight"] = normal(rng, 0, 0.06, (HIDDEN, HEADS * HEAD_DIM))
        tensors[p + "mlp.gate_proj.weight"] = normal(rng, 0, 0.06, (INTER, HIDDEN))
        tensors[p + "mlp.up_proj.weight"] = normal(rng, 0, 0.06, (INTER, HIDDEN))
        tensors[p + "mlp.down_proj.weight"] = normal(rng, 0, 0.04, (HIDDEN, INTER))
    tensors["model.norm.weight"] = normal(rng, 1, 0.1, (HIDDEN,))
    tensors["lm_head.weight"] = normal(rng, 0, 0.4, (vocab, HIDDEN))

    header, blobs, offset = {"__metadata__": {"format": "pt"}}, [], 0
    for name, a in tensors.items():
        b = bf16_bytes(a)
        header[name] = {"dtype": "BF16", "shape": list(a.shape), "data_offsets": [offset, offset + len(b)]}
        blobs.append(b)
        offset += len(b)
    h = json.dumps(header).encode()
    h += b" " * ((8 - len(h) % 8) % 8)
    with open(os.path.join(out, "model.safetensors"), "wb") as f:
        f.write(struct.pack("<Q", len(h)))
        f.write(h)
        for b in blobs:
            f.write(b)
    print(f"model: {out}, vocab {vocab}, {sum(a.size for a in tensors.values()) / 1e6:.1f} M parameters (bf16)")


if __name__ == "__main__":
    main()
