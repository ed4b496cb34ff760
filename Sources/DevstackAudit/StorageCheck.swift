import DevstackPostgres
import Foundation

/// Supabase Storage's layout (`storage.buckets`, `storage.objects`): which buckets are public, and
/// whether policies guard the objects.
struct StorageCheck: AuditCheck {
    let id = "storage.buckets"
    let title = "Storage bucket permissions"

    func run(_ context: AuditContext) async -> AuditCheckResult {
        let lookedAt = "storage.buckets and the policies on storage.objects"
        do {
            return try await context.withDatabase { session in
                let layout = try await session.strings(
                    "select (to_regclass('storage.buckets') is not null and to_regclass('storage.objects') is not null)::text")
                guard layout.first == "true" else {
                    return .notChecked(self, lookedAt: lookedAt, because: "the database has no storage schema (storage.buckets, storage.objects)")
                }
                let guarded = try await session.strings("select relrowsecurity::text from pg_class where oid = 'storage.objects'::regclass")
                let policies = try await session.rows(
                    "select polname, coalesce(pg_get_expr(polqual, polrelid), '') || ' ' || coalesce(pg_get_expr(polwithcheck, polrelid), '') from pg_policy where polrelid = 'storage.objects'::regclass"
                )
                var findings: [AuditFinding] = []
                if guarded.first != "true" {
                    findings.append(AuditFinding("storage.objects", .fail, "row-level security is off: every object is readable and writable"))
                } else if policies.isEmpty {
                    findings.append(AuditFinding("storage.objects", .warn, "row-level security on but no policy: no client can read or upload"))
                }
                let buckets = try await session.rows("select id::text, name::text, coalesce(public, false)::text from storage.buckets order by 1")
                for bucket in buckets {
                    let id = bucket[0] ?? "?"
                    let named = policies.filter { ($0[1] ?? "").contains("'\(id)'") || ($0[1] ?? "").contains("'\(bucket[1] ?? id)'") }
                    if bucket[2] == "true" {
                        findings.append(
                            AuditFinding("bucket \(id)", .warn, "public: anyone with an object's URL reads it, whatever the policies say"))
                    } else if named.isEmpty && !policies.isEmpty {
                        findings.append(AuditFinding("bucket \(id)", .warn, "private, but no policy on storage.objects names it"))
                    } else {
                        findings.append(
                            AuditFinding(
                                "bucket \(id)", .pass,
                                "private; policies: \(named.isEmpty ? "none name it" : named.compactMap { $0[0] }.joined(separator: ", "))"))
                    }
                }
                let problems = findings.filter { $0.status != .pass }.count
                return result(
                    lookedAt: lookedAt,
                    summary:
                        "\(buckets.count) bucket\(buckets.count == 1 ? "" : "s"), \(policies.count) polic\(policies.count == 1 ? "y" : "ies") on storage.objects"
                        + (problems == 0 ? "" : ": \(problems) to look at"),
                    findings: findings,
                    fix: "make buckets private (update storage.buckets set public = false where id = …) unless every object is meant for anyone, "
                        + "and add policies on storage.objects naming each bucket (bucket_id = '…' and owner = auth.uid())")
            }
        } catch {
            return .notChecked(self, lookedAt: lookedAt, because: describe(error))
        }
    }
}
