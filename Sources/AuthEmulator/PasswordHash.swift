/// bcrypt as Postgres computes it: pgcrypto's `crypt()`, the function Supabase seed files use, in
/// the `extensions` schema the Supabase bootstrap creates. Checking a password where its hash is
/// read makes a password sign-in one statement; hashing there too keeps one implementation.
enum PasswordHash {
    /// The bcrypt hashes GoTrue accepts: Go's `$2a$`, OpenBSD's `$2b$`, PHP's `$2y$` and the old
    /// `$2x$`, at a cost of 4 to 31 (what `crypt()` can compute; anything else would be its error).
    static let pattern = #"^\$2[abxy]\$(0[4-9]|[12][0-9]|3[01])\$[./A-Za-z0-9]{53}$"#

    /// SQL that is true when `password` matches `hash` (both SQL expressions), and false, not an
    /// error, for a missing or malformed hash. `$2b$` and `$2y$` only name fixes of bugs pgcrypto's
    /// `$2a$` never had, so they are checked as `$2a$`.
    static func matches(password: String, hash: String) -> String {
        let asComputed = #"regexp_replace(\#(hash), '^\$2[by]\$', '$2a$')"#
        return "case when \(hash) ~ '\(pattern)' then extensions.crypt(\(password), \(asComputed)) = \(asComputed) else false end"
    }
}
