using FlowMesh.Node.Hosting;

namespace FlowMesh.Node.UnitTests;

public sealed class TagKeyFileTests
{
    [Fact]
    public void Keys_are_read_in_order_skipping_blank_lines_and_comments()
    {
        var keys = TagKeyFile.Parse("# signing key first\n00112233445566778899aabbccddeeff\n\n  ffeeddccbbaa99887766554433221100  \n", "keys");
        Assert.Equal(2, keys.Count);
        Assert.Equal(0x7766554433221100UL, keys[0].K0);
        Assert.Equal(0x0011223344556677UL, keys[1].K1);
    }

    [Theory]
    [InlineData("00112233\n", "line 1 is not a key")]
    [InlineData("00112233445566778899aabbccddeeff\nzz112233445566778899aabbccddeeff", "line 2 is not a key")]
    [InlineData("# nothing\n\n", "holds no key")]
    public void A_bad_file_names_what_is_wrong(string text, string expected)
    {
        var error = Assert.Throws<TagKeyException>(() => TagKeyFile.Parse(text, "keys"));
        Assert.Contains(expected, error.Message, StringComparison.Ordinal);
    }
}
