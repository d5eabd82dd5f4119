using System.Text.Json;

namespace FlowMesh.SystemTests.Harness;

internal static class HttpJson
{
    /// <summary>GET a JSON document; a status other than 2xx fails with the body.</summary>
    public static async Task<JsonElement> GetJsonAsync(this HttpClient http, string path)
    {
        using var response = await http.GetAsync(path);
        var body = await response.Content.ReadAsStringAsync();
        if (!response.IsSuccessStatusCode)
            throw new HttpRequestException($"GET {path}: {(int)response.StatusCode} {body}");
        return JsonDocument.Parse(body).RootElement.Clone();
    }
}
