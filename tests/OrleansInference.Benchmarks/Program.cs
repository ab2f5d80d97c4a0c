using OrleansInference.Benchmarks.Benchmarks;

// Each benchmark is a subcommand: it prints a table and writes JSON.
return args.Length > 0 && args[0] == "gpu"
    ? GpuBenchmark.Run(args[1..])
    : Usage();

static int Usage()
{
    Console.Error.WriteLine("usage: OrleansInference.Benchmarks gpu --model DIR [--transformers FILE] [--json FILE]");
    return 2;
}
