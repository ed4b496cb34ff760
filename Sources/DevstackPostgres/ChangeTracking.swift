import Foundation

/// The reset's fast path: a database copied from the clean-state template knows which of its tables
/// changed since, and puts just those back from clean copies kept inside it, in one transaction, with
/// no copy of the database and no session ended. Everything lives in the database, so every copy of
/// the template (the live database, spares, snapshots, leases) carries it:
/// - a statement trigger on every table advances that table's counter (a sequence: never blocks,
///   never deadlocks, survives the writer's rollback, which only costs a needless repair);
/// - an event trigger advances one counter on any DDL, which sends the next reset to the swap;
/// - `devstack_clean` holds each table's clean rows, and `devstack.clean_sequences` every
///   sequence's clean position.
enum ChangeTracking {
    /// What a repair did: tables put back, or why the database must be swapped instead.
    struct Repair: Sendable {
        var tables: Int
        var fallback: String?
    }

    /// Installed in the database that becomes the template, after its migrations and seed.
    static let functions = #"""
        create schema devstack_clean;
        create sequence devstack_clean.schema_changes;
        create table devstack.clean_tables (
            rel regclass primary key,
            copy regclass not null,
            counter regclass not null,
            columns text not null,
            rows bigint not null
        );
        create table devstack.clean_sequences (seq regclass primary key, last_value bigint not null, is_called boolean not null);

        create function devstack.note_change() returns trigger
        language plpgsql security definer set search_path = pg_catalog as $$
        begin
            perform nextval(tg_argv[0]::regclass);
            return null;
        end
        $$;

        create function devstack.note_schema_change() returns event_trigger
        language plpgsql security definer set search_path = pg_catalog as $$
        begin
            perform nextval('devstack_clean.schema_changes');
        end
        $$;

        create function devstack.track_changes(clean_key text) returns void
        language plpgsql set search_path = pg_catalog as $$
        declare
            t record;
            copy text;
            counter text;
            copied bigint;
        begin
            for t in
                select c.oid::regclass as rel, c.oid from pg_class c join pg_namespace n on n.oid = c.relnamespace
                where c.relkind in ('r', 'p')
                  and n.nspname not in ('pg_catalog', 'information_schema', 'pg_toast', 'devstack', 'devstack_clean')
                  and n.nspname not like 'pg\_temp\_%' and n.nspname not like 'pg\_toast\_temp\_%'
                order by c.oid
            loop
                copy := format('devstack_clean.%I', 'rows_' || t.oid);
                counter := format('devstack_clean.%I', 'changes_' || t.oid);
                execute format('create table %s as select * from only %s', copy, t.rel);
                get diagnostics copied = row_count;
                execute format('create sequence %s', counter);
                execute format(
                    'create trigger devstack_track after insert or update or delete or truncate on %s '
                    'for each statement execute function devstack.note_change(%L)', t.rel, counter);
                -- Also under session_replication_role = replica, which a test may set.
                execute format('alter table %s enable always trigger devstack_track', t.rel);
                insert into devstack.clean_tables values (
                    t.rel, copy::regclass, counter::regclass,
                    (select coalesce(string_agg(quote_ident(attname), ', ' order by attnum), '') from pg_attribute
                     where attrelid = t.oid and attnum > 0 and not attisdropped and attgenerated = ''),
                    copied);
            end loop;
            insert into devstack.clean_sequences
                select c.oid::regclass, coalesce(v.last_value, s.seqstart), v.last_value is not null
                from pg_class c
                join pg_namespace n on n.oid = c.relnamespace
                join pg_sequence s on s.seqrelid = c.oid
                cross join lateral (select pg_sequence_last_value(c.oid) as last_value) v
                where c.relkind = 'S' and n.nspname not in ('pg_catalog', 'information_schema', 'devstack', 'devstack_clean');
            insert into devstack.state values ('clean_state', clean_key) on conflict (key) do update set value = excluded.value;
            create event trigger devstack_track_schema on ddl_command_end execute function devstack.note_schema_change();
            alter event trigger devstack_track_schema enable always;
        end
        $$;

        -- Takes the locks of `statement` (a lock table) without ever waiting for one while holding
        -- another, so a repair can never deadlock with a writer: it tries, and after 10 ms of tries
        -- ends the sessions holding a table in a mode that is in the way (as the swap would end
        -- them), until 2 s have passed.
        create function devstack.lock_without_waiting(statement text, tables oid[], in_the_way text[]) returns boolean
        language plpgsql set search_path = pg_catalog as $$
        declare
            began timestamptz := clock_timestamp();
        begin
            loop
                begin
                    execute statement || ' nowait';
                    return true;
                exception when lock_not_available then
                    if clock_timestamp() > began + interval '2 seconds' then
                        return false;
                    end if;
                    if clock_timestamp() > began + interval '10 milliseconds' then
                        perform pg_terminate_backend(l.pid) from pg_locks l
                        where l.locktype = 'relation' and l.relation = any(tables) and l.granted and l.mode = any(in_the_way)
                          and l.pid <> pg_backend_pid()
                          and l.database = (select oid from pg_database where datname = current_database());
                    end if;
                    perform pg_sleep(0.001);
                end;
            end loop;
        end
        $$;

        create function devstack.repair_changes(clean_key text, max_rows bigint, out repaired integer, out fallback text)
        language plpgsql set search_path = pg_catalog as $$
        declare
            lock_all text;
            closure regclass[];
            total bigint;
            t record;
        begin
            repaired := 0;
            if (select value from devstack.state where key = 'clean_state') is distinct from clean_key then
                fallback := 'the database is a copy of an older clean state';
                return;
            end if;
            if pg_sequence_last_value('devstack_clean.schema_changes') is not null then
                fallback := 'the schema changed';
                return;
            end if;
            if exists (select from pg_largeobject_metadata) then
                fallback := 'the database holds large objects';
                return;
            end if;
            -- Writers wait from here until this commits, so what the counters say stays true.
            select 'lock table ' || string_agg(rel::text, ', ') || ' in share mode' into lock_all from devstack.clean_tables;
            if lock_all is not null and not devstack.lock_without_waiting(
                lock_all, (select array_agg(rel::oid) from devstack.clean_tables),
                array['RowExclusiveLock', 'ShareUpdateExclusiveLock', 'ShareRowExclusiveLock', 'ExclusiveLock', 'AccessExclusiveLock'])
            then
                fallback := 'a session kept a table locked for 2 s';
                return;
            end if;
            -- A changed table, every table referring to it, and its inheritance children (rows added
            -- through a partitioned parent mark only the parent).
            with recursive closure(rel) as (
                select rel from devstack.clean_tables where pg_sequence_last_value(counter) is not null
                union
                select link.child::regclass from closure
                join (
                    select conrelid as child, confrelid as parent from pg_constraint where contype = 'f'
                    union all
                    select inhrelid, inhparent from pg_inherits
                ) link on link.parent = closure.rel
            )
            select array_agg(c.rel), sum(c.rows) into closure, total from devstack.clean_tables c join closure using (rel);
            if total > max_rows then
                fallback := format('%s clean rows to put back, more than fast_reset_rows (%s)', total, max_rows);
                return;
            end if;
            -- The rows go back as they were: no user trigger fires, no foreign key is checked row by row.
            perform set_config('session_replication_role', 'replica', true);
            if closure is not null then
                -- Small tables are emptied row by row: no new files, a fraction of a truncate's cost.
                -- A truncate must take every table referring to one, so it is all or nothing.
                if (select bool_and(pg_relation_size(rel) < 262144) from unnest(closure) rel) then
                    for t in select rel from unnest(closure) rel join pg_class on pg_class.oid = rel where relkind = 'r' loop
                        execute format('delete from only %s', t.rel);
                    end loop;
                else
                    -- A truncate needs the tables to itself: readers too are in the way.
                    if not devstack.lock_without_waiting(
                        (select 'lock table ' || string_agg(rel::text, ', ') || ' in access exclusive mode' from unnest(closure) rel),
                        closure::oid[], array['AccessShareLock', 'RowShareLock'])
                    then
                        fallback := 'a session kept a table locked for 2 s';
                        return;
                    end if;
                    execute (
                        select 'truncate ' || string_agg('only ' || rel::text, ', ')
                        from unnest(closure) rel join pg_class on pg_class.oid = rel where relkind = 'r');
                end if;
                for t in select * from devstack.clean_tables where rel = any(closure) and rows > 0 order by rel loop
                    execute format('insert into %s (%s) overriding system value select %s from %s', t.rel, t.columns, t.columns, t.copy);
                end loop;
                perform setval(counter, 1, false) from devstack.clean_tables where rel = any(closure);
                repaired := cardinality(closure);
            end if;
            -- Sequences also move without a lasting change (a rolled-back insert, a bare nextval).
            perform setval(seq, last_value, is_called) from devstack.clean_sequences;
        end
        $$;
        """#

    /// Makes `session`'s database (the template being built) track its changes from here on.
    static func install(key: String, on session: PostgresSession) async throws {
        for statement in SQLScript(functions).statements { try await session.execute(statement.text) }
        try await session.execute("select devstack.track_changes('\(key)')")
    }

    /// Puts the tables changed since the last reset back, or says why a swap must do it.
    /// `maxRows`: the most clean rows worth copying back; a swap is faster beyond.
    static func repair(key: String, maxRows: Int, on session: PostgresSession) async throws -> Repair {
        do {
            let row = try await session.rows("select repaired::text, fallback from devstack.repair_changes('\(key)', \(maxRows))").first
            return Repair(tables: Int(row?.first.flatMap { $0 } ?? "") ?? 0, fallback: row?.last.flatMap { $0 })
        } catch  where PostgresSession.sqlState(of: error) == "42883" {
            // undefined_function: the database was not copied from the template (the first reset after `up`).
            return Repair(tables: 0, fallback: "the database was not made from the clean-state template yet")
        }
    }
}
