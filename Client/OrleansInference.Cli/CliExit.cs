using OrleansInference.Native;

namespace OrleansInference.Cli;

/// <summary>Exit codes and the mapping of failures to them.</summary>
internal static class CliExit
{
    public const int Ok = 0;

    /// <summary>Something unexpected failed.</summary>
    public const int Failure = 1;

    /// <summary>Bad arguments, a missing or unusable model, or a request the engine refused.</summary>
    public const int Usage = 2;

    /// <summary>Runs a command body, turning expected failures into a message on stderr and exit code 2.</summary>
    public static async Task<int> GuardAsync(Func<Task<int>> body)
    {
        try
        {
            return await body();
        }
        catch (Exception ex) when (ex is CliUsageException or ModelLoadException or EngineRequestException
            or FileNotFoundException or DirectoryNotFoundException or InvalidDataException)
        {
            Console.Error.WriteLine($"error: {ex.Message}");
            return Usage;
        }
        catch (OperationCanceledException)
        {
            Console.Error.WriteLine("cancelled");
            return Failure;
        }
        catch (Exception ex)
        {
            Console.Error.WriteLine($"error: {ex}");
            return Failure;
        }
    }
}

/// <summary>A command-line mistake, reported without a stack trace.</summary>
internal sealed class CliUsageException(string message) : Exception(message);
