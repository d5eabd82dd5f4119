using System.Globalization;
using System.Text;

namespace FlowMesh.Aggregator.Gateway;

/// <summary>Where a list stopped: the (score, id) of the last record looked at, newest first.</summary>
internal readonly record struct Cursor(long Score, string Id)
{
    public string Encode() => Convert.ToBase64String(Encoding.UTF8.GetBytes($"{Score.ToString(CultureInfo.InvariantCulture)}|{Id}"))
        .TrimEnd('=').Replace('+', '-').Replace('/', '_');

    public static bool TryDecode(string text, out Cursor cursor)
    {
        cursor = default;
        try
        {
            var base64 = text.Replace('-', '+').Replace('_', '/');
            base64 += new string('=', (4 - base64.Length % 4) % 4);
            var parts = Encoding.UTF8.GetString(Convert.FromBase64String(base64)).Split('|', 2);
            if (parts.Length != 2 || !long.TryParse(parts[0], NumberStyles.AllowLeadingSign, CultureInfo.InvariantCulture, out var score) || parts[1].Length == 0)
                return false;
            cursor = new Cursor(score, parts[1]);
            return true;
        }
        catch (FormatException)
        {
            return false;
        }
    }
}
