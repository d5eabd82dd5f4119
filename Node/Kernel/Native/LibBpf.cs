using System.Runtime.InteropServices;

namespace FlowMesh.Node.Kernel.Native;

/// <summary>
/// The part of libbpf (Debian's libbpf1, libbpf.so.1) FlowMesh uses. Pointer-returning
/// calls return NULL and set errno; int-returning calls return a negative errno.
/// </summary>
internal static unsafe partial class LibBpf
{
    private const string Lib = "libbpf.so.1";

    public const int BPF_MAP_TYPE_ARRAY_OF_MAPS = 12;
    public const int BPF_MAP_TYPE_RINGBUF = 27;

    [LibraryImport(Lib, StringMarshalling = StringMarshalling.Utf8, SetLastError = true)]
    public static partial nint bpf_object__open_file(string path, nint opts);

    [LibraryImport(Lib)]
    public static partial int bpf_object__load(nint obj);

    [LibraryImport(Lib)]
    public static partial void bpf_object__close(nint obj);

    [LibraryImport(Lib, StringMarshalling = StringMarshalling.Utf8)]
    public static partial nint bpf_object__find_map_by_name(nint obj, string name);

    [LibraryImport(Lib)]
    public static partial nint bpf_object__next_program(nint obj, nint prev);

    [LibraryImport(Lib)]
    public static partial nint bpf_program__name(nint prog);

    [LibraryImport(Lib)]
    public static partial nint bpf_program__section_name(nint prog);

    [LibraryImport(Lib)]
    public static partial int bpf_program__set_log_buf(nint prog, byte* logBuf, nuint logSize);

    [LibraryImport(Lib, SetLastError = true)]
    public static partial nint bpf_program__attach(nint prog);

    [LibraryImport(Lib, SetLastError = true)]
    public static partial nint bpf_program__attach_iter(nint prog, nint opts);

    [LibraryImport(Lib, SetLastError = true)]
    public static partial nint bpf_program__attach_cgroup(nint prog, int cgroupFd);

    [LibraryImport(Lib, StringMarshalling = StringMarshalling.Utf8, SetLastError = true)]
    public static partial nint bpf_program__attach_uprobe(nint prog, [MarshalAs(UnmanagedType.U1)] bool retprobe, int pid, string binaryPath, nuint funcOffset);

    [LibraryImport(Lib)]
    public static partial int bpf_program__set_autoload(nint prog, [MarshalAs(UnmanagedType.U1)] bool autoload);

    [LibraryImport(Lib)]
    public static partial int bpf_link__fd(nint link);

    [LibraryImport(Lib)]
    public static partial int bpf_link__destroy(nint link);

    [LibraryImport(Lib)]
    public static partial int bpf_map__set_max_entries(nint map, uint maxEntries);

    [LibraryImport(Lib)]
    public static partial int bpf_map__set_inner_map_fd(nint map, int fd);

    [LibraryImport(Lib)]
    public static partial int bpf_map__fd(nint map);

    [LibraryImport(Lib)]
    public static partial void* bpf_map__initial_value(nint map, nuint* size);

    [LibraryImport(Lib, StringMarshalling = StringMarshalling.Utf8)]
    public static partial int bpf_map_create(int mapType, string name, uint keySize, uint valueSize, uint maxEntries, nint opts);

    [LibraryImport(Lib)]
    public static partial int bpf_map_update_elem(int fd, void* key, void* value, ulong flags);

    [LibraryImport(Lib)]
    public static partial int bpf_map_lookup_elem(int fd, void* key, void* value);

    [LibraryImport(Lib)]
    public static partial int bpf_map_delete_elem(int fd, void* key);

    [LibraryImport(Lib)]
    public static partial int bpf_map_get_next_key(int fd, void* key, void* nextKey);

    [LibraryImport(Lib)]
    public static partial int bpf_iter_create(int linkFd);

    [LibraryImport(Lib)]
    public static partial int libbpf_num_possible_cpus();

    /// <summary>libbpf_print_fn_t: int (*)(enum libbpf_print_level level, const char *fmt, va_list args).</summary>
    [LibraryImport(Lib)]
    public static partial nint libbpf_set_print(delegate* unmanaged[Cdecl]<int, byte*, nint, int> fn);

    public const int LIBBPF_WARN = 0;
    public const int LIBBPF_INFO = 1;
    public const int LIBBPF_DEBUG = 2;

    public static string? NameOf(nint prog) => Marshal.PtrToStringUTF8(bpf_program__name(prog));
}
