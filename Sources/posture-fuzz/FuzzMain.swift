// posture-fuzz: libFuzzer targets for the parsers that read what crosses a trust boundary (device
// payloads, verdict tokens, enrollment requests, kernel and /etc text). One binary, one entry point;
// POSTURE_FUZZ_TARGET names the target. Built with -sanitize=fuzzer,address by packaging/dev/fuzz.sh,
// which also explains the corpus layout (Tests/Fuzz/).
//
// Without libFuzzer linked in (a normal `swift build`) the binary replays files instead:
//   POSTURE_FUZZ_TARGET=jws posture-fuzz FILE|DIR...    (also with libFuzzer, given POSTURE_FUZZ_REPLAY=1)
//   posture-fuzz --list
//   posture-fuzz --make-seeds REPORT.json OUTDIR

import Foundation

#if canImport(Glibc)
    import Glibc
#endif

/// One fuzz target: a name, the input size it makes sense at, and the function that consumes an input and
/// says how far it got (printed when replaying, so a seed can be seen to reach the deep end).
struct FuzzTarget: Sendable {
    var name: String
    var maxLength: Int
    var summary: String
    var run: @Sendable ([UInt8]) -> String
}

/// The target named by POSTURE_FUZZ_TARGET, looked up once (Swift globals initialise once, lazily).
let selectedTarget: FuzzTarget = {
    let name = ProcessInfo.processInfo.environment["POSTURE_FUZZ_TARGET"] ?? ""
    guard let target = FuzzTargets.all.first(where: { $0.name == name }) else {
        let known = FuzzTargets.all.map { "  \($0.name) (max_len \($0.maxLength)): \($0.summary)" }
        FileHandle.standardError.write(
            Data(
                ("posture-fuzz: POSTURE_FUZZ_TARGET=\"\(name)\" is not a target; one of:\n"
                    + known.joined(separator: "\n") + "\n").utf8))
        abort()
    }
    return target
}()

@_cdecl("LLVMFuzzerTestOneInput")
public func fuzz(_ data: UnsafePointer<UInt8>, _ size: Int) -> CInt {
    _ = selectedTarget.run(Array(UnsafeBufferPointer(start: data, count: size)))
    return 0
}

/// libFuzzer's `int LLVMFuzzerRunDriver(int *argc, char ***argv, int (*cb)(const uint8_t *, size_t))`.
private typealias FuzzerDriver =
    @convention(c) (
        UnsafeMutablePointer<CInt>,
        UnsafeMutablePointer<UnsafeMutablePointer<UnsafeMutablePointer<CChar>?>?>,
        @convention(c) (UnsafePointer<UInt8>, Int) -> CInt
    ) -> CInt

@main
enum PostureFuzz {
    static func main() {
        let arguments = CommandLine.arguments
        if arguments.count == 2, arguments[1] == "--list" {
            for target in FuzzTargets.all { print("\(target.name) \(target.maxLength)") }
            return
        }
        if arguments.count == 4, arguments[1] == "--make-seeds" {
            #if DEBUG
                do {
                    try SeedMaker.write(reportPath: arguments[2], into: arguments[3])
                } catch {
                    FileHandle.standardError.write(Data("posture-fuzz: \(error)\n".utf8))
                    exit(1)
                }
            #endif
            return
        }
        _ = selectedTarget  // an unknown name stops here, before libFuzzer starts
        // -sanitize=fuzzer links libFuzzer, but SwiftPM's executable keeps this main: hand over to libFuzzer's
        // driver. The link exports the symbol (-Xlinker --export-dynamic-symbol=LLVMFuzzerRunDriver).
        // POSTURE_FUZZ_REPLAY=1 replays files (and prints each outcome) even with libFuzzer linked in.
        if ProcessInfo.processInfo.environment["POSTURE_FUZZ_REPLAY"] != "1",
            let symbol = dlsym(UnsafeMutableRawPointer(bitPattern: 0), "LLVMFuzzerRunDriver")
        {
            let driver = unsafeBitCast(symbol, to: FuzzerDriver.self)
            var argc = CommandLine.argc
            var argv: UnsafeMutablePointer<UnsafeMutablePointer<CChar>?>? = CommandLine.unsafeArgv
            exit(driver(&argc, &argv) { data, size in fuzz(data, size) })
        }
        replay(Array(arguments.dropFirst()))
    }

    /// No libFuzzer: run each file (or each file in each directory) through the target once.
    static func replay(_ paths: [String]) {
        var files: [String] = []
        for path in paths {
            var isDirectory: ObjCBool = false
            guard FileManager.default.fileExists(atPath: path, isDirectory: &isDirectory) else {
                FileHandle.standardError.write(Data("posture-fuzz: no such file \(path)\n".utf8))
                exit(1)
            }
            if isDirectory.boolValue {
                let names = (try? FileManager.default.contentsOfDirectory(atPath: path)) ?? []
                files += names.sorted().map { path + "/" + $0 }
            } else {
                files.append(path)
            }
        }
        for file in files {
            guard let data = FileManager.default.contents(atPath: file) else { continue }
            let outcome = selectedTarget.run(Array(data))
            print("\(selectedTarget.name): \(file) (\(data.count) bytes): \(outcome)")
        }
        print("\(selectedTarget.name): \(files.count) inputs, no crash")
    }
}
