/// devstack's bookkeeping inside the database, schema `devstack`: what the Supabase bootstrap and the
/// migrations recorded.
enum DevstackSchema {
    static let tables = """
        create schema if not exists devstack;
        create table if not exists devstack.state (key text primary key, value text not null);
        create table if not exists devstack.schema_migrations (
            version text primary key,
            name text not null,
            checksum text not null,
            applied_at timestamptz not null default now()
        );
        """

    /// The rows of a query on these tables, which are created first where they are missing. Reading
    /// first keeps a warm start to one round trip: each `if not exists` statement was one more.
    static func rows(_ sql: String, on session: PostgresSession) async throws -> [[String?]] {
        do {
            return try await session.rows(sql)
        } catch  where ["42P01", "3F000"].contains(PostgresSession.sqlState(of: error)) {
            // undefined_table, invalid_schema_name: a database devstack has not set up yet.
            try await create(on: session)
            return try await session.rows(sql)
        }
    }

    static func create(on session: PostgresSession) async throws {
        for statement in SQLScript(tables).statements { try await session.execute(statement.text) }
    }
}
