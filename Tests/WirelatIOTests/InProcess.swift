import Testing

/// The event loop's and the blocking pool's tests open descriptors and threads, so they
/// run one at a time.
@Suite("In process, on loopback", .serialized, .timeLimit(.minutes(1)))
struct InProcess {}
