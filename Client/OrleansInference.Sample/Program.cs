using Microsoft.Extensions.AI;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;
using OrleansInference.Client;

// Streams a chat reply from a running silo to stdout:
//   dotnet run --project Silos/OrleansInference.Silo                      (in one terminal)
//   dotnet run --project Client/OrleansInference.Sample -- "Tell me about Orleans."
// Settings come from appsettings.json (section OrleansInference), environment variables
// (OrleansInference__Gateways__0=host:30000) or the command line (--OrleansInference:DefaultModel=builtin).
var prompt = FirstPlainArgument(args) ?? "Write a haiku about distributed systems.";

var builder = Host.CreateApplicationBuilder(new HostApplicationBuilderSettings { Args = args, ContentRootPath = AppContext.BaseDirectory });
builder.Services.AddOrleansInferenceClient(builder.Configuration.GetSection(OrleansInferenceClientOptions.SectionName));
builder.Services.AddOrleansInferenceChatClient();

using var host = builder.Build();
await host.StartAsync();

var chat = host.Services.GetRequiredService<IChatClient>();
var options = new ChatOptions { MaxOutputTokens = 64, Temperature = 0.7f };
UsageDetails? usage = null;
await foreach (var update in chat.GetStreamingResponseAsync([new ChatMessage(ChatRole.User, prompt)], options))
{
    Console.Write(update.Text);
    usage = update.Contents.OfType<UsageContent>().FirstOrDefault()?.Details ?? usage;
}
Console.WriteLine();
if (usage is not null)
{
    Console.Error.WriteLine($"[{usage.InputTokenCount} prompt tokens, {usage.OutputTokenCount} generated]");
}

await host.StopAsync();

// The first argument that is neither a --Key nor the value following one (--Key value), i.e. the prompt.
static string? FirstPlainArgument(string[] args)
{
    for (var i = 0; i < args.Length; i++)
    {
        if (args[i].StartsWith("--", StringComparison.Ordinal))
        {
            if (!args[i].Contains('=', StringComparison.Ordinal))
            {
                i++;
            }
            continue;
        }
        return args[i];
    }
    return null;
}
