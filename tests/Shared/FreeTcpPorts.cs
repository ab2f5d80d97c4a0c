using System.Net;
using System.Net.Sockets;

namespace OrleansInference.Tests.Shared;

/// <summary>
/// Ports the OS reports free right now (linked into the test projects that start silos). Orleans needs its ports fixed before start, so there is a small window in
/// which another process could take one; callers that start servers retry on a bind failure.
/// </summary>
internal static class FreeTcpPorts
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
