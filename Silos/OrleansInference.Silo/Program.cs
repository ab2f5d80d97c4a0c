using OrleansInference.Silo.Hosting;

// One silo with its HTTP APIs: `dotnet run --project Silos/OrleansInference.Silo [-- --model <dir>] [--device cuda] [--urls ...]`.
await SiloHost.Create(args).RunAsync();
