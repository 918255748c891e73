import Testing
import WirelatCore

@Suite("oratcptest spelling")
struct OratcptestSpellingTests {
    @Test("the worked example from the oratcptest note")
    func workedExample() {
        let arguments = ["client", "HOST", "-mode=sync", "-length=0", "-duration=1s", "-interval=1s", "-port=1521"]
        #expect(OratcptestSpelling.normalize(arguments) == [
            "client", "HOST", "--mode=sync", "--length=0", "--duration=1s", "--interval=1s", "--port=1521",
        ])
    }

    @Test("connections, socket buffer, millisecond delay and timeout; -rtt dropped")
    func connectionsAndMilliseconds() {
        let arguments = ["client", "db01", "-num_conn=4", "-sockbuf=65536", "-delay=5", "-timeout=100", "-rtt"]
        #expect(OratcptestSpelling.normalize(arguments) == [
            "client", "db01", "--connections=4", "--sockbuf=65536", "--delay=5ms", "--timeout=100ms",
        ])
    }

    @Test("delay and timeout values with a unit are kept", arguments: [
        ("-delay=2ms", "--delay=2ms"),
        ("-delay=1.5", "--delay=1.5ms"),
        ("-timeout=3s", "--timeout=3s"),
        ("-delay=250us", "--delay=250us"),
        ("-delay=abc", "--delay=abc"),
    ])
    func units(token: String, expected: String) {
        #expect(OratcptestSpelling.normalize([token]) == [expected])
    }

    @Test("the other options and flags")
    func otherOptions() {
        let arguments = ["client", "h", "-output=/tmp/r.txt", "-write=true", "-verbose", "-freq=10", "-timeout"]
        #expect(OratcptestSpelling.normalize(arguments) == [
            "client", "h", "--output=/tmp/r.txt", "--write=true", "--verbose", "--freq=10",
        ])
        #expect(OratcptestSpelling.normalize(["server", "-server", "-port=1521"]) == ["server", "--port=1521"])
    }

    @Test("unknown single-dash words are left for ArgumentParser to report")
    func unknownWords() {
        let arguments = [
            "client", "h", "-bogus", "-bogus=1", "-mode", "-v", "-5", "-", "-port", "1521",
            "--mode=async", "--num_conn=4", "-verbose=true", "-rtt=1", "-server=x", "-Mode=sync",
        ]
        #expect(OratcptestSpelling.normalize(arguments) == arguments)
    }

    @Test("everything after -- is untouched")
    func afterDoubleDash() {
        let arguments = ["lab", "exec", "a", "--", "wirelat", "client", "-mode=sync", "-rtt", "--", "-port=1"]
        #expect(OratcptestSpelling.normalize(arguments) == arguments)
        #expect(OratcptestSpelling.normalize(["-rtt", "--", "-rtt"]) == ["--", "-rtt"])
        #expect(OratcptestSpelling.normalize([]) == [])
    }
}
