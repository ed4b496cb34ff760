import Crypto
import DevstackCore
import Foundation

/// What a Supabase project has before its first migration, so users' migrations and RLS policies
/// run unchanged: the API roles, the `auth` schema in GoTrue's layout, and `auth.uid()` and friends
/// exactly as Supabase defines them. Idempotent; applied before migrations.
public enum SupabaseBootstrap {
    /// Which version of the SQL below a database has (read at every start, and by the reset's template check).
    public static let fingerprint = SHA256.hash(data: Data(sql.utf8)).prefix(8).hexEncoded

    public static let sql = #"""
        do $$
        begin
            if not exists (select from pg_roles where rolname = 'anon') then create role anon nologin noinherit; end if;
            if not exists (select from pg_roles where rolname = 'authenticated') then create role authenticated nologin noinherit; end if;
            if not exists (select from pg_roles where rolname = 'service_role') then create role service_role nologin noinherit bypassrls; end if;
            if not exists (select from pg_roles where rolname = 'authenticator') then create role authenticator login noinherit; end if;
            if not exists (select from pg_roles where rolname = 'supabase_auth_admin') then create role supabase_auth_admin login noinherit createrole; end if;
        end
        $$;

        grant anon, authenticated, service_role to authenticator;
        grant anon, authenticated, service_role to postgres;

        create schema if not exists extensions;
        grant usage on schema extensions to anon, authenticated, service_role;
        create extension if not exists pgcrypto with schema extensions;
        create extension if not exists "uuid-ossp" with schema extensions;

        grant usage on schema public to anon, authenticated, service_role;
        alter default privileges in schema public grant all on tables to anon, authenticated, service_role;
        alter default privileges in schema public grant all on functions to anon, authenticated, service_role;
        alter default privileges in schema public grant all on sequences to anon, authenticated, service_role;

        create schema if not exists auth authorization supabase_auth_admin;
        grant usage on schema auth to anon, authenticated, service_role;

        create table if not exists auth.users (
            instance_id uuid null,
            id uuid not null primary key,
            aud varchar(255) null,
            role varchar(255) null,
            email varchar(255) null,
            encrypted_password varchar(255) null,
            email_confirmed_at timestamptz null,
            invited_at timestamptz null,
            confirmation_token varchar(255) null,
            confirmation_sent_at timestamptz null,
            recovery_token varchar(255) null,
            recovery_sent_at timestamptz null,
            email_change_token_new varchar(255) null,
            email_change varchar(255) null,
            email_change_sent_at timestamptz null,
            last_sign_in_at timestamptz null,
            raw_app_meta_data jsonb null,
            raw_user_meta_data jsonb null,
            is_super_admin bool null,
            created_at timestamptz null,
            updated_at timestamptz null,
            phone text null unique default null,
            phone_confirmed_at timestamptz null,
            phone_change text null default '',
            phone_change_token varchar(255) null default '',
            phone_change_sent_at timestamptz null,
            confirmed_at timestamptz generated always as (least(email_confirmed_at, phone_confirmed_at)) stored,
            email_change_token_current varchar(255) null default '',
            email_change_confirm_status smallint null default 0 check (email_change_confirm_status >= 0 and email_change_confirm_status <= 2),
            banned_until timestamptz null,
            reauthentication_token varchar(255) null default '',
            reauthentication_sent_at timestamptz null,
            is_sso_user boolean not null default false,
            deleted_at timestamptz null,
            is_anonymous boolean not null default false
        );
        create unique index if not exists users_email_partial_key on auth.users (email) where (is_sso_user = false);
        create index if not exists users_instance_id_idx on auth.users (instance_id);

        create table if not exists auth.identities (
            provider_id text not null,
            user_id uuid not null references auth.users (id) on delete cascade,
            identity_data jsonb not null,
            provider text not null,
            last_sign_in_at timestamptz null,
            created_at timestamptz null,
            updated_at timestamptz null,
            email text generated always as (lower(identity_data ->> 'email')) stored,
            id uuid not null default gen_random_uuid() primary key,
            constraint identities_provider_id_provider_unique unique (provider_id, provider)
        );
        create index if not exists identities_user_id_idx on auth.identities (user_id);

        create table if not exists auth.sessions (
            id uuid not null primary key,
            user_id uuid not null references auth.users (id) on delete cascade,
            created_at timestamptz null,
            updated_at timestamptz null,
            factor_id uuid null,
            aal text null,
            not_after timestamptz null,
            refreshed_at timestamp null,
            user_agent text null,
            ip inet null,
            tag text null
        );
        create index if not exists sessions_user_id_idx on auth.sessions (user_id);

        create table if not exists auth.refresh_tokens (
            instance_id uuid null,
            id bigserial primary key,
            token varchar(255) null unique,
            user_id varchar(255) null,
            revoked bool null,
            created_at timestamptz null,
            updated_at timestamptz null,
            parent varchar(255) null,
            session_id uuid null references auth.sessions (id) on delete cascade
        );
        create index if not exists refresh_tokens_instance_id_user_id_idx on auth.refresh_tokens (instance_id, user_id);
        create index if not exists refresh_tokens_parent_idx on auth.refresh_tokens (parent);
        create index if not exists refresh_tokens_session_id_revoked_idx on auth.refresh_tokens (session_id, revoked);

        create table if not exists auth.mfa_factors (
            id uuid not null primary key,
            user_id uuid not null references auth.users (id) on delete cascade,
            friendly_name text null,
            factor_type text not null check (factor_type in ('totp', 'phone', 'webauthn')),
            status text not null check (status in ('unverified', 'verified')),
            created_at timestamptz not null,
            updated_at timestamptz not null,
            secret text null,
            phone text null,
            last_challenged_at timestamptz null
        );
        create index if not exists mfa_factors_user_id_idx on auth.mfa_factors (user_id);
        create unique index if not exists mfa_factors_user_friendly_name_unique on auth.mfa_factors (friendly_name, user_id)
            where trim(friendly_name) <> '';

        create table if not exists auth.mfa_challenges (
            id uuid not null primary key,
            factor_id uuid not null references auth.mfa_factors (id) on delete cascade,
            created_at timestamptz not null,
            verified_at timestamptz null,
            ip_address inet not null,
            otp_code text null
        );

        create table if not exists auth.mfa_amr_claims (
            id uuid not null primary key,
            session_id uuid not null references auth.sessions (id) on delete cascade,
            created_at timestamptz not null,
            updated_at timestamptz not null,
            authentication_method text not null,
            unique (session_id, authentication_method)
        );

        alter table auth.users owner to supabase_auth_admin;
        alter table auth.mfa_factors owner to supabase_auth_admin;
        alter table auth.mfa_challenges owner to supabase_auth_admin;
        alter table auth.mfa_amr_claims owner to supabase_auth_admin;
        alter table auth.identities owner to supabase_auth_admin;
        alter table auth.sessions owner to supabase_auth_admin;
        alter table auth.refresh_tokens owner to supabase_auth_admin;

        create or replace function auth.uid() returns uuid language sql stable as $$
            select coalesce(
                nullif(current_setting('request.jwt.claim.sub', true), ''),
                (nullif(current_setting('request.jwt.claims', true), '')::jsonb ->> 'sub')
            )::uuid
        $$;

        create or replace function auth.role() returns text language sql stable as $$
            select coalesce(
                nullif(current_setting('request.jwt.claim.role', true), ''),
                (nullif(current_setting('request.jwt.claims', true), '')::jsonb ->> 'role')
            )::text
        $$;

        create or replace function auth.email() returns text language sql stable as $$
            select coalesce(
                nullif(current_setting('request.jwt.claim.email', true), ''),
                (nullif(current_setting('request.jwt.claims', true), '')::jsonb ->> 'email')
            )::text
        $$;

        create or replace function auth.jwt() returns jsonb language sql stable as $$
            select coalesce(
                nullif(current_setting('request.jwt.claim', true), ''),
                nullif(current_setting('request.jwt.claims', true), '')
            )::jsonb
        $$;

        grant execute on function auth.uid(), auth.role(), auth.email(), auth.jwt() to anon, authenticated, service_role;
        """#
}
