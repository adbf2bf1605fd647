import PorticoControl
import PorticoCore
import Testing

@Suite struct GatewaySettingsTests {
    @Test func defaultsMatchTheSpec() throws {
        let settings = try GatewaySettings.resolve(environment: [:])
        #expect(settings.httpAddress == ListenAddress(host: "0.0.0.0", port: 8080))
        #expect(settings.httpsAddress == ListenAddress(host: "0.0.0.0", port: 8443))
        #expect(settings.adminAddress == ListenAddress(host: "127.0.0.1", port: 9901))
        #expect(settings.routesDirectory == "./routes")
        #expect(settings.certsDirectory == "./certs")
        #expect(settings.stateDirectory == "./.portico")
        #expect(settings.drainTimeout == .seconds(10))
        #expect(settings.portRange == 30000...32767)
        #expect(settings.reservedPorts.isEmpty)
        #expect(settings.adminToken == nil)
        #expect(settings.stateStore == nil)
        #expect(settings.publicHTTPSPort == nil)
        #expect(settings.httpsRedirectPort == 8443)
    }

    @Test func proxyProtocolIsOnOrOff() throws {
        #expect(try GatewaySettings.resolve(environment: [:]).proxyProtocol == false)
        #expect(try GatewaySettings.resolve(environment: ["PORTICO_PROXY_PROTOCOL": "on"]).proxyProtocol)
        #expect(try GatewaySettings.resolve(environment: ["PORTICO_PROXY_PROTOCOL": "on"], flags: [.proxyProtocol: "off"]).proxyProtocol == false)
        let error = #expect(throws: ConfigurationError.self) { try GatewaySettings.resolve(environment: ["PORTICO_PROXY_PROTOCOL": "yes"]) }
        #expect(error?.problems.map(\.description) == [#"PORTICO_PROXY_PROTOCOL: expected on or off, found "yes""#])
    }

    @Test func theOTLPEndpointNamesTheCollectorsTracesURL() throws {
        #expect(try GatewaySettings.resolve(environment: [:]).otlpTracesURL == nil)
        #expect(
            try GatewaySettings.resolve(environment: ["PORTICO_OTLP_ENDPOINT": "http://collector:4318"]).otlpTracesURL
                == "http://collector:4318/v1/traces")
        #expect(
            try GatewaySettings.resolve(environment: [:], flags: [.otlpEndpoint: "https://otel.example.com/"]).otlpTracesURL
                == "https://otel.example.com/v1/traces")
        let error = #expect(throws: ConfigurationError.self) {
            try GatewaySettings.resolve(environment: ["PORTICO_OTLP_ENDPOINT": "collector:4318"])
        }
        #expect(
            error?.problems.map(\.description)
                == [#"PORTICO_OTLP_ENDPOINT: expected an http or https URL such as http://collector:4318, found "collector:4318""#])
    }

    @Test func trustedProxiesAreAddressesAndCIDRs() throws {
        #expect(try GatewaySettings.resolve(environment: [:]).trustedProxies.ranges.isEmpty)
        let settings = try GatewaySettings.resolve(environment: ["PORTICO_TRUSTED_PROXIES": "10.0.0.0/8, 2001:db8::/32,127.0.0.1"])
        #expect(settings.trustedProxies.ranges.count == 3)
        let error = #expect(throws: ConfigurationError.self) {
            try GatewaySettings.resolve(environment: [:], flags: [.trustedProxies: "10.0.0.0/8, proxy.internal"])
        }
        #expect(error?.problems.map(\.description) == [#"--trusted-proxies: expected addresses and CIDRs such as 10.0.0.0/8, found "proxy.internal""#])
    }

    @Test func thePublicHTTPSPortIsWhereHTTPSRedirectsPoint() throws {
        let fromEnvironment = try GatewaySettings.resolve(environment: ["PORTICO_PUBLIC_HTTPS_PORT": "443", "PORTICO_HTTPS_ADDR": ":9443"])
        #expect(fromEnvironment.httpsRedirectPort == 443)
        let fromFlag = try GatewaySettings.resolve(environment: ["PORTICO_PUBLIC_HTTPS_PORT": "443"], flags: [.publicHTTPSPort: "8443"])
        #expect(fromFlag.httpsRedirectPort == 8443)
        #expect(try GatewaySettings.resolve(environment: ["PORTICO_HTTPS_ADDR": ":9443"]).httpsRedirectPort == 9443)
        let error = #expect(throws: ConfigurationError.self) {
            try GatewaySettings.resolve(environment: ["PORTICO_PUBLIC_HTTPS_PORT": "0"])
        }
        #expect(error?.problems.map(\.description) == [#"PORTICO_PUBLIC_HTTPS_PORT: expected a port from 1 to 65535, found "0""#])
    }

    @Test func readsEveryEnvironmentVariable() throws {
        let settings = try GatewaySettings.resolve(environment: [
            "PORTICO_HTTP_ADDR": "127.0.0.1:18080", "PORTICO_HTTPS_ADDR": "[::1]:18443", "PORTICO_ADMIN_ADDR": ":19901",
            "PORTICO_ROUTES_DIR": "/etc/portico/routes", "PORTICO_CERTS_DIR": "/etc/portico/certs",
            "PORTICO_STATE_DIR": "/var/lib/portico", "PORTICO_STATE": "postgres://u:p@db:5432/portico",
            "PORTICO_DRAIN_TIMEOUT_SEC": "3", "PORTICO_PORT_START": "31000", "PORTICO_PORT_END": "31999",
            "PORTICO_PORT_RESERVED": "31080,31100-31109", "PORTICO_ADMIN_TOKEN": "secret",
        ])
        #expect(settings.httpAddress == ListenAddress(host: "127.0.0.1", port: 18080))
        #expect(settings.httpsAddress == ListenAddress(host: "::1", port: 18443))
        #expect(settings.adminAddress == ListenAddress(host: "0.0.0.0", port: 19901))
        #expect(settings.routesDirectory == "/etc/portico/routes")
        #expect(settings.certsDirectory == "/etc/portico/certs")
        #expect(settings.stateDirectory == "/var/lib/portico")
        #expect(settings.stateStore == "postgres://u:p@db:5432/portico")
        #expect(settings.drainTimeout == .seconds(3))
        #expect(settings.portRange == 31000...31999)
        #expect(settings.reservedPorts == [31080...31080, 31100...31109])
        #expect(settings.adminToken == "secret")
    }

    @Test func flagsWinOverEnvironment() throws {
        let settings = try GatewaySettings.resolve(
            environment: ["PORTICO_HTTP_ADDR": "127.0.0.1:1111", "PORTICO_DRAIN_TIMEOUT_SEC": "3"],
            flags: [.httpAddress: "127.0.0.1:2222"])
        #expect(settings.httpAddress.port == 2222)
        #expect(settings.drainTimeout == .seconds(3))
    }

    @Test func redisPortRangeIsHonouredOnlyWhenPorticoOnesAreUnset() throws {
        let redis = try GatewaySettings.resolve(environment: ["REDIS_PORT_START": "40000", "REDIS_PORT_END": "40100"])
        #expect(redis.portRange == 40000...40100)
        let both = try GatewaySettings.resolve(environment: [
            "REDIS_PORT_START": "40000", "REDIS_PORT_END": "40100", "PORTICO_PORT_START": "30500", "PORTICO_PORT_END": "30600",
        ])
        #expect(both.portRange == 30500...30600)
    }

    @Test func reportsEveryBadValueByItsSource() {
        let error = #expect(throws: ConfigurationError.self) {
            try GatewaySettings.resolve(
                environment: ["PORTICO_ADMIN_ADDR": "localhost", "PORTICO_PORT_RESERVED": "30080,abc", "PORTICO_PORT_END": "70000"],
                flags: [.httpAddress: "x:y"])
        }
        let lines = error?.problems.map(\.description) ?? []
        #expect(lines.contains("--http-addr: expected host:port, found \"x:y\""))
        #expect(lines.contains("PORTICO_ADMIN_ADDR: expected host:port, found \"localhost\""))
        #expect(lines.contains("PORTICO_PORT_END: expected a port from 1 to 65535, found \"70000\""))
        #expect(lines.contains("PORTICO_PORT_RESERVED: expected ports and ranges such as 30080,30100-30109, found \"30080,abc\""))
        #expect(lines.count == 4)
    }
}
