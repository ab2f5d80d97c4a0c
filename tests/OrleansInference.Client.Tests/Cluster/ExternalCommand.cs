using System.Diagnostics;
using System.Text;

namespace OrleansInference.Client.Tests.Cluster;

/// <summary>The result of a finished command: exit code and its stdout and stderr interleaved.</summary>
public sealed record CommandResult(int ExitCode, string Output);

/// <summary>Runs a short-lived program (ip, podman, the deploy scripts) to completion and captures its output.</summary>
internal static class ExternalCommand
{
    public static async Task<CommandResult> RunAsync(string program, IEnumerable<string> arguments, TimeSpan timeout,
        CancellationToken cancellationToken, IReadOnlyDictionary<string, string>? environment = null, string? workingDirectory = null)
    {
        var info = new ProcessStartInfo(program)
        {
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            UseShellExecute = false,
            WorkingDirectory = workingDirectory ?? Environment.CurrentDirectory,
        };
        foreach (var argument in arguments)
        {
            info.ArgumentList.Add(argument);
        }
        foreach (var (key, value) in environment ?? new Dictionary<string, string>())
        {
            info.Environment[key] = value;
        }
        var output = new StringBuilder();
        using var process = new Process { StartInfo = info };
        process.OutputDataReceived += (_, e) => Append(output, e.Data);
        process.ErrorDataReceived += (_, e) => Append(output, e.Data);
        process.Start();
        process.BeginOutputReadLine();
        process.BeginErrorReadLine();
        using var limit = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
        limit.CancelAfter(timeout);
        try
        {
            await process.WaitForExitAsync(limit.Token);
        }
        catch (OperationCanceledException)
        {
            process.Kill(entireProcessTree: true);
            throw new TimeoutException($"{Describe(program, info.ArgumentList)} did not finish within {timeout}: {Tail(output)}");
        }
        // The parameterless wait drains the redirected streams.
        process.WaitForExit();
        lock (output)
        {
            return new CommandResult(process.ExitCode, output.ToString());
        }
    }

    /// <summary>Runs the command and throws, naming it and quoting its output, when it exits non-zero.</summary>
    public static async Task<string> RunCheckedAsync(string program, IEnumerable<string> arguments, TimeSpan timeout,
        CancellationToken cancellationToken, IReadOnlyDictionary<string, string>? environment = null, string? workingDirectory = null)
    {
        var list = arguments.ToList();
        var result = await RunAsync(program, list, timeout, cancellationToken, environment, workingDirectory);
        if (result.ExitCode != 0)
        {
            throw new InvalidOperationException(
                $"{Describe(program, list)} exited with {result.ExitCode}: {Tail(new StringBuilder(result.Output))}");
        }
        return result.Output;
    }

    private static void Append(StringBuilder output, string? line)
    {
        if (line is null)
        {
            return;
        }
        lock (output)
        {
            output.AppendLine(line);
        }
    }

    private static string Describe(string program, IEnumerable<string> arguments) =>
        string.Join(' ', new[] { program }.Concat(arguments));

    private static string Tail(StringBuilder output)
    {
        lock (output)
        {
            var text = output.ToString();
            return text.Length <= 4000 ? text : "..." + text[^4000..];
        }
    }
}
