namespace FlowMesh.Node.Runtime.Go;

/// <summary>A member of a named struct, as DWARF names both (e.g. <c>runtime.g</c>, <c>goid</c>).</summary>
internal readonly record struct DwarfMember(string Struct, string Member)
{
    public override string ToString() => $"{Struct}.{Member}";
}
