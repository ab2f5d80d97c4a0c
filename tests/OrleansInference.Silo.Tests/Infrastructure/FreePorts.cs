using System.Net;
using System.Net.Sockets;

namespace OrleansInference.Silo.Tests.Infrastructure;

/// <summary>Ports the OS reports free right now (Orleans needs fixed ports; Kestrel takes port 0 itself).</summary>
internal static class FreePorts
{
    public static int[] Take(int count)
    {
        var listeners = Enumerable.Range(0, count).Select(_ => new TcpListener(IPAddress.Loopback, 0)).ToList();
        try
        {
            listeners.ForEach(l => l.Start());
            return listeners.Select(l => ((IPEndPoint)l.LocalEndpoint).Port).ToArray();
        }
        finally
        {
            listeners.ForEach(l => l.Stop());
        }
    }
}
