namespace Tern.Core.Memory;

/// <summary>One reading of the process's memory.</summary>
public readonly record struct MemorySample(
    long ResidentBytes,
    long PrivateBytes,
    long GcHeapBytes,
    long GcCommittedBytes,
    long GcFragmentedBytes,
    int Gen0Collections,
    int Gen1Collections,
    int Gen2Collections,
    int Threads);

public interface IMemoryReader
{
    MemorySample Read();
}
