using System.Globalization;

namespace FlowMesh.Node.Flows;

/// <summary>Names of the socket errors a TCP connection can end with (Linux errno numbers).</summary>
internal static class ErrnoNames
{
    public static string Of(uint errno) => errno switch
    {
        32 => "EPIPE",
        101 => "ENETUNREACH",
        103 => "ECONNABORTED",
        104 => "ECONNRESET",
        110 => "ETIMEDOUT",
        111 => "ECONNREFUSED",
        113 => "EHOSTUNREACH",
        _ => "errno " + errno.ToString(CultureInfo.InvariantCulture),
    };
}
