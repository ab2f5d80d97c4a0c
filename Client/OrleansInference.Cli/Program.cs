using System.CommandLine;
using OrleansInference.Cli;

// generate | score: run the engine in-process on one request.
var root = new RootCommand("OrleansInference command line: run the inference engine directly on a model.")
{
    GenerateCommand.Create(),
    ScoreCommand.Create(),
};
var parse = root.Parse(args);
if (parse.Errors.Count > 0)
{
    foreach (var error in parse.Errors)
    {
        Console.Error.WriteLine($"error: {error.Message}");
    }
    Console.Error.WriteLine("Run with --help for usage.");
    return CliExit.Usage;
}
return await parse.InvokeAsync();
