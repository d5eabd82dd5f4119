namespace FlowMesh.Node.Runtime.Go;

/// <summary>One attribute of an abbreviation: its name (DW_AT_*), form (DW_FORM_*) and, for DW_FORM_implicit_const, the value.</summary>
internal readonly record struct DwarfAttributeSpec(ulong Name, ulong Form, long ImplicitConst);
