import Crypto
import Foundation
import PorticoCore

/// The SHA-256 of a text as 64 lowercase hex digits: how history names a document it keeps
/// once, and how tenant tokens are kept.
enum DocumentDigest {
    static func of(_ text: String) -> String {
        var hex: [UInt8] = []
        hex.reserveCapacity(64)
        TextBytes.appendHex(SHA256.hash(data: Data(text.utf8)), to: &hex)
        return String(decoding: hex, as: UTF8.self)
    }
}
