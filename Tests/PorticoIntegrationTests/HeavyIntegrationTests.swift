import Testing

/// The suites that load the machine most — hundreds of MiB through the gateway (in TLS too),
/// database clusters with several gateway processes, a browser — run one after another
/// (the trait applies to the suites nested here), beside the lighter suites, so that a
/// two-core CI machine is not starved and timing-sensitive tests elsewhere stay reliable.
@Suite(.serialized) struct HeavyIntegrationTests {}
