import DevstackPostgres
import Foundation

/// Row-level security read from the catalog: every table, partition and view clients can reach is
/// guarded, definer functions pin their search path, `anon` is granted only what a policy scopes.
struct RowLevelSecurityCheck: AuditCheck {
    let id = "rls.static"
    let title = "Row-level security, statically"

    func run(_ context: AuditContext) async -> AuditCheckResult {
        let schemas = context.exposedSchemas
        let lookedAt =
            "tables, partitions, views and materialised views in \(schemas.joined(separator: ", ")); security definer functions; grants to anon"
        do {
            return try await context.withDatabase { session in
                var findings: [AuditFinding] = []
                // has_table_privilege fails on a role that does not exist: only the API roles this database has.
                let apiRoles = try await session.strings("select rolname from pg_roles where rolname in ('anon', 'authenticated') order by 1")
                let readable =
                    apiRoles.isEmpty ? "false" : apiRoles.map { "has_table_privilege(\(SQL.literal($0)), c.oid, 'select')" }.joined(separator: " or ")
                let relations = try await session.rows(
                    """
                    select n.nspname || '.' || c.relname, c.relkind::text, c.relrowsecurity::text, c.relispartition::text,
                        (select count(*) from pg_policy p where p.polrelid = c.oid)::text,
                        coalesce(array_to_string(c.reloptions, ','), ''),
                        (\(readable))::text
                    from pg_class c join pg_namespace n on n.oid = c.relnamespace
                    where n.nspname = any(\(SQL.array(schemas))) and c.relkind in ('r', 'p', 'v', 'm')
                    order by 1
                    """)
                var tables = 0
                for row in relations {
                    let name = row[0] ?? "?"
                    let reachable = row[6] == "true"
                    switch row[1] {
                    case "r", "p":
                        tables += 1
                        let what = row[3] == "true" ? "partition" : "table"
                        if row[2] != "true" {
                            findings.append(
                                AuditFinding(name, .fail, "\(what) without row-level security: a role with a grant reads and writes every row"))
                        } else if row[4] == "0" {
                            findings.append(
                                AuditFinding(name, .warn, "row-level security on but no policy: every query as anon or authenticated sees nothing"))
                        } else {
                            findings.append(AuditFinding(name, .pass, "row-level security on, \(row[4] ?? "?") polic\(row[4] == "1" ? "y" : "ies")"))
                        }
                    case "v":
                        if !reachable {
                            findings.append(AuditFinding(name, .pass, "view not readable by anon or authenticated"))
                        } else if (row[5] ?? "").contains("security_invoker=true") || (row[5] ?? "").contains("security_invoker=on") {
                            findings.append(AuditFinding(name, .pass, "view with security_invoker: its tables' policies apply"))
                        } else {
                            findings.append(
                                AuditFinding(name, .fail, "view readable by API roles without security_invoker: it reads as its owner, past RLS"))
                        }
                    default:
                        findings.append(
                            reachable
                                ? AuditFinding(name, .fail, "materialised view readable by API roles: materialised views have no RLS")
                                : AuditFinding(name, .pass, "materialised view not readable by anon or authenticated"))
                    }
                }
                for function in try await session.strings(
                    """
                    select n.nspname || '.' || p.proname || '(' || pg_get_function_identity_arguments(p.oid) || ')' from pg_proc p join pg_namespace n on n.oid = p.pronamespace
                    where p.prosecdef and n.nspname not in ('pg_catalog', 'information_schema') and n.nspname not like 'pg\\_%'
                      and not exists (select from pg_depend d where d.classid = 'pg_proc'::regclass and d.objid = p.oid and d.deptype = 'e')
                      and not exists (select from unnest(coalesce(p.proconfig, '{}'::text[])) setting where setting like 'search\\_path=%')
                    order by 1
                    """)
                {
                    findings.append(
                        AuditFinding(function, .fail, "security definer function without a fixed search_path: a caller's objects can shadow its own"))
                }
                for row in try await !apiRoles.contains("anon")
                    ? []
                    : session.rows(
                        """
                        select n.nspname || '.' || c.relname,
                            array_to_string(array_remove(array[
                                case when has_table_privilege('anon', c.oid, 'select') then 'select' end,
                                case when has_table_privilege('anon', c.oid, 'insert') then 'insert' end,
                                case when has_table_privilege('anon', c.oid, 'update') then 'update' end,
                                case when has_table_privilege('anon', c.oid, 'delete') then 'delete' end], null), ', ')
                        from pg_class c join pg_namespace n on n.oid = c.relnamespace
                        where n.nspname = any(\(SQL.array(schemas))) and c.relkind in ('r', 'p') and not c.relispartition
                          and has_table_privilege('anon', c.oid, 'select, insert, update, delete')
                          and not exists (select from pg_policy p where p.polrelid = c.oid
                                          and (select oid from pg_roles where rolname = 'anon') = any(p.polroles))
                        order by 1
                        """)
                {
                    findings.append(
                        AuditFinding(
                            row[0] ?? "?", .warn,
                            "anon is granted \(row[1] ?? "?") but no policy is scoped to anon: only RLS stands between the anon key and the rows"))
                }
                let problems = findings.filter { $0.status != .pass }.count
                let summary =
                    problems == 0
                    ? "\(tables) table\(tables == 1 ? "" : "s") in \(schemas.joined(separator: ", ")): each guarded by RLS and a policy; no unpinned definer function"
                    : "\(problems) problem\(problems == 1 ? "" : "s") in \(relations.count) relations and their functions"
                return result(
                    lookedAt: lookedAt, summary: summary, findings: findings,
                    fix:
                        "alter table … enable row level security and add policies (create policy … to authenticated using (user_id = auth.uid())); "
                        + "create views with (security_invoker = true); add `set search_path = ''` to definer functions; revoke from anon what no policy scopes to it"
                )
            }
        } catch {
            return .notChecked(self, lookedAt: lookedAt, because: describe(error))
        }
    }
}
