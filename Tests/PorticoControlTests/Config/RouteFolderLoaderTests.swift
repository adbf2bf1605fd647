import PorticoControl
import PorticoCore
import PorticoTestSupport
import Testing

@Suite struct RouteFolderLoaderTests {
    @Test func readsYAMLAndJSONFilesInByteOrderOfTheirNames() throws {
        let folder = try TemporaryFolder()
        defer { folder.remove() }
        try folder.write("routes/b.yaml", "routes: [{ name: b, respond: { status: 200 } }]\n")
        try folder.write("routes/B.yml", "routes: [{ name: big-b, respond: { status: 200 } }]\n")
        try folder.write("routes/a.json", #"{"routes": [{"name": "a", "respond": {"status": 200}}]}"#)
        try folder.write("routes/notes.txt", "not a route file")
        try folder.write("routes/.hidden.yaml", "garbage: [")
        let set = try RouteFolderLoader.load(directory: folder.url.appendingPathComponent("routes").path)
        #expect(set.routes.map(\.definition.name) == ["big-b", "a", "b"])
    }

    @Test func yamlAndJSONDecodeTheSame() throws {
        let yaml = try ConfigDocumentParser.parse(
            """
            routes:
              - name: r
                match: { path: { prefix: /a }, headers: { x-canary: "1" } }
                timeout: 2.5
                respond: { status: 201, body: "yes" }
            """, file: "a.yaml")
        let json = try ConfigDocumentParser.parse(
            #"{"routes":[{"name":"r","match":{"path":{"prefix":"/a"},"headers":{"x-canary":"1"}},"timeout":2.5,"respond":{"status":201,"body":"yes"}}]}"#,
            file: "a.json")
        #expect(yaml == json)
    }

    @Test func quotedScalarsStayStrings() throws {
        let value = try ConfigDocumentParser.parse("a: \"123\"\nb: 123\nc: 'true'\nd: true\ne: ~\n", file: "f.yaml")
        #expect(value == ["a": "123", "b": 123, "c": "true", "d": true, "e": nil])
    }

    @Test func reportsProblemsOfEveryFile() throws {
        let folder = try TemporaryFolder()
        defer { folder.remove() }
        try folder.write("routes/a.yaml", "routes: [{ name: a, respond: { status: 99 } }]\n")
        try folder.write("routes/b.yaml", "routes: [ {\n")
        let error = #expect(throws: ConfigurationError.self) {
            try RouteFolderLoader.load(directory: folder.url.appendingPathComponent("routes").path)
        }
        let lines = error?.problems.map(\.description) ?? []
        #expect(lines.count == 2)
        #expect(lines.first?.hasSuffix("routes/a.yaml: routes[0].respond.status: expected a status code from 200 to 599") == true)
        #expect(lines.last?.contains("routes/b.yaml: syntax error at line") == true)
    }

    @Test func aMissingFolderIsOneClearProblem() {
        let error = #expect(throws: ConfigurationError.self) {
            try RouteFolderLoader.load(directory: "/nonexistent/portico/routes")
        }
        #expect(error?.problems.count == 1)
        #expect(error?.problems.first?.description.hasPrefix("/nonexistent/portico/routes: cannot read the routes folder") == true)
    }

    @Test func theShippedExamplesLoad() throws {
        let set = try RouteFolderLoader.load(directory: PackageRoot.path + "/routes")
        let table = try RouteTable.build(version: 1, from: set)
        #expect(table.match(method: "GET", host: "localhost", path: "/") { _ in nil }?.definition.action != nil)
    }
}
