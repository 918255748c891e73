import Testing
@preconcurrency import Glibc
import WirelatIO

extension InProcess {
    @Suite("FileDescriptor, Pipe and writeAll")
    struct FileDescriptorTests {
        /// Whether `fd` is open in this process, by fcntl(F_GETFD).
        static func isOpen(_ fd: CInt) -> Bool { fcntl(fd, F_GETFD) >= 0 }

        @Test("a pipe's two ends are close-on-exec from the start, and each closes when its owner goes")
        func pipeEnds() throws {
            var numbers: (CInt, CInt) = (-1, -1)
            do {
                let pipe = try Pipe()
                numbers = (pipe.readEnd.rawValue, pipe.writeEnd.rawValue)
                #expect(fcntl(numbers.0, F_GETFD) & FD_CLOEXEC != 0, "the read end is inherited by exec")
                #expect(fcntl(numbers.1, F_GETFD) & FD_CLOEXEC != 0, "the write end is inherited by exec")
                try pipe.writeEnd.writeAll(Array("ready\n".utf8))
                #expect(try pipe.readEnd.read(upTo: 64) == Array("ready\n".utf8))
            }
            #expect(!Self.isOpen(numbers.0) && !Self.isOpen(numbers.1), "a pipe end outlived its owner")
        }

        @Test("a child given a pipe's write end as descriptor 3 answers on it, and the read ends when the child exits")
        func childAnswersOnPipe() throws {
            let pipe = try Pipe()
            let readEnd = pipe.readEnd
            let pid: ProcessID
            do {
                let writeEnd = pipe.writeEnd
                pid = try spawnProcess("/bin/sh", ["-c", "echo ready >&3"], streams: ChildStreams(extraDescriptor: writeEnd.rawValue))
            }
            var reply: [UInt8] = []
            while try readEnd.waitReadable(timeoutMilliseconds: 5000) {
                let chunk = try readEnd.read(upTo: 64)
                if chunk.isEmpty { break }
                reply += chunk
            }
            #expect(String(decoding: reply, as: UTF8.self) == "ready\n")
            #expect(try waitForChild(pid) == 0)
        }

        @Test("released, a descriptor is the caller's: the owner no longer closes it")
        func release() throws {
            let fd = try FileDescriptor.open("/dev/null", O_RDONLY)
            let raw = fd.release()
            #expect(Self.isOpen(raw))
            #expect(close(raw) == 0)
        }

        @Test("writeAll writes 4 MiB through a pipe whose buffer takes 64 KiB at a time, in order")
        func writeAllShortWrites() throws {
            let pipe = try Pipe()
            let payload = (0..<(4 << 20)).map { UInt8(truncatingIfNeeded: ($0 >> 8) &+ $0 &* 7) }
            let readFD = pipe.readEnd.rawValue
            // The reader drains on its own thread while writeAll meets short writes.
            let reader = DrainThread.start(readFD, count: payload.count)
            try pipe.writeEnd.writeAll(payload)
            let received = reader.join()
            #expect(received.count == payload.count)
            #expect(received == payload, "the bytes arrived changed or out of order")
        }

        @Test("writeAll into a pipe whose reader has gone fails with EPIPE, having written nothing")
        func writeAllBrokenPipe() throws {
            let previous = signal(SIGPIPE, SIG_IGN)
            defer { signal(SIGPIPE, previous) }
            var pipe = try Pipe()
            pipe.readEnd = try FileDescriptor.open("/dev/null", O_RDONLY)
            var written = 0
            let bytes = [UInt8](repeating: 7, count: 1024)
            #expect(throws: SystemError(call: "write", errno: EPIPE)) {
                try bytes.withUnsafeBytes { b in try writeAll(pipe.writeEnd.rawValue, b, written: &written) }
            }
            #expect(written == 0)
        }

        @Test("createDirectories makes every missing level, accepts what exists, and removeTree takes it all away")
        func directories() throws {
            let top = "/tmp/wirelat-io-test-\(getpid())-tree"
            defer { try? removeTree(top) }
            try createDirectories(top + "/a/b/c")
            try createDirectories(top + "/a/b/c")
            #expect(isWritableDirectory(top + "/a/b/c"))
            try writeFile(UnsafeRawBufferPointer(start: nil, count: 0), to: top + "/a/b/file")
            let lock = try FileLock(top + "/a/lock")
            withExtendedLifetime(lock) {}
            #expect(throws: SystemError.self) { try createDirectories(top + "/a/b/file/d") }
            try removeTree(top)
            #expect(!fileExists(top))
            try removeTree(top)
        }

        @Test("BufferedFileWriter writes every line once, in order, and keeps the first failure")
        func bufferedWriter() throws {
            let path = "/tmp/wirelat-io-test-\(getpid())-buffered"
            defer { unlink(path) }
            do {
                let writer = try BufferedFileWriter(creating: path, capacity: 100)
                for i in 0..<1000 { writer.appendLine("line \(i)") }
                writer.flush()
                #expect(writer.failure == nil)
            }
            let text = try #require(readSmallFile(path))
            #expect(text == (0..<1000).map { "line \($0)\n" }.joined())
            let full = try BufferedFileWriter(creating: "/dev/full", capacity: 8)
            full.appendLine("more than eight bytes")
            #expect(full.failure?.errno == ENOSPC)
        }
    }
}

/// A thread that reads `count` bytes from `fd` and hands them back on `join`.
private final class DrainThread: @unchecked Sendable {
    private var thread = pthread_t()
    private let fd: CInt
    private let count: Int
    private var bytes: [UInt8] = []

    private init(fd: CInt, count: Int) {
        self.fd = fd
        self.count = count
    }

    static func start(_ fd: CInt, count: Int) -> DrainThread {
        let t = DrainThread(fd: fd, count: count)
        let context = Unmanaged.passRetained(t).toOpaque()
        pthread_create(&t.thread, nil, { context in
            let t = Unmanaged<DrainThread>.fromOpaque(context!).takeRetainedValue()
            var chunk = [UInt8](repeating: 0, count: 8192)
            while t.bytes.count < t.count {
                let n = read(t.fd, &chunk, chunk.count)
                if n <= 0 { break }
                t.bytes.append(contentsOf: chunk[0..<n])
            }
            return nil
        }, context)
        return t
    }

    func join() -> [UInt8] {
        pthread_join(thread, nil)
        return bytes
    }
}
