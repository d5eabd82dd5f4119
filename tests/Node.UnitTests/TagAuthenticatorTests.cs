using FlowMesh.Node.Flows;

namespace FlowMesh.Node.UnitTests;

/// <summary>Runs alone: the accepted keys are process-wide, and flows checked meanwhile would see them.</summary>
[CollectionDefinition(nameof(TagAuthenticatorTests), DisableParallelization = true)]
[Collection(nameof(TagAuthenticatorTests))]
public sealed class TagAuthenticatorTests
{
    // The SipHash paper's key 00 01 .. 0f and its 64-bit output for the 8-byte message 00 01 .. 07.
    private static readonly TagAuthenticator.Key Reference = TagAuthenticator.Key.FromHex("000102030405060708090a0b0c0d0e0f");

    [Fact]
    public void SipHash_matches_the_reference_vector()
    {
        Assert.Equal(0x93f5f5799a932462UL, TagAuthenticator.SipHash(Reference, 0x0706050403020100UL));
    }

    [Fact]
    public void A_signed_tag_verifies_for_its_connection_only_and_under_any_accepted_key()
    {
        var old = TagAuthenticator.Key.FromHex("00112233445566778899aabbccddeeff");
        var current = TagAuthenticator.Key.FromHex("ffeeddccbbaa99887766554433221100");
        var tag = TagAuthenticator.Sign(old, isn: 0x1234_5678, nonce: 0xdead_beef);
        try
        {
            TagAuthenticator.SetKeys([current, old]);
            Assert.True(TagAuthenticator.Verify(tag, 0x1234_5678));
            // Replayed: the same tag in the SYN of another connection (another ISN).
            Assert.False(TagAuthenticator.Verify(tag, 0x1234_5679));
            // Forged: random bits, or signed by a key the fleet does not hold.
            Assert.False(TagAuthenticator.Verify(0xdead_beef_0000_0001UL, 0x1234_5678));
            Assert.False(TagAuthenticator.Verify(TagAuthenticator.Sign(TagAuthenticator.Key.FromHex("0f0e0d0c0b0a09080706050403020100"), 0x1234_5678, 7), 0x1234_5678));
            // After the rotation the old key is dropped: its tags no longer verify.
            TagAuthenticator.SetKeys([current]);
            Assert.False(TagAuthenticator.Verify(tag, 0x1234_5678));
            Assert.True(TagAuthenticator.Verify(TagAuthenticator.Sign(current, 0x1234_5678, 7), 0x1234_5678));
        }
        finally
        {
            TagAuthenticator.SetKeys([]);
        }
        Assert.True(TagAuthenticator.Verify(0xdead_beef_0000_0001UL, 0x1234_5678)); // no key: not authenticated
    }
}
