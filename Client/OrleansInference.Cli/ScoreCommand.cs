using System.CommandLine;
using System.Text.Json;

namespace OrleansInference.Cli;

/// <summary><c>oi score</c>: teacher-forced log-probabilities of a token sequence, as JSON.</summary>
internal static class ScoreCommand
{
    public static Command Create()
    {
        var model = CliOptions.Model();
        var device = CliOptions.Device();
        var ids = CliOptions.TokenIds("--ids", "Token ids to score.");
        ids.Required = true;
        var top = new Option<int>("--top") { Description = "Top alternatives per position (0-20).", DefaultValueFactory = _ => 0 };
        var command = new Command("score", "Per position: the most likely next token and the log-probability of the given next token.")
        {
            model, ids, top, device,
        };
        command.SetAction((p, ct) => CliExit.GuardAsync(() => RunAsync(p.GetValue(model)!, p.GetValue(ids)!, p.GetValue(top), p.GetValue(device)!, ct)));
        return command;
    }

    private static async Task<int> RunAsync(string modelPath, int[] ids, int top, string device, CancellationToken ct)
    {
        if (top is < 0 or > 20)
        {
            throw new CliUsageException("--top must be between 0 and 20.");
        }
        await using var session = EngineSession.Open(modelPath, device, _ => ids.Length);
        var score = await session.Engine.ScoreAsync(ids, top, ct);
        var positions = ids.Select((id, i) => new
        {
            position = i,
            token = id,
            argmax = score.Argmax[i],
            next_token = i + 1 < ids.Length ? ids[i + 1] : (int?)null,
            next_logprob = i + 1 < ids.Length ? score.TargetLogprobs[i] : (float?)null,
            top = score.Top?[i].Select(t => new { id = t.TokenId, logprob = t.Logprob }),
        });
        Console.Out.WriteLine(JsonSerializer.Serialize(new { model = session.Engine.Info.ModelId, positions }));
        return CliExit.Ok;
    }
}
