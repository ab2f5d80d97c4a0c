namespace OrleansInference.Silo.Hosting;

/// <summary>The silo's configuration (command line, environment, appsettings) is invalid; the message says which setting and why.</summary>
public sealed class SiloConfigurationException : Exception
{
    /// <summary>Creates the exception.</summary>
    public SiloConfigurationException(string message, Exception? inner = null)
        : base(message, inner)
    {
    }
}
