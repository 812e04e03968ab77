namespace Tern.Core.Memory;

public enum PressureLevel
{
    Normal,
    Warning,
    Critical,
    Restart,
}

/// <summary>
/// Maps resident memory to a level with hysteresis: a level is entered at its threshold but left only
/// once memory falls a margin below it, so a process hovering at a threshold does not flap.
/// </summary>
public sealed class PressurePolicy(MemoryPlan plan, double hysteresisFraction = 0.05)
{
    private readonly long _margin = (long)(plan.Budget.Bytes * hysteresisFraction);

    public long Threshold(PressureLevel level) => level switch
    {
        PressureLevel.Warning => plan.WarningBytes,
        PressureLevel.Critical => plan.CriticalBytes,
        PressureLevel.Restart => plan.RestartBytes,
        _ => 0,
    };

    public PressureLevel Next(PressureLevel current, long residentBytes)
    {
        var raw = residentBytes >= plan.RestartBytes ? PressureLevel.Restart
            : residentBytes >= plan.CriticalBytes ? PressureLevel.Critical
            : residentBytes >= plan.WarningBytes ? PressureLevel.Warning
            : PressureLevel.Normal;
        if (raw >= current) return raw;

        // Going down: step below each level only once clear of its threshold by the margin.
        var level = current;
        while (level > raw && residentBytes < Threshold(level) - _margin) level--;
        return level;
    }
}
