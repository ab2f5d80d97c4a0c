using Microsoft.AspNetCore.Hosting;
using Orleans.Dashboard;
using OrleansInference.Silo.Http;
using OrleansInference.Silo.Http.Admin;
using OrleansInference.Silo.Http.Errors;
using OrleansInference.Silo.Http.Inference;
using OrleansInference.Silo.Http.KServe;
using OrleansInference.Silo.Http.OpenAi;
using OrleansInference.Silo.Metrics;

namespace OrleansInference.Silo.Hosting;

/// <summary>
/// Builds the silo host: an Orleans silo (engine, grains, dashboard) and ASP.NET Core (OpenAI and KServe APIs, metrics)
/// in one process. Tests build it the same way with their own arguments.
/// </summary>
public static class SiloHost
{
    /// <summary>HTTP address when none is configured.</summary>
    public const string DefaultUrl = "http://127.0.0.1:8000";

    /// <summary>Environment variables with this prefix are configuration keys (<c>__</c> separates sections).</summary>
    public const string EnvironmentPrefix = "ORLEANSINFERENCE_";

    /// <summary>
    /// Configuration: appsettings.json, environment variables (plain and <see cref="EnvironmentPrefix"/>), then the
    /// command line (with <see cref="SiloCommandLine.SwitchMappings"/>), later sources winning.
    /// </summary>
    public static WebApplicationBuilder CreateBuilder(string[] args)
    {
        var builder = WebApplication.CreateBuilder(new WebApplicationOptions { Args = args, ContentRootPath = AppContext.BaseDirectory });
        builder.Configuration.AddEnvironmentVariables(EnvironmentPrefix);
        builder.Configuration.AddCommandLine(args, SiloCommandLine.SwitchMappings);
        ValidateDevice(builder.Configuration[SiloCommandLine.DeviceKey]);
        if (string.IsNullOrEmpty(builder.Configuration[WebHostDefaults.ServerUrlsKey]))
        {
            builder.WebHost.UseUrls(DefaultUrl);
        }

        var http = builder.Configuration.GetSection(HttpApiOptions.SectionName);
        builder.Services.Configure<HttpApiOptions>(http);
        var maxBody = http.Get<HttpApiOptions>()?.MaxRequestBodyBytes ?? new HttpApiOptions().MaxRequestBodyBytes;
        builder.WebHost.ConfigureKestrel(k => k.Limits.MaxRequestBodySize = maxBody);

        builder.AddInferenceLogging();
        builder.AddInferenceSilo();
        builder.Services.AddSingleton(TimeProvider.System);
        builder.Services.AddInferenceMetrics();
        builder.Services.AddSingleton<ModelResolver>();
        builder.Services.AddSingleton<InferenceGateway>();
        builder.Services.AddSingleton<StartupBanner>();
        builder.Services.AddOpenAiApi();
        builder.Services.AddKServeApi();
        return builder;
    }

    /// <summary>
    /// Refuses an unknown <c>--device</c> before anything starts (a GPU that is asked for but missing is not an error:
    /// the engine logs a warning and falls back to the CPU).
    /// </summary>
    private static void ValidateDevice(string? device)
    {
        try
        {
            OrleansInference.Native.Engine.EngineDevice.Parse(device);
        }
        catch (ArgumentException e)
        {
            throw new SiloConfigurationException($"{SiloCommandLine.DeviceKey} (--device): {e.Message.Split(" (Parameter")[0]}", e);
        }
    }

    /// <summary>Builds the application and maps its endpoints.</summary>
    public static WebApplication Build(WebApplicationBuilder builder)
    {
        var app = builder.Build();
        app.UseWhen(c => c.Request.Path.StartsWithSegments("/v1") || c.Request.Path.StartsWithSegments("/v2"),
            api => api.UseMiddleware<ApiExceptionMiddleware>());
        app.MapOpenAiApi();
        app.MapKServeApi();
        app.MapAdminApi();
        app.MapOrleansDashboard(routePrefix: "/dashboard");
        app.MapInferenceMetrics();
        app.Lifetime.ApplicationStarted.Register(() => app.Services.GetRequiredService<StartupBanner>().Log());
        return app;
    }

    /// <summary><see cref="CreateBuilder"/> then <see cref="Build"/>.</summary>
    public static WebApplication Create(string[] args) => Build(CreateBuilder(args));
}
