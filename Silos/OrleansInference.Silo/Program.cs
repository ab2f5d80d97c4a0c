using OrleansInference.Silo.Hosting;

// One silo with its HTTP APIs: `dotnet run --project Silos/OrleansInference.Silo [-- --model <dir>] [--device cuda] [--urls ...]`.
WebApplication app;
try
{
    app = SiloHost.Create(args);
}
catch (SiloConfigurationException e)
{
    Console.Error.WriteLine($"error: {e.Message}");
    return 2;
}

try
{
    await app.RunAsync();
}
catch (RedisUnavailableException e)
{
    Console.Error.WriteLine($"error: {e.Message}");
    return 3;
}

return 0;
