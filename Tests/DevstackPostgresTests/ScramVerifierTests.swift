import Testing

@testable import DevstackPostgres

/// Verifiers made by Postgres 15 (`create role … password '…'`, then `rolpassword` from `pg_authid`).
struct ScramVerifierTests {
    static let correctHorse =
        "SCRAM-SHA-256$4096:qY8S/xl/+U35SeFz0T15vw==$lYef6GH+EyT6oGKKUP/ioswEP0SMjtSep4sTOjGqE6Y=:AWX3buoCCtmh3Rj3LVgs4gaYA1GRreV5fDsaSsA3Jic="
    /// For "pässwörd", which Postgres normalises (SASLprep) before hashing.
    static let nonASCII =
        "SCRAM-SHA-256$4096:lYMt5NlquKIuCGCZr/MRKA==$+5wkDCv7ZjIRRaL29I5lv5czE3ZKt/jNVSHG7punrvk=:b5qVFCRivZmq61ehOFKdx3Jhi93z2/hYvmt3LhQ0zoc="

    @Test func acceptsThePasswordPostgresWouldAndNoOther() throws {
        let verifier = try #require(ScramVerifier(Self.correctHorse))
        #expect(verifier.iterations == 4096)
        #expect(verifier.matches("correct horse") == true)
        #expect(verifier.matches("correct horse ") == false)
        #expect(verifier.matches("") == false)
    }

    /// Outside printable ASCII the answer is left to a real sign-in rather than guessed.
    @Test func leavesPasswordsThatNeedNormalisingToTheServer() throws {
        let verifier = try #require(ScramVerifier(Self.nonASCII))
        #expect(verifier.matches("pässwörd") == nil)
    }

    @Test func anythingButASCRAMVerifierIsNotOne() {
        #expect(ScramVerifier("") == nil)
        #expect(ScramVerifier("md5c4ca4238a0b923820dcc509a6f75849b") == nil)
        #expect(ScramVerifier("SCRAM-SHA-256$4096:salt") == nil)
        #expect(ScramVerifier("SCRAM-SHA-256$x:qY8S/xl/+U35SeFz0T15vw==$lYef:AWX3") == nil)
    }
}
