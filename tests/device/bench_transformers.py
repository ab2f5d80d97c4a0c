#!/usr/bin/env python3
"""PyTorch transformers on the same weights as the C# gpu benchmark (bf16, sdpa attention, GPU):
decode tok/s at batch 1-256 with 1,024-token contexts (greedy on the GPU, KV cache), prefill tok/s at 512 and
2,048 tokens. Writes {"decode": {batch: tok/s}, "prefill": {tokens: tok/s}, ...} to the JSON path given.

    python3 bench_transformers.py MODEL_DIR OUT_JSON
"""
import json
import statistics
import sys
import time

import torch
import transformers

BATCHES = [1, 8, 32, 64, 128, 256]
CONTEXT = 1024
STEPS = 16


def timed(fn):
    torch.cuda.synchronize()
    t0 = time.perf_counter()
    out = fn()
    torch.cuda.synchronize()
    return time.perf_counter() - t0, out


def main():
    path, out_path = sys.argv[1], sys.argv[2]
    model = transformers.LlamaForCausalLM.from_pretrained(path, dtype=torch.bfloat16, attn_implementation="sdpa").to("cuda").eval()
    gen = torch.Generator(device="cuda").manual_seed(0)
    result = {"torch": torch.__version__, "transformers": transformers.__version__,
              "device": torch.cuda.get_device_name(), "attention": "sdpa", "decode": {}, "prefill": {}}
    with torch.no_grad():
        for t in (512, 2048):
            ids = torch.randint(0, 128000, (1, t), device="cuda", generator=gen)
            times = []
            for i in range(6):
                dt, _ = timed(lambda: model(ids, logits_to_keep=1))
                if i >= 1:
                    times.append(dt)
            result["prefill"][str(t)] = t / statistics.median(times)
            print(f"transformers prefill {t}: {result['prefill'][str(t)]:.0f} tok/s", flush=True)
        for b in BATCHES:
            ids = torch.randint(0, 128000, (b, CONTEXT), device="cuda", generator=gen)
            out = model(ids, use_cache=True, logits_to_keep=1)
            cache = out.past_key_values
            nxt = out.logits[:, -1].argmax(-1, keepdim=True)
            del out
            times = []
            for step in range(STEPS + 2):
                def one():
                    return model(nxt, past_key_values=cache, use_cache=True)
                dt, o = timed(one)
                nxt = o.logits[:, -1].argmax(-1, keepdim=True)
                cache = o.past_key_values
                if step >= 2:
                    times.append(dt)
            result["decode"][str(b)] = b / statistics.median(times)
            print(f"transformers decode batch {b}: {result['decode'][str(b)]:.0f} tok/s ({statistics.median(times) * 1e3:.2f} ms/step)", flush=True)
            del cache, ids, nxt
            torch.cuda.empty_cache()
    json.dump(result, open(out_path, "w"), indent=1)


if __name__ == "__main__":
    main()
