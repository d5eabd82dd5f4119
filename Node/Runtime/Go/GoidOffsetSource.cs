namespace FlowMesh.Node.Runtime.Go;

/// <summary>Where the offset of <c>goid</c> in <c>runtime.g</c> was read from.</summary>
public enum GoidOffsetSource
{
    /// <summary>The binary's own DWARF: exact for whatever toolchain built it.</summary>
    Dwarf,

    /// <summary>
    /// <see cref="GoidOffsets"/>, by Go minor version, for binaries linked without DWARF
    /// (<c>-ldflags=-w</c>); right only while that release's layout is the one measured.
    /// </summary>
    Table,
}
