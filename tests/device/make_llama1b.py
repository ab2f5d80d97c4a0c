#!/usr/bin/env python3
"""Builds a random Llama-3.2-1B-shaped model in bf16 and transformers' outputs for it, for HfLlama1BTests.

    python3 make_llama1b.py OUT_DIR

OUT_DIR gets config.json + model.safetensors (bf16, tied embeddings) and reference.json:
  prompts[i].ids               random prompt token ids
  prompts[i].argmax_fp32       per-position argmax of transformers' forward in float32 over the bf16 weights
  prompts[i].argmax_bf16       the same from transformers' bf16 forward (what a bf16 deployment computes)
  prompts[i].margin_* / top1_* each position's top-1 minus top-2 logit, and top-1 logit
  prompts[i].greedy_fp32 / greedy_bf16        32 greedy tokens (EOS ignored), each side's own path
  prompts[i].top5_fp32 / top5_bf16            each greedy step's top-5 ids on that path
Weights are widened so top logits are rarely near-tied: embedding rows (tied with the LM head) are scaled by
exp(1.2 z), z ~ N(0, 1) clipped to [-2, 3], and RMSNorm weights drawn as 1 + 0.1 N(0, 1).
"""
import json
import os
import sys
import time

import torch
import transformers

SEED = 1234
PROMPT_LENGTHS = [96, 300, 700, 1000]
STEPS = 32


def config():
    return transformers.LlamaConfig(
        vocab_size=128256, hidden_size=2048, intermediate_size=8192, num_hidden_layers=16,
        num_attention_heads=32, num_key_value_heads=8, head_dim=64, max_position_embeddings=131072,
        rms_norm_eps=1e-5, tie_word_embeddings=True, bos_token_id=128000, eos_token_id=[128001, 128008, 128009],
        initializer_range=0.02,
        rope_parameters={"rope_type": "llama3", "rope_theta": 500000.0, "factor": 32.0, "low_freq_factor": 1.0,
                         "high_freq_factor": 4.0, "original_max_position_embeddings": 8192})


def build(path):
    torch.manual_seed(SEED)
    cfg = config()
    with torch.device("cuda"):
        model = transformers.LlamaForCausalLM(cfg).to(torch.bfloat16)
    with torch.no_grad():
        emb = model.model.embed_tokens.weight
        z = torch.randn(emb.shape[0], device="cuda").clamp_(-2, 3)
        emb.mul_(torch.exp(1.2 * z)[:, None].to(emb.dtype))
        for name, p in model.named_parameters():
            if name.endswith("norm.weight"):
                p.copy_(1.0 + 0.1 * torch.randn_like(p))
    model.generation_config = transformers.GenerationConfig(bos_token_id=128000, eos_token_id=[128001, 128008, 128009])
    model.save_pretrained(path)
    del model
    torch.cuda.empty_cache()


def greedy(model, ids):
    out, top5 = [], []
    with torch.no_grad():
        res = model(torch.tensor([ids], device="cuda"), use_cache=True)
        cache = res.past_key_values
        logits = res.logits[0, -1].float()
        for _ in range(STEPS):
            t5 = torch.topk(logits, 5).indices.tolist()
            top5.append(t5)
            out.append(t5[0])
            res = model(torch.tensor([[t5[0]]], device="cuda"), past_key_values=cache, use_cache=True)
            cache = res.past_key_values
            logits = res.logits[0, -1].float()
    return out, top5


def main():
    path = sys.argv[1]
    t0 = time.time()
    if "--no-reference" in sys.argv:
        build(path)
        print(f"built and saved in {time.time() - t0:.1f}s (no reference)", flush=True)
        return
    if not os.path.exists(os.path.join(path, "reference.json")):
        build(path)
        print(f"built and saved in {time.time() - t0:.1f}s", flush=True)
        gen = torch.Generator().manual_seed(SEED + 1)
        prompts = [torch.randint(0, 128000, (n,), generator=gen).tolist() for n in PROMPT_LENGTHS]
        refs = [{"ids": p} for p in prompts]
        for dtype, tag in ((torch.float32, "fp32"), (torch.bfloat16, "bf16")):
            model = transformers.LlamaForCausalLM.from_pretrained(path, dtype=dtype).to("cuda").eval()
            for r in refs:
                with torch.no_grad():
                    logits = model(torch.tensor([r["ids"]], device="cuda")).logits[0].float()
                r["argmax_" + tag] = logits.argmax(-1).tolist()
                top2 = torch.topk(logits, 2, dim=-1).values
                r["margin_" + tag] = (top2[:, 0] - top2[:, 1]).tolist()
                r["top1_" + tag] = top2[:, 0].tolist()
                r["greedy_" + tag], r["top5_" + tag] = greedy(model, r["ids"])
            del model
            torch.cuda.empty_cache()
        agree = sum(a == b for r in refs for a, b in zip(r["argmax_fp32"], r["argmax_bf16"]))
        total = sum(len(r["ids"]) for r in refs)
        print(f"transformers bf16 vs fp32 teacher-forced top-1 agreement: {agree}/{total} = {agree / total:.4f}", flush=True)
        for r in refs:
            same = next((i for i, (a, b) in enumerate(zip(r["greedy_fp32"], r["greedy_bf16"])) if a != b), STEPS)
            print(f"prompt {len(r['ids'])}: bf16 and fp32 greedy agree for {same} of {STEPS} tokens", flush=True)
        json.dump({"versions": {"torch": torch.__version__, "transformers": transformers.__version__}, "prompts": refs},
                  open(os.path.join(path, "reference.json"), "w"))
    print(f"ready in {time.time() - t0:.1f}s", flush=True)


if __name__ == "__main__":
    main()
