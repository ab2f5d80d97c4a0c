using OrleansInference.Benchmarks.Benchmarks;

// Each benchmark is a subcommand: it prints a table and writes JSON (--json FILE).
var benchmarks = new SortedDictionary<string, Func<string[], Task<int>>>(StringComparer.OrdinalIgnoreCase)
{
    ["engine"] = EngineBenchmark.RunAsync,
    ["gpu"] = a => Task.FromResult(GpuBenchmark.Run(a)),
    ["kv-transfer"] = KvTransferBenchmark.RunAsync,
    ["routing"] = RoutingBenchmark.RunAsync,
    ["overhead"] = OverheadBenchmark.RunAsync,
    ["tp"] = a => Task.FromResult(TpBenchmark.Run(a)),
};

if (args.Length == 0 || !benchmarks.TryGetValue(args[0], out var run))
{
    Console.Error.WriteLine("usage: dotnet run -c Release --project tests/OrleansInference.Benchmarks -- <benchmark> [options] [--json FILE]");
    Console.Error.WriteLine("benchmarks: " + string.Join(", ", benchmarks.Keys));
    return 2;
}
return await run(args[1..]);
