#!/usr/bin/env python3
"""Builds the Hugging Face fixtures used by HfFixtureTests.

Run where torch, transformers and tokenizers are installed (the GPU machine has them):
    python3 make_fixtures.py OUTPUT_DIR

Writes one folder per model (config.json, model*.safetensors, tokenizer.json, tokenizer_config.json,
generation_config.json, expected.json). Everything is computed on the CPU in float32 and seeded, so a
re-run with the same library versions gives the same files.
"""
import json
import math
import os
import shutil
import sys

import torch
import tokenizers
import transformers
from tokenizers import Regex, Tokenizer, decoders, models, normalizers, pre_tokenizers, processors, trainers
from transformers import AutoTokenizer, GenerationConfig, PreTrainedTokenizerFast

SEED = 20261124
CORPUS = """
The quick brown fox jumps over the lazy dog. A journey of a thousand miles begins with a single step.
Once upon a time, in a land far away, there lived a curious engineer who built a cluster of small machines.
Each machine held a few grains of work, and the grains talked to each other with short messages.
When one machine fell silent, the others noticed, moved its work elsewhere, and carried on as before.
Language models read text as tokens. A tokenizer splits words into pieces that it has seen often enough.
The model predicts the next piece, one at a time, and the sampler chooses among the likely candidates.
Caches keep the keys and values of earlier tokens, so that each new token costs only a little work.
Requests arrive at random times; a scheduler groups them into batches and keeps the accelerator busy.
Numbers such as 12, 345, 6789 and 3.14159 appear in text too, as do dates like 2026-11-24.
She said: "Don't stop now, we're almost there!" He replied, "I'll try, but they've closed the road."
Cafés, naïve façades and résumés carry accents; Straße, Ærøskøbing and Łódź carry other letters.
Greek: αβγδε, Russian: Привет мир, Japanese: 東京は大きな都市です, Chinese: 你好世界, Korean: 안녕하세요.
Emoji show up in chats: 🎉 🚀 😀 👍 and families like 👨‍👩‍👧 are joined with invisible glue.
Code lines look different: def f(x): return x * 2  # doubles x
    indented lines,\ttabs, and blank lines

matter to a tokenizer as much as words do.
Orleans grains are virtual actors; they activate on demand and keep their state in memory.
Silos host grains, and a cluster of silos shares the work. Streams carry events between them.
""" * 3

TEXTS = [
    "Hello world! This is a test.",
    "  leading spaces, trailing spaces  \n\nnew lines\tand\ttabs\n",
    "Ünïcödé façade — naïve café, 東京, Привет мир",
    "emoji 🎉🚀 and a family 👨‍👩‍👧 😀!",
    "Numbers 12345 and 3.14159; don't won't I'm they'll WE'RE",
    "",
]

LLAMA3_SPLIT = (r"(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}{1,3}| ?[^\s\p{L}\p{N}]+[\r\n]*"
                r"|\s*[\r\n]+|\s+(?!\S)|\s+")
QWEN2_SPLIT = (r"(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}| ?[^\s\p{L}\p{N}]+[\r\n]*"
               r"|\s*[\r\n]+|\s+(?!\S)|\s+")


def byte_level_tokenizer(split_pattern, vocab_size, specials, normalizer=None):
    tok = Tokenizer(models.BPE())
    if normalizer is not None:
        tok.normalizer = normalizer
    tok.pre_tokenizer = pre_tokenizers.Sequence([
        pre_tokenizers.Split(Regex(split_pattern), behavior="isolated", invert=False),
        pre_tokenizers.ByteLevel(add_prefix_space=False, trim_offsets=True, use_regex=False),
    ])
    tok.decoder = decoders.ByteLevel()
    trainer = trainers.BpeTrainer(vocab_size=vocab_size, min_frequency=2, show_progress=False,
                                  initial_alphabet=pre_tokenizers.ByteLevel.alphabet(), special_tokens=[])
    tok.train_from_iterator(CORPUS.splitlines(keepends=True), trainer=trainer)
    # Special tokens go after the learned vocabulary, as in the real models.
    tok.add_special_tokens([tokenizers.AddedToken(s, special=True, normalized=False) for s in specials])
    return tok


def spm_tokenizer(vocab_size):
    """A Llama-2 style BPE: '▁' for spaces, byte fallback tokens <0x00>..<0xFF>, BOS template."""
    trainer_tok = Tokenizer(models.BPE())
    trainer_tok.pre_tokenizer = pre_tokenizers.Metaspace(replacement="▁", prepend_scheme="always", split=True)
    trainer = trainers.BpeTrainer(vocab_size=vocab_size, min_frequency=2, show_progress=False, special_tokens=[])
    trainer_tok.train_from_iterator(CORPUS.splitlines(), trainer=trainer)
    learned = json.loads(trainer_tok.to_str())["model"]
    vocab = {"<unk>": 0, "<s>": 1, "</s>": 2}
    for b in range(256):
        vocab[f"<0x{b:02X}>"] = len(vocab)
    for piece, _ in sorted(learned["vocab"].items(), key=lambda kv: kv[1]):
        if piece not in vocab:
            vocab[piece] = len(vocab)
    merges = [tuple(m.split(" ", 1)) if isinstance(m, str) else tuple(m) for m in learned["merges"]]
    tok = Tokenizer(models.BPE(vocab=vocab, merges=merges, unk_token="<unk>", byte_fallback=True, fuse_unk=True))
    tok.normalizer = normalizers.Sequence([normalizers.Prepend("▁"), normalizers.Replace(" ", "▁")])
    tok.decoder = decoders.Sequence([decoders.Replace("▁", " "), decoders.ByteFallback(), decoders.Fuse(),
                                     decoders.Strip(content=" ", left=1, right=0)])
    tok.add_special_tokens([tokenizers.AddedToken(s, special=True, normalized=False) for s in ["<unk>", "<s>", "</s>"]])
    tok.post_processor = processors.TemplateProcessing(single="<s> $A", pair="<s> $A <s> $B", special_tokens=[("<s>", 1)])
    return tok


def widen(model, bias_std=0.0):
    """Random norm weights (not all ones) and, where present, non-zero q/k/v biases."""
    with torch.no_grad():
        for name, p in model.named_parameters():
            if name.endswith("norm.weight"):
                p.copy_(1.0 + 0.1 * torch.randn_like(p))
            elif name.endswith("proj.bias") and bias_std > 0:
                p.copy_(bias_std * torch.randn_like(p))


def greedy(model, ids, steps):
    ids = list(ids)
    out, margins = [], []
    with torch.no_grad():
        for _ in range(steps):
            logits = model(torch.tensor([ids])).logits[0, -1].double()
            top = torch.topk(logits, 2)
            margins.append(float(top.values[0] - top.values[1]))
            nxt = int(top.indices[0])
            out.append(nxt)
            ids.append(nxt)
    return out, margins


def expected(model, tok_dir, prompts, steps=16):
    hf_tok = AutoTokenizer.from_pretrained(tok_dir)
    raw = Tokenizer.from_file(os.path.join(tok_dir, "tokenizer.json"))
    out = {"tokenizer_class": type(hf_tok).__name__, "tokenizer_len": len(hf_tok), "tokenization": [], "prompts": []}
    for text in TEXTS + SPECIAL_TEXTS:
        ids = hf_tok(text)["input_ids"]
        ids_plain = hf_tok(text, add_special_tokens=False)["input_ids"]
        out["tokenization"].append({
            "text": text,
            "ids": ids,
            "ids_no_special": ids_plain,
            "raw_tokenizers_ids": raw.encode(text).ids,
            "decoded": hf_tok.decode(ids, skip_special_tokens=True),
            "decoded_with_special": hf_tok.decode(ids, skip_special_tokens=False),
        })
    gen_cfg = GenerationConfig(max_new_tokens=steps, do_sample=False, eos_token_id=[], pad_token_id=0)
    for text in prompts:
        ids = hf_tok(text)["input_ids"]
        with torch.no_grad():
            logits = model(torch.tensor([ids])).logits[0].float()
        greedy_ids, margins = greedy(model, ids, steps)
        try:
            gen = model.generate(torch.tensor([ids]), attention_mask=torch.ones(1, len(ids), dtype=torch.long),
                                 generation_config=gen_cfg)[0, len(ids):].tolist()
        except Exception as e:  # recorded, not fatal: the manual loop is the reference
            gen = f"generate failed: {e!r}"
        top2 = torch.topk(logits.double(), 2, dim=-1).values
        out["prompts"].append({
            "text": text,
            "prompt_ids": ids,
            "greedy_ids": greedy_ids,
            "greedy_min_margin": min(margins),
            "generate_ids": gen,
            "argmax": logits.argmax(-1).tolist(),
            "prompt_min_margin": float((top2[:, 0] - top2[:, 1]).min()),
            "logits_shape": list(logits.shape),
            "logits": [float(f"{v:.7g}") for v in logits.reshape(-1).tolist()],
        })
    return out


SPECIAL_TEXTS = []


def save_tokenizer(tok, path, **special):
    fast = PreTrainedTokenizerFast(tokenizer_object=tok, **special)
    fast.save_pretrained(path)


def main():
    root = sys.argv[1]
    os.makedirs(root, exist_ok=True)
    versions = {"torch": torch.__version__, "transformers": transformers.__version__,
                "tokenizers": tokenizers.__version__, "python": sys.version.split()[0], "seed": SEED}
    print(versions, flush=True)
    torch.set_num_threads(4)
    prompts = [
        "The quick brown fox",
        "Once upon a time, in a land far away, there lived",
        ("Orleans grains are virtual actors; they activate on demand and keep their state in memory. "
         "Silos host grains, and a cluster of silos shares the work. When one machine fell silent, the "
         "others noticed, moved its work elsewhere, and carried on as before. Caches keep the keys and values."),
    ]
    global SPECIAL_TEXTS

    # ---- llama3-tiny: byte-level BPE with Llama 3's split, BOS template, llama3 RoPE scaling, untied head.
    torch.manual_seed(SEED)
    specials = ["<|begin_of_text|>", "<|end_of_text|>", "<|start_header_id|>", "<|end_header_id|>", "<|eot_id|>"]
    tok = byte_level_tokenizer(LLAMA3_SPLIT, 700, specials)
    bos, eos, eot = tok.token_to_id(specials[0]), tok.token_to_id(specials[1]), tok.token_to_id(specials[4])
    tok.post_processor = processors.Sequence([
        processors.ByteLevel(trim_offsets=False),
        processors.TemplateProcessing(single=f"{specials[0]} $A", pair=f"{specials[0]} $A {specials[0]} $B",
                                      special_tokens=[(specials[0], bos)]),
    ])
    d = os.path.join(root, "llama3-tiny")
    save_tokenizer(tok, d, bos_token=specials[0], eos_token=specials[4])
    cfg_args = dict(vocab_size=tok.get_vocab_size(), hidden_size=64, intermediate_size=128, num_hidden_layers=2,
                    num_attention_heads=4, num_key_value_heads=2, head_dim=16, max_position_embeddings=512,
                    rms_norm_eps=1e-5, tie_word_embeddings=False, bos_token_id=bos, eos_token_id=[eos, eot],
                    initializer_range=0.2)
    rope = {"rope_type": "llama3", "factor": 8.0, "low_freq_factor": 1.0, "high_freq_factor": 4.0,
            "original_max_position_embeddings": 64}
    try:
        config = transformers.LlamaConfig(**cfg_args, rope_parameters={**rope, "rope_theta": 500000.0})
    except TypeError:
        config = transformers.LlamaConfig(**cfg_args, rope_theta=500000.0, rope_scaling=rope)
    config._attn_implementation = "eager"
    print("llama3 rope:", getattr(config, "rope_parameters", None), getattr(config, "rope_scaling", None), flush=True)
    model = transformers.LlamaForCausalLM(config).float().eval()
    widen(model)
    model.generation_config = GenerationConfig(bos_token_id=bos, eos_token_id=[eos, eot], do_sample=False)
    model.save_pretrained(d)
    SPECIAL_TEXTS = [f"{specials[0]}special tokens{specials[4]} inside text{specials[1]}"]
    exp = expected(model, d, prompts)
    exp.update(model="llama3-tiny", versions=versions, config=json.load(open(os.path.join(d, "config.json"))))
    json.dump(exp, open(os.path.join(d, "expected.json"), "w"))

    # ---- qwen2-tiny: byte-level BPE with Qwen2's split + NFC, no BOS, tied embeddings, q/k/v biases,
    # vocabulary padded past the tokenizer (as the real Qwen2 checkpoints are).
    torch.manual_seed(SEED + 1)
    specials = ["<|endoftext|>", "<|im_start|>", "<|im_end|>"]
    tok = byte_level_tokenizer(QWEN2_SPLIT, 600, specials, normalizer=normalizers.NFC())
    tok.post_processor = processors.ByteLevel(trim_offsets=False)
    eot, ims, ime = (tok.token_to_id(s) for s in specials)
    d = os.path.join(root, "qwen2-tiny")
    save_tokenizer(tok, d, eos_token=specials[2], pad_token=specials[0])
    vocab = (tok.get_vocab_size() + 63) // 64 * 64
    config = transformers.Qwen2Config(vocab_size=vocab, hidden_size=64, intermediate_size=128, num_hidden_layers=2,
                                      num_attention_heads=4, num_key_value_heads=2, max_position_embeddings=512,
                                      rms_norm_eps=1e-6, tie_word_embeddings=True, bos_token_id=None,
                                      eos_token_id=eot, initializer_range=0.2, use_sliding_window=False)
    config._attn_implementation = "eager"
    model = transformers.Qwen2ForCausalLM(config).float().eval()
    widen(model, bias_std=0.2)
    model.generation_config = GenerationConfig(eos_token_id=[ime, eot], pad_token_id=eot, do_sample=False)
    model.save_pretrained(d)
    SPECIAL_TEXTS = [f"{specials[1]}user\nhello there{specials[2]}\n{specials[1]}assistant\n"]
    exp = expected(model, d, prompts)
    exp.update(model="qwen2-tiny", versions=versions, config=json.load(open(os.path.join(d, "config.json"))))
    json.dump(exp, open(os.path.join(d, "expected.json"), "w"))

    # ---- qwen2-tiny-bf16-sharded: the same weights rounded to bf16, saved in several shards + index.
    d2 = os.path.join(root, "qwen2-tiny-bf16-sharded")
    mb = model.to(torch.bfloat16)
    mb.save_pretrained(d2, max_shard_size="100KB")
    for f in ("tokenizer.json", "tokenizer_config.json"):
        shutil.copy(os.path.join(d, f), d2)
    # bf16-rounded weights, float32 arithmetic: what a backend that widens bf16 computes. Reloaded rather than
    # cast back, because casting the module also rounds its RoPE inverse frequencies to bf16.
    try:
        ref = transformers.Qwen2ForCausalLM.from_pretrained(d2, dtype=torch.float32, attn_implementation="eager").eval()
    except TypeError:
        ref = transformers.Qwen2ForCausalLM.from_pretrained(d2, torch_dtype=torch.float32, attn_implementation="eager").eval()
    exp = expected(ref, d2, prompts[:2])
    exp.update(model="qwen2-tiny-bf16-sharded", versions=versions,
               config=json.load(open(os.path.join(d2, "config.json"))))
    exp.pop("tokenization")
    json.dump(exp, open(os.path.join(d2, "expected.json"), "w"))

    # ---- llama2-spm-tiny: SentencePiece-style BPE (▁ + byte fallback), MHA, default RoPE.
    torch.manual_seed(SEED + 2)
    tok = spm_tokenizer(700)
    d = os.path.join(root, "llama2-spm-tiny")
    save_tokenizer(tok, d, bos_token="<s>", eos_token="</s>", unk_token="<unk>")
    config = transformers.LlamaConfig(vocab_size=tok.get_vocab_size(), hidden_size=64, intermediate_size=128,
                                      num_hidden_layers=2, num_attention_heads=4, num_key_value_heads=4,
                                      max_position_embeddings=256, rms_norm_eps=1e-6, tie_word_embeddings=False,
                                      bos_token_id=1, eos_token_id=2, initializer_range=0.2)
    config._attn_implementation = "eager"
    model = transformers.LlamaForCausalLM(config).float().eval()
    widen(model)
    model.generation_config = GenerationConfig(bos_token_id=1, eos_token_id=2, do_sample=False)
    model.save_pretrained(d)
    SPECIAL_TEXTS = ["<s>already has bos</s> and ✓ unseen ☃ chars"]
    exp = expected(model, d, prompts)
    exp.update(model="llama2-spm-tiny", versions=versions, config=json.load(open(os.path.join(d, "config.json"))))
    json.dump(exp, open(os.path.join(d, "expected.json"), "w"))

    for name in sorted(os.listdir(root)):
        p = os.path.join(root, name)
        e = json.load(open(os.path.join(p, "expected.json")))
        print(name, sorted(os.listdir(p)), "tokenizer:", e.get("tokenizer_class"),
              "margins:", [(round(x["greedy_min_margin"], 4), round(x["prompt_min_margin"], 4)) for x in e["prompts"]],
              "generate==greedy:", [x["generate_ids"] == x["greedy_ids"] for x in e["prompts"]], flush=True)
        for t in e.get("tokenization", []):
            if t["ids"] != t["raw_tokenizers_ids"]:
                print("  transformers != tokenizers for", repr(t["text"]), t["ids"], t["raw_tokenizers_ids"])


if __name__ == "__main__":
    main()
