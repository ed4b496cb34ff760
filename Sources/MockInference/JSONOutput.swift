import NIOCore

/// Writes JSON straight into a `ByteBuffer`, members in the order written. Chat answers go out this way
/// (once per request, once per streamed token): Foundation's `JSONEncoder` took a sixth of the mock's
/// time under load. Everything off the hot path still uses `Codable`.
struct JSONOutput {
    private(set) var buffer: ByteBuffer
    /// Whether the container being written has no member yet (no comma before the next one).
    private var atFirstMember = true

    /// Room for a typical chat answer, so the buffer is not grown while writing.
    init(into buffer: ByteBuffer = ByteBuffer()) {
        self.buffer = buffer
        self.buffer.reserveCapacity(minimumWritableBytes: 1024)
    }

    mutating func object(_ members: (inout JSONOutput) -> Void) {
        buffer.writeInteger(UInt8(ascii: "{"))
        let outer = atFirstMember
        atFirstMember = true
        members(&self)
        atFirstMember = outer
        buffer.writeInteger(UInt8(ascii: "}"))
    }

    mutating func array<Elements: Sequence>(_ elements: Elements, _ element: (inout JSONOutput, Elements.Element) -> Void) {
        buffer.writeInteger(UInt8(ascii: "["))
        let outer = atFirstMember
        atFirstMember = true
        for value in elements {
            separate()
            element(&self, value)
        }
        atFirstMember = outer
        buffer.writeInteger(UInt8(ascii: "]"))
    }

    /// Starts an object member; the value written next belongs to it.
    mutating func key(_ name: StaticString) {
        separate()
        buffer.writeInteger(UInt8(ascii: "\""))
        buffer.writeStaticString(name)
        buffer.writeInteger(UInt16(0x223A))  // ":
    }

    mutating func string(_ text: String) {
        buffer.writeInteger(UInt8(ascii: "\""))
        let utf8 = text.utf8
        if utf8.contains(where: Self.needsEscape) {
            for byte in utf8 {
                switch byte {
                case UInt8(ascii: "\""): buffer.writeString("\\\"")
                case UInt8(ascii: "\\"): buffer.writeString("\\\\")
                case UInt8(ascii: "\n"): buffer.writeString("\\n")
                case UInt8(ascii: "\r"): buffer.writeString("\\r")
                case UInt8(ascii: "\t"): buffer.writeString("\\t")
                case 0x08: buffer.writeString("\\b")
                case 0x0C: buffer.writeString("\\f")
                case ..<0x20:
                    buffer.writeString("\\u00")
                    buffer.writeInteger(Self.hexDigits[Int(byte >> 4)])
                    buffer.writeInteger(Self.hexDigits[Int(byte & 0x0F)])
                default: buffer.writeInteger(byte)
                }
            }
        } else {
            buffer.writeString(text)
        }
        buffer.writeInteger(UInt8(ascii: "\""))
    }

    mutating func int(_ value: Int) { buffer.writeString(String(value)) }

    mutating func null() { buffer.writeStaticString("null") }

    // Members, for brevity at the call sites.

    mutating func member(_ name: StaticString, _ value: String) {
        key(name)
        string(value)
    }

    /// `null` when absent: the APIs send these keys either way.
    mutating func member(_ name: StaticString, _ value: String?) {
        key(name)
        if let value { string(value) } else { null() }
    }

    mutating func member(_ name: StaticString, _ value: Int) {
        key(name)
        int(value)
    }

    private mutating func separate() {
        if !atFirstMember { buffer.writeInteger(UInt8(ascii: ",")) }
        atFirstMember = false
    }

    private static func needsEscape(_ byte: UInt8) -> Bool { byte < 0x20 || byte == UInt8(ascii: "\"") || byte == UInt8(ascii: "\\") }
    private static let hexDigits = Array("0123456789abcdef".utf8)
}
