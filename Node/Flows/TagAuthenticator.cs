using System.Buffers.Binary;
using System.Globalization;
using System.Numerics;

namespace FlowMesh.Node.Flows;

/// <summary>
/// Checks that a trace tag was made by the fleet for this very connection. A signed tag is
/// {nonce (high 32 bits), the low 32 bits of SipHash-2-4(key, isn || nonce)}, written by the
/// client's Node in BPF (capture.bpf.c, new_tag) with the first of its keys; the server's
/// Node recomputes it over the client's ISN it saw, with each key it accepts (two during a
/// rotation). A tag copied from another connection, or made without a key, fails. With no
/// key configured, tags are not authenticated and every tag passes.
/// </summary>
public static class TagAuthenticator
{
    /// <summary>One 128-bit SipHash key, as its two little-endian halves.</summary>
    public readonly record struct Key(ulong K0, ulong K1)
    {
        public static Key FromHex(string hex)
        {
            var bytes = Convert.FromHexString(hex);
            if (bytes.Length != 16)
                throw new FormatException($"a tag key is 16 bytes (32 hex digits), not {bytes.Length}");
            return new Key(BinaryPrimitives.ReadUInt64LittleEndian(bytes), BinaryPrimitives.ReadUInt64LittleEndian(bytes.AsSpan(8)));
        }

        /// <summary>A short name for logs: the first 8 hex digits of the key's hash of nothing (never the key).</summary>
        public string Id => (SipHash(this, 0) >> 32).ToString("x8", CultureInfo.InvariantCulture);
    }

    private static volatile Key[] s_keys = [];

    public static void SetKeys(IReadOnlyList<Key> keys) => s_keys = [.. keys];

    /// <summary>The tag the client's Node makes for a connection whose ISN is <paramref name="isn"/>.</summary>
    public static ulong Sign(Key key, uint isn, uint nonce) => ((ulong)nonce << 32) | (SipHash(key, ((ulong)nonce << 32) | isn) & 0xffff_ffff);

    /// <summary>Whether <paramref name="tag"/> was signed for the connection whose client ISN is <paramref name="clientIsn"/> (true when no key is set).</summary>
    public static bool Verify(ulong tag, uint clientIsn)
    {
        var keys = s_keys;
        if (keys.Length == 0)
            return true;
        foreach (var key in keys)
        {
            if (Sign(key, clientIsn, (uint)(tag >> 32)) == tag)
                return true;
        }
        return false;
    }

    /// <summary>
    /// SipHash-2-4 of one 8-byte message (<paramref name="message"/>'s little-endian bytes),
    /// as the BPF program computes it. Written here because .NET has no public SipHash
    /// and the two must agree bit for bit; held to the reference vectors by a unit test.
    /// </summary>
    public static ulong SipHash(Key key, ulong message)
    {
        var v0 = key.K0 ^ 0x736f6d6570736575UL;
        var v1 = key.K1 ^ 0x646f72616e646f6dUL;
        var v2 = key.K0 ^ 0x6c7967656e657261UL;
        var v3 = key.K1 ^ 0x7465646279746573UL;
        const ulong last = 8UL << 56; // the length byte; no bytes left over
        v3 ^= message;
        Round(ref v0, ref v1, ref v2, ref v3);
        Round(ref v0, ref v1, ref v2, ref v3);
        v0 ^= message;
        v3 ^= last;
        Round(ref v0, ref v1, ref v2, ref v3);
        Round(ref v0, ref v1, ref v2, ref v3);
        v0 ^= last;
        v2 ^= 0xff;
        for (var i = 0; i < 4; i++)
            Round(ref v0, ref v1, ref v2, ref v3);
        return v0 ^ v1 ^ v2 ^ v3;
    }

    private static void Round(ref ulong v0, ref ulong v1, ref ulong v2, ref ulong v3)
    {
        v0 += v1; v1 = BitOperations.RotateLeft(v1, 13); v1 ^= v0; v0 = BitOperations.RotateLeft(v0, 32);
        v2 += v3; v3 = BitOperations.RotateLeft(v3, 16); v3 ^= v2;
        v0 += v3; v3 = BitOperations.RotateLeft(v3, 21); v3 ^= v0;
        v2 += v1; v1 = BitOperations.RotateLeft(v1, 17); v1 ^= v2; v2 = BitOperations.RotateLeft(v2, 32);
    }
}
