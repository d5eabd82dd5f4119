using FlowMesh.Aggregator.Gateway;
using Microsoft.Extensions.Configuration;

namespace FlowMesh.Aggregator.UnitTests;

public sealed class GatewaySettingsTests
{
    private static GatewaySettings From(params (string Key, string Value)[] values) =>
        GatewaySettings.From(new ConfigurationBuilder()
            .AddInMemoryCollection(values.Select(v => KeyValuePair.Create("Gateway:" + v.Key, (string?)v.Value))).Build());

    [Fact]
    public void Defaults_are_60_s_tickets_50_requests_a_second_and_a_burst_of_100()
    {
        var s = From();
        Assert.Equal(TimeSpan.FromSeconds(60), s.TicketLifetime);
        Assert.Equal(10_000, s.MaxStreamTickets);
        Assert.Equal(50, s.RequestsPerSecond);
        Assert.Equal(100, s.Burst);
        Assert.Empty(s.AllowedHosts);
        Assert.True(s.ChecksHost);
        Assert.False(From(("Token", "t")).ChecksHost); // the token is the boundary
    }

    [Fact]
    public void Allowed_hosts_come_as_a_list_or_one_value_and_an_IPv6_address_gets_its_brackets()
    {
        Assert.Equal(["a.test", "b.test"], From(("AllowedHosts:0", "a.test"), ("AllowedHosts:1", "b.test")).AllowedHosts);
        Assert.Equal(["a.test", "b.test", "[fd00::1]"], From(("AllowedHosts", "a.test, b.test;fd00::1")).AllowedHosts);
        // appsettings.json's empty list reads as "", and an environment variable's item comes beside it.
        Assert.Equal(["a.test"], From(("AllowedHosts", ""), ("AllowedHosts:0", "a.test")).AllowedHosts);
    }

    [Theory]
    [InlineData("AllowedHosts", "a.test:8080", "Gateway:AllowedHosts")]
    [InlineData("AllowedHosts", "http://a.test", "Gateway:AllowedHosts")]
    [InlineData("AllowedHosts", "*", "Gateway:AllowedHosts")]
    [InlineData("TicketSeconds", "0", "Gateway:TicketSeconds")]
    [InlineData("MaxStreamTickets", "0", "Gateway:MaxStreamTickets")]
    [InlineData("RequestsPerSecond", "-1", "Gateway:RequestsPerSecond")]
    [InlineData("Burst", "0", "Gateway:Burst")]
    public void A_setting_that_cannot_work_is_a_one_line_error_naming_it(string key, string value, string named)
    {
        var e = Assert.Throws<ArgumentException>(() => From((key, value)));
        Assert.Contains(named, e.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void No_rate_limit_needs_no_burst()
    {
        var s = From(("RequestsPerSecond", "0"), ("Burst", "0"));
        Assert.Equal(0, s.RequestsPerSecond);
    }
}
