namespace FlowMesh.Aggregator.Anomalies;

/// <summary>What an anomaly is about.</summary>
public enum AnomalyMetric
{
    Connect,
    Duration,
    Rtt,
    Retransmissions,
    Resets,
}
