import Crypto
import DevstackCore
import Foundation

/// A database made ahead in each initdb cache entry, so a first start renames it into the stack's
/// (a catalog update) instead of creating one (~18 ms: a copy of template1) and setting it up: it
/// holds devstack's bookkeeping and, in the entries for Supabase stacks, the Supabase bootstrap.
public enum PreparedDatabase {
    public static let name = "devstack_prepared"

    /// What the prepared database holds, for the cache key: entries made by another devstack differ.
    public static func fingerprint(supabase: Bool) -> String {
        SHA256.hash(data: Data((DevstackSchema.tables + (supabase ? SupabaseBootstrap.sql : "")).utf8)).prefix(6).hexEncoded
    }

    /// Prepares it in a new cluster (`data`, made by initdb and not running): started on a socket of
    /// its own for the moment, and stopped with a checkpoint, so copies start without recovery.
    public static func build(
        in data: String, postgres: String, socketDirectory: String, user: RunAsUser?, role: String, supabase: Bool
    ) async throws {
        let server = SocketServer(
            postgres: postgres, dataDirectory: data, socketDirectory: socketDirectory, user: user, role: role, settings: [],
            log: "\(socketDirectory)/prepare.log")
        defer { unlink("\(socketDirectory)/prepare.log") }
        try await server.run { endpoint in
            try await PostgresSession.with(endpoint) { try await $0.execute("create database \(name) strategy file_copy") }
            try await PostgresSession.with(endpoint.with(database: name)) { session in
                try await DevstackSchema.create(on: session)
                guard supabase else { return }
                try await session.run(
                    SQLScript(SupabaseBootstrap.sql), file: "supabase bootstrap",
                    then: ["insert into devstack.state values ('supabase_bootstrap', '\(SupabaseBootstrap.fingerprint)')"])
            }
        }
    }
}
