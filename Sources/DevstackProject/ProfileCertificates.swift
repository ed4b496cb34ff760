import Crypto
import DevstackCore
import DevstackSystem
import Foundation
import SwiftASN1
import X509

/// The profile's own certificate authority, made once and kept in `.devstack/<profile>/tls/`, and the
/// server certificate it signs for the exposed address. Clients trust `ca.pem` (and only it): a
/// certificate from any other authority fails their check, and `sslmode=verify-full` works.
public enum ProfileCertificates {
    /// Makes what is missing: the authority (ten years), and a server certificate for `exposure.address`
    /// (and `localhost`), made again when the address changed or it nears its end. Returns the
    /// authority's PEM.
    @discardableResult
    public static func ensure(_ exposure: PlannedExposure, profile: String, now: Date = Date()) throws -> String {
        try StateDirectory.create(exposure.directory)
        let authority: Certificate
        let authorityKey: P256.Signing.PrivateKey
        if let pem = try? String(contentsOfFile: exposure.authorityFile, encoding: .utf8),
            let keyPEM = try? String(contentsOfFile: exposure.authorityKeyFile, encoding: .utf8),
            let certificate = try? Certificate(pemEncoded: pem), let key = try? P256.Signing.PrivateKey(pemRepresentation: keyPEM)
        {
            authority = certificate
            authorityKey = key
        } else {
            authorityKey = P256.Signing.PrivateKey()
            let name = try DistinguishedName {
                CommonName("devstack \(profile) certificate authority")
                OrganizationName("devstack")
            }
            authority = try Certificate(
                version: .v3, serialNumber: .init(), publicKey: .init(authorityKey.publicKey), notValidBefore: now.addingTimeInterval(-3600),
                notValidAfter: now.addingTimeInterval(10 * 365 * 86_400), issuer: name, subject: name, signatureAlgorithm: .ecdsaWithSHA256,
                extensions: try Certificate.Extensions {
                    Critical(BasicConstraints.isCertificateAuthority(maxPathLength: 0))
                    Critical(KeyUsage(keyCertSign: true, cRLSign: true))
                    SubjectKeyIdentifier(hash: Certificate.PublicKey(authorityKey.publicKey))
                }, issuerPrivateKey: .init(authorityKey))
            try write(authorityKey.pemRepresentation, to: exposure.authorityKeyFile)
            try write(try authority.serializeAsPEM().pemString, to: exposure.authorityFile)
            // A new authority: whatever it did not sign goes.
            unlink(exposure.certificateFile)
        }
        let names = try alternativeNames(for: [exposure.address] + exposure.otherNames)
        if let pem = try? String(contentsOfFile: exposure.certificateFile, encoding: .utf8), let current = try? Certificate(pemEncoded: pem),
            current.issuer == authority.subject, current.notValidAfter > now.addingTimeInterval(30 * 86_400),
            (try? current.extensions.subjectAlternativeNames).flatMap({ $0 }).map(Array.init) == names,
            FileManager.default.fileExists(atPath: exposure.keyFile)
        {
            return try authority.serializeAsPEM().pemString
        }
        let serverKey = P256.Signing.PrivateKey()
        let subject = try DistinguishedName {
            CommonName(exposure.address)
            OrganizationName("devstack")
        }
        let server = try Certificate(
            version: .v3, serialNumber: .init(), publicKey: .init(serverKey.publicKey), notValidBefore: now.addingTimeInterval(-3600),
            notValidAfter: now.addingTimeInterval(825 * 86_400), issuer: authority.subject, subject: subject, signatureAlgorithm: .ecdsaWithSHA256,
            extensions: try Certificate.Extensions {
                Critical(BasicConstraints.notCertificateAuthority)
                Critical(KeyUsage(digitalSignature: true, keyEncipherment: true))
                try ExtendedKeyUsage([.serverAuth])
                SubjectAlternativeNames(names)
                AuthorityKeyIdentifier(keyIdentifier: try authority.extensions.subjectKeyIdentifier?.keyIdentifier)
            }, issuerPrivateKey: .init(authorityKey))
        try write(serverKey.pemRepresentation, to: exposure.keyFile)
        try write(try server.serializeAsPEM().pemString, to: exposure.certificateFile)
        return try authority.serializeAsPEM().pemString
    }

    /// Each address as an IP address entry when it is one, else as a DNS name; and `localhost`.
    static func alternativeNames(for addresses: [String]) throws -> [GeneralName] {
        addresses.map { address in
            var bytes = [UInt8](repeating: 0, count: 16)
            if inet_pton(AF_INET, address, &bytes) == 1 { return .ipAddress(ASN1OctetString(contentBytes: ArraySlice(bytes.prefix(4)))) }
            if inet_pton(AF_INET6, address, &bytes) == 1 { return .ipAddress(ASN1OctetString(contentBytes: ArraySlice(bytes))) }
            return .dnsName(address)
        } + [.dnsName("localhost")]
    }

    private static func write(_ text: String, to path: String) throws {
        let temporary = "\(path).new"
        unlink(temporary)
        let descriptor = open(temporary, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0o600)
        guard descriptor >= 0, Descriptor.writeAll(descriptor, Data(text.utf8)) else {
            if descriptor >= 0 { close(descriptor) }
            throw ProjectError(.secrets, "cannot write \(path): \(String(cString: strerror(errno)))", fix: "check the folder's permissions")
        }
        close(descriptor)
        guard rename(temporary, path) == 0 else {
            throw ProjectError(.secrets, "cannot write \(path): \(String(cString: strerror(errno)))", fix: "check the folder's permissions")
        }
    }
}
