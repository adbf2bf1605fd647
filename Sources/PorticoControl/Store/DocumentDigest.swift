import Crypto
import Foundation

/// The SHA-256 of a text as 64 lowercase hex digits: how history names a document it keeps
/// once, and how tenant tokens are kept.
enum DocumentDigest {
    static func of(_ text: String) -> String {
        let digits = Array("0123456789abcdef".utf8)
        var hex: [UInt8] = []
        hex.reserveCapacity(64)
        for byte in SHA256.hash(data: Data(text.utf8)) {
            hex.append(digits[Int(byte >> 4)])
            hex.append(digits[Int(byte & 0x0F)])
        }
        return String(decoding: hex, as: UTF8.self)
    }
}
