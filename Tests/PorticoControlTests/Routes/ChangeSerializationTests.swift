import Foundation
import Logging
import PorticoControl
import PorticoCore
import PorticoProxy
import PorticoTestSupport
import Testing

/// Warnings and errors only: a controller logs every table it publishes.
private let quietLogger: Logger = {
    var logger = Logger(label: "portico.test")
    logger.logLevel = .warning
    return logger
}()

/// A controller over a real SQLite store in a temporary folder.
private func sqliteController(in folder: TemporaryFolder, files: RouteSet = RouteSet()) async throws
    -> (RouteController, SQLiteStateStore)
{
    let store = try await SQLiteStateStore.open(
        path: folder.url.appendingPathComponent("state.sqlite").path, logger: quietLogger)
    let stored = try await store.load()
    let recorded = stored.version > 0 ? try await store.snapshot(version: stored.version) : nil
    let table = try RouteController.initialTable(files: files, stored: stored, recorded: recorded)
    let dataPlane = DataPlane(initialTable: table, logger: quietLogger)
    let controller = RouteController(
        dataPlane: dataPlane, store: store, files: files, stored: stored, drainTimeout: .seconds(1), logger: quietLogger)
    try await controller.recordInitialSnapshot()
    return (controller, store)
}

private func respondRoute(_ name: String) -> RouteDefinition {
    RouteDefinition(name: name, match: RouteMatch(path: .prefix("/\(name)")), action: .respond(StaticResponse(status: 200)))
}

/// Changes are serialised by one writer and recorded once each (issue 14 #5, #6, #7).
@Suite struct ChangeSerializationTests {
    @Test func concurrentChangesOnSQLiteAreAllRecordedWithDistinctVersions() async throws {
        let folder = try TemporaryFolder()
        defer { folder.remove() }
        let (controller, store) = try await sqliteController(in: folder)
        for index in 0..<20 { try await controller.add(respondRoute("old-\(index)")) }
        let before = await controller.storeVersion

        // 50 additions and 20 deletions at once.
        let failures = await withTaskGroup(of: String?.self) { group in
            for index in 0..<50 {
                group.addTask {
                    do { try await controller.add(respondRoute("new-\(index)")) } catch { return "add \(index): \(error)" }
                    return nil
                }
            }
            for index in 0..<20 {
                group.addTask {
                    do { try await controller.delete(RouteDefinition.self, named: "old-\(index)") } catch { return "delete \(index): \(error)" }
                    return nil
                }
            }
            var failures: [String] = []
            for await failure in group { if let failure { failures.append(failure) } }
            return failures
        }
        #expect(failures.isEmpty, "\(failures)")
        #expect(await controller.storeVersion == before + 70)
        // Each version is in the history, one after the other.
        for version in (before + 1)...(before + 70) {
            #expect(try await store.snapshot(version: version) != nil, "version \(version) missing")
        }
        await store.close()

        // After a restart every change is there, and nothing new was recorded.
        let (restarted, reopened) = try await sqliteController(in: folder)
        let names = Set(await restarted.table.routes.map(\.name))
        #expect(names == Set((0..<50).map { "new-\($0)" }))
        #expect(await restarted.storeVersion == before + 70)
        await reopened.close()
    }

    @Test func ofEightWritersHoldingTheSameVersionExactlyOneSucceeds() async throws {
        let folder = try TemporaryFolder()
        defer { folder.remove() }
        let (controller, store) = try await sqliteController(in: folder)
        let version = await controller.storeVersion
        let statuses = await withTaskGroup(of: Int.self) { group in
            for index in 0..<8 {
                group.addTask {
                    do {
                        try await controller.replaceAPIConfiguration(upstreams: [], routes: [respondRoute("w\(index)")], ifMatch: version)
                        return 200
                    } catch {
                        return (error as? ControlPlaneError)?.status ?? 0
                    }
                }
            }
            var statuses: [Int] = []
            for await status in group { statuses.append(status) }
            return statuses
        }
        #expect(statuses.sorted() == [200] + Array(repeating: 412, count: 7), "\(statuses)")
        #expect(await controller.storeVersion == version + 1)

        // The single-route calls honour If-Match the same way.
        let now = await controller.storeVersion
        let name = try #require(await controller.table.routes.first?.name)
        await #expect(throws: ControlPlaneError.self) {
            try await controller.replace(respondRoute(name), ifMatch: now - 1)
        }
        await #expect(throws: ControlPlaneError.self) {
            try await controller.delete(RouteDefinition.self, named: name, ifMatch: now + 5)
        }
        try await controller.delete(RouteDefinition.self, named: name, ifMatch: now)
        await store.close()
    }

    @Test func aRestartWithTheSameFilesRecordsNoVersionAndAFileChangeRecordsOne() async throws {
        let folder = try TemporaryFolder()
        defer { folder.remove() }
        let files = RouteSet(routes: [(respondRoute("file"), .file("routes/a.yaml"))])
        var (controller, store) = try await sqliteController(in: folder, files: files)
        try await controller.add(respondRoute("api"))
        let version = await controller.storeVersion
        for _ in 0..<3 {
            await store.close()
            (controller, store) = try await sqliteController(in: folder, files: files)
            #expect(await controller.storeVersion == version)
            #expect(await controller.table.version == version)
            #expect(try await store.currentVersion() == version)
        }
        await store.close()
        let changed = RouteSet(routes: [(respondRoute("file2"), .file("routes/a.yaml"))])
        (controller, store) = try await sqliteController(in: folder, files: changed)
        #expect(await controller.storeVersion == version + 1)
        #expect(try await store.currentVersion() == version + 1)
        await store.close()
    }
}

/// A refused change names every problem at once: decoding and table-level (issue 14 #3).
@Suite struct EveryProblemTests {
    static let threeBadRoutes: ConfigValue = [
        "upstreams": [["name": "u", "endpoints": ["127.0.0.1:1"]]],
        "routes": [
            ["name": "unknown", "upstream": "nowhere"],
            ["name": "bad-regex", "match": ["path": ["regex": "/(unclosed"]], "upstream": "u"],
            ["name": "bad-timeout", "upstream": "u", "timeout": "soon"],
            ["name": "u", "upstream": "u"],
            ["name": "u", "upstream": "u"],
        ],
    ]

    @Test func anAPIDocumentGetsItsDecodingAndItsTableProblems() async throws {
        let folder = try TemporaryFolder()
        defer { folder.remove() }
        let (controller, store) = try await sqliteController(in: folder)
        let error = try #require(throws: ConfigurationError.self) {
            try RouteFileDecoder.decodeDocument(Self.threeBadRoutes, file: nil)
        }
        let problems = await controller.everyProblem(ofAPIDocument: error).map(\.description)
        #expect(
            problems == [
                "routes[2].timeout: expected a duration such as 500ms, 10s, 2m or a number of seconds, greater than zero",
                "routes[0].upstream: unknown upstream \"nowhere\"",
                "routes[1].match.path.regex: invalid regular expression: " + regexProblem(problems),
                "routes[4].name: duplicate route name \"u\" (first defined in the admin API)",
            ], "\(problems)")
        await store.close()
    }

    @Test func aRoutesFolderGetsItsDecodingAndItsTableProblemsAcrossFiles() throws {
        let folder = try TemporaryFolder()
        defer { folder.remove() }
        try folder.write("routes/a.yaml", "upstreams: [{ name: u, endpoints: [\"127.0.0.1:1\"] }]\nroutes: [{ name: dup, upstream: u }]\n")
        try folder.write(
            "routes/b.yaml",
            """
            routes:
              - { name: bad-timeout, upstream: u, timeout: 1e308 }
              - { name: unknown, upstream: nowhere }
              - { name: dup, upstream: u }
            """)
        let error = try #require(throws: ConfigurationError.self) {
            try RouteFolderLoader.load(directory: folder.url.appendingPathComponent("routes").path)
        }
        let problems = RouteController.everyProblem(of: error, table: { $0 }).map(\.description)
        let expected = [
            "b.yaml: routes[0].timeout: expected a duration of at most 8760h (a year)",
            "b.yaml: routes[1].upstream: unknown upstream \"nowhere\"",
            "b.yaml: routes[2].name: duplicate route name \"dup\" (first defined in ",
        ]
        #expect(problems.count == expected.count, "\(problems)")
        for (problem, text) in zip(problems, expected) {
            #expect(problem.contains("/routes/" + text), "\(problem)")
        }
    }

    @Test func anUpstreamThatDidNotDecodeIsNotAlsoReportedAsUnknown() throws {
        let document: ConfigValue = [
            "upstreams": [["name": "u", "endpoints": ["no-port"]]],
            "routes": [["name": "r", "upstream": "u"]],
        ]
        let error = try #require(throws: ConfigurationError.self) { try RouteFileDecoder.decodeDocument(document, file: "f.yaml") }
        let problems = RouteController.everyProblem(of: error, table: { $0 }).map(\.description)
        #expect(problems == ["f.yaml: upstreams[0].endpoints[0]: expected host:port with a port from 1 to 65535, found \"no-port\""])
    }

    /// The regex engine's own words, whatever they are.
    private func regexProblem(_ problems: [String]) -> String {
        let prefix = "routes[1].match.path.regex: invalid regular expression: "
        return problems.first { $0.hasPrefix(prefix) }.map { String($0.dropFirst(prefix.count)) } ?? "?"
    }
}
