using System.Globalization;
using System.Net.Sockets;
using System.Text;

namespace FlowMesh.Workloads.GcServer;

/// <summary>
/// One client connection: HTTP/1.1 requests one after another (keep-alive unless the
/// client says close or speaks HTTP/1.0 without keep-alive), a body skipped by its
/// Content-Length. Just enough HTTP for curl and the tests.
/// </summary>
internal static class HttpConnection
{
    private const int MaxHeadBytes = 16 * 1024;

    public static async Task ServeAsync(TcpClient client, CancellationToken stop)
    {
        using (client)
        {
            try
            {
                var stream = client.GetStream();
                var buffer = new byte[MaxHeadBytes];
                var filled = 0;
                while (true)
                {
                    int headEnd;
                    while ((headEnd = HeadEnd(buffer, filled)) < 0)
                    {
                        if (filled == buffer.Length)
                        {
                            await stream.WriteAsync(Routes.Plain(431, "Request Header Fields Too Large", "head too large\n", keepAlive: false), stop).ConfigureAwait(false);
                            return;
                        }
                        var read = await stream.ReadAsync(buffer.AsMemory(filled), stop).ConfigureAwait(false);
                        if (read == 0)
                            return;
                        filled += read;
                    }

                    var head = Encoding.ASCII.GetString(buffer, 0, headEnd);
                    var (target, keepAlive, bodyLength) = ParseHead(head);
                    var consumed = headEnd + 4;
                    // The body is not used: drop what is buffered of it, read and drop the rest.
                    var bodyBuffered = (int)Math.Min(bodyLength, filled - consumed);
                    consumed += bodyBuffered;
                    for (var rest = bodyLength - bodyBuffered; rest > 0;)
                    {
                        var read = await stream.ReadAsync(buffer.AsMemory(0, (int)Math.Min(rest, buffer.Length)), stop).ConfigureAwait(false);
                        if (read == 0)
                            return;
                        rest -= read;
                    }
                    Buffer.BlockCopy(buffer, consumed, buffer, 0, filled - consumed);
                    filled -= consumed;

                    await stream.WriteAsync(target is null ? Routes.Plain(400, "Bad Request", "bad request\n", keepAlive: false) : Routes.Respond(target, keepAlive), stop).ConfigureAwait(false);
                    if (target is null || !keepAlive)
                        return;
                }
            }
            catch (Exception e) when (e is IOException or SocketException or OperationCanceledException or ObjectDisposedException)
            {
                // The client went away or the server is stopping: nothing to answer.
            }
        }
    }

    private static int HeadEnd(byte[] buffer, int filled) => buffer.AsSpan(0, filled).IndexOf("\r\n\r\n"u8);

    /// <summary>The request target (null for a malformed request line), whether to keep the connection, and the body's length.</summary>
    private static (string? Target, bool KeepAlive, long BodyLength) ParseHead(string head)
    {
        var lines = head.Split("\r\n");
        var requestLine = lines[0].Split(' ');
        if (requestLine.Length != 3 || !requestLine[2].StartsWith("HTTP/1.", StringComparison.Ordinal))
            return (null, false, 0);
        var keepAlive = requestLine[2] == "HTTP/1.1";
        long bodyLength = 0;
        foreach (var line in lines.AsSpan(1))
        {
            var colon = line.IndexOf(':', StringComparison.Ordinal);
            if (colon <= 0)
                continue;
            var name = line[..colon].Trim();
            var value = line[(colon + 1)..].Trim();
            if (name.Equals("Connection", StringComparison.OrdinalIgnoreCase))
                keepAlive = value.Equals("keep-alive", StringComparison.OrdinalIgnoreCase) || (keepAlive && !value.Equals("close", StringComparison.OrdinalIgnoreCase));
            else if (name.Equals("Content-Length", StringComparison.OrdinalIgnoreCase) && !long.TryParse(value, NumberStyles.None, CultureInfo.InvariantCulture, out bodyLength))
                return (null, false, 0);
        }
        return (requestLine[1], keepAlive, bodyLength);
    }
}
