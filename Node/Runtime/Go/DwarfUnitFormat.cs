namespace FlowMesh.Node.Runtime.Go;

/// <summary>What a unit header says about the sizes of the forms inside it.</summary>
/// <param name="Version">DWARF version, 2 to 5.</param>
/// <param name="AddressSize">Bytes in a target address (DW_FORM_addr).</param>
/// <param name="OffsetSize">Bytes in a section offset: 4 in 32-bit DWARF, 8 in 64-bit DWARF.</param>
internal readonly record struct DwarfUnitFormat(int Version, int AddressSize, int OffsetSize);
