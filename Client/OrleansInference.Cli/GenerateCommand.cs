using System.CommandLine;
using System.Text.Json;
using OrleansInference.Native;

namespace OrleansInference.Cli;

/// <summary><c>oi generate</c>: one completion, streamed as text or reported as one JSON object.</summary>
internal static class GenerateCommand
{
    public static Command Create()
    {
        var model = CliOptions.Model();
        var device = CliOptions.Device();
        var prompt = new Option<string>("--prompt", "-p") { Description = "Prompt text (tokenized with the model's tokenizer)." };
        var promptIds = CliOptions.TokenIds("--prompt-ids", "Prompt as token ids.");
        var maxTokens = new Option<int>("--max-tokens", "-n") { Description = "Tokens to generate at most.", DefaultValueFactory = _ => 16 };
        var temperature = new Option<float>("--temperature", "-t") { Description = "Softmax temperature; 0 is greedy.", DefaultValueFactory = _ => 1f };
        var topP = new Option<float>("--top-p") { Description = "Nucleus sampling mass (1 disables).", DefaultValueFactory = _ => 1f };
        var topK = new Option<int>("--top-k") { Description = "Keep the k most likely tokens (0 disables)." };
        var seed = new Option<ulong?>("--seed") { Description = "RNG seed (same seed, same output)." };
        var ignoreEos = new Option<bool>("--ignore-eos") { Description = "Keep generating after the end-of-sequence token." };
        var json = new Option<bool>("--json") { Description = "Print one JSON object: prompt_ids, output_ids, text, finish_reason, timings." };

        var command = new Command("generate", "Generate a completion.")
        {
            model, prompt, promptIds, maxTokens, temperature, topP, topK, seed, ignoreEos, device, json,
        };
        command.Validators.Add(r =>
        {
            if ((r.GetResult(prompt) is null) == (r.GetResult(promptIds) is null))
            {
                r.AddError("Give exactly one of --prompt and --prompt-ids.");
            }
        });
        command.SetAction((p, ct) => CliExit.GuardAsync(() => RunAsync(new Args(
            p.GetValue(model)!, p.GetValue(prompt), p.GetResult(promptIds) is null ? null : p.GetValue(promptIds), p.GetValue(maxTokens), p.GetValue(temperature),
            p.GetValue(topP), p.GetValue(topK), p.GetValue(seed), p.GetValue(ignoreEos), p.GetValue(device)!, p.GetValue(json)), ct)));
        return command;
    }

    private sealed record Args(string Model, string? Prompt, int[]? PromptIds, int MaxTokens, float Temperature, float TopP,
        int TopK, ulong? Seed, bool IgnoreEos, string Device, bool Json);

    private static async Task<int> RunAsync(Args a, CancellationToken ct)
    {
        if (a.MaxTokens < 1)
        {
            throw new CliUsageException("--max-tokens must be at least 1.");
        }
        int[]? promptIds = a.PromptIds;
        await using var session = EngineSession.Open(a.Model, a.Device, m =>
        {
            promptIds ??= m.Tokenizer.Encode(a.Prompt!);
            return promptIds.Length + a.MaxTokens;
        });
        if (session.IsBuiltin && !a.Json)
        {
            Console.Error.WriteLine("note: the built-in model has random weights, so its output is meaningless text.");
        }
        var engine = session.Engine;
        var request = new GenerationRequest
        {
            RequestId = "cli",
            PromptTokenIds = promptIds,
            Sampling = new SamplingParams
            {
                MaxTokens = a.MaxTokens,
                Temperature = a.Temperature,
                TopP = a.TopP,
                TopK = a.TopK,
                Seed = a.Seed,
                IgnoreEos = a.IgnoreEos,
            },
        };
        var output = new List<int>();
        var text = new System.Text.StringBuilder();
        GenerationUpdate? last = null;
        await foreach (var u in engine.Submit(request).WithCancellation(ct))
        {
            output.AddRange(u.TokenIds);
            text.Append(u.Text);
            if (!a.Json)
            {
                Console.Out.Write(u.Text);
                Console.Out.Flush();
            }
            last = u;
        }
        if (last?.FinishReason is FinishReason.Error)
        {
            throw new InvalidOperationException(last.Error);
        }

        var t = last?.Timings;
        if (!a.Json)
        {
            Console.Out.WriteLine();
            return CliExit.Ok;
        }
        var totalS = t?.Total.TotalSeconds ?? 0;
        var result = new
        {
            prompt_ids = promptIds,
            output_ids = output,
            text = text.ToString(),
            finish_reason = last?.FinishReason?.ToString().ToLowerInvariant(),
            seed = last?.Seed,
            timings = new
            {
                queue_ms = t?.Queued.TotalMilliseconds ?? 0,
                ttft_ms = t?.FirstToken.TotalMilliseconds ?? 0,
                total_ms = t?.Total.TotalMilliseconds ?? 0,
                tokens_per_s = totalS > 0 ? output.Count / totalS : 0,
            },
        };
        Console.Out.WriteLine(JsonSerializer.Serialize(result));
        return CliExit.Ok;
    }
}
