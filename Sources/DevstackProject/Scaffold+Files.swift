// The files `devstack init` writes: the shipped default stack and profiles.
// A test keeps these identical to stacks/default and profiles/ in this repository.

extension Scaffold {
    static let files: [(path: String, contents: String)] = [
        (
            "stacks/default/stack.yaml",
            #"""
            # yaml-language-server: $schema=../../.devstack/schema/stack.json
            # The default stack: Postgres with Supabase's roles and auth schema, a GoTrue-compatible
            # auth emulator, two mock inference servers and the example gateway.
            description: Supabase-style backend with a chat gateway

            services:
              db:
                kind: postgres
                database: app
                supabase: true
                migrations: migrations
                seed: seed.sql
                # PgBouncer in front (transaction pooling, as Supabase's pooler): ${db.pool_url}, which a reset
                # pauses instead of breaking.
                pool: true

              auth:
                kind: auth
                depends_on: { db: healthy }
                site_url: http://127.0.0.1:3000
                external_anonymous_users_enabled: true

              instant:
                kind: inference
                model: instant
                fixtures: fixtures

              thinking:
                kind: inference
                model: thinking
                fixtures: fixtures
                time_to_first_token: 300ms
                token_delay: 20ms

              gateway:
                kind: process
                command: ["${devstack.bin_dir}/ExampleGateway"]
                depends_on: { db: healthy, auth: healthy, instant: started, thinking: started }
                ports: [http]
                health: { http: /healthz }
                # What `devstack audit` probes: forged tokens at a route a signed-in user may call, a burst at a
                # rate-limited one.
                auth: jwt
                auth_probe: GET /v1/conversations
                rate_limit_probe: POST /v1/chat
                env:
                  PORT: ${self.port.http}
                  DATABASE_URL: ${db.url}
                  SUPABASE_URL: ${auth.url}
                  SUPABASE_KEY: ${auth.anon_key}
                  SUPABASE_ANON_KEY: ${auth.anon_key}
                  SUPABASE_SERVICE_ROLE_KEY: ${auth.service_role_key}
                  SERVICE_KEY: ${auth.service_role_key}
                  SUPABASE_JWT_SECRET: ${auth.jwt_secret}
                  SUPABASE_JWKS_URL: ${auth.url}/auth/v1/.well-known/jwks.json
                  INSTANT_URL: ${instant.url}
                  THINK_URL: ${thinking.url}
                  LOG_LEVEL: ${profile.log_level}
                  RATE_LIMIT: ${profile.rate_limit}

            # What `devstack smoke` checks after a deploy: against production every check only reads.
            smoke:
              gateway_up: { url: "${gateway.url}/healthz", contains: ok }
              auth_up: { url: "${auth.url}/auth/v1/health" }
              conversations_readable: { sql: "select count(*) from public.conversations" }

            # What `devstack env` and `devstack exec -- CMD` hand to tests and other tools.
            env:
              DATABASE_URL: ${db.url}
              DATABASE_POOL_URL: ${db.pool_url}
              SUPABASE_URL: ${auth.url}
              SUPABASE_KEY: ${auth.anon_key}
              SUPABASE_ANON_KEY: ${auth.anon_key}
              SUPABASE_SERVICE_ROLE_KEY: ${auth.service_role_key}
              SERVICE_KEY: ${auth.service_role_key}
              INSTANT_URL: ${instant.url}
              THINK_URL: ${thinking.url}
              GATEWAY_URL: ${gateway.url}
              LOG_LEVEL: ${profile.log_level}
              RATE_LIMIT: ${profile.rate_limit}
            """# + "\n"
        ),
        (
            "stacks/default/seed.sql",
            #"""
            -- Demo users (password for both: devstack-demo) and a conversation each. The passwords are stored as
            -- bcrypt hashes made beforehand (cost 10, as GoTrue makes them; select crypt('…', gen_salt('bf', 10))):
            -- hashing here would cost ~50 ms a user whenever the seed runs.
            insert into auth.users (id, instance_id, aud, role, email, encrypted_password, email_confirmed_at, raw_app_meta_data, raw_user_meta_data, created_at, updated_at)
            values
                ('00000000-0000-4000-8000-000000000001', '00000000-0000-0000-0000-000000000000', 'authenticated', 'authenticated', 'alice@example.com',
                 '$2a$10$B8oxB9D1PI8CEZambeIeXOK53AMZU/TIeu9xHAhKlZqJitrPgNFhu', now(), '{"provider":"email","providers":["email"]}', '{"name":"Alice"}', now(), now()),
                ('00000000-0000-4000-8000-000000000002', '00000000-0000-0000-0000-000000000000', 'authenticated', 'authenticated', 'bob@example.com',
                 '$2a$10$EtG50uLvegpKuuNdsREID.tlqjX9kGrsyQ1nrgMUqWJH.dCKkWutS', now(), '{"provider":"email","providers":["email"]}', '{"name":"Bob"}', now(), now());

            insert into public.conversations (user_id, mode, prompt, answer)
            values
                ('00000000-0000-4000-8000-000000000001', 'instant', 'Hello', 'Hi Alice!'),
                ('00000000-0000-4000-8000-000000000002', 'thinking', 'What is 2 + 2?', '4');
            """# + "\n"
        ),
        (
            "stacks/default/migrations/20260101000000_conversations.sql",
            #"""
            -- Conversations the gateway stores for each user; row-level security keeps them private.
            create table public.conversations (
                id bigint generated always as identity primary key,
                user_id uuid not null default auth.uid(),
                mode text not null check (mode in ('instant', 'thinking')),
                prompt text not null,
                answer text not null,
                created_at timestamptz not null default now()
            );

            alter table public.conversations enable row level security;

            create policy "own conversations are readable" on public.conversations
                for select to authenticated using (user_id = auth.uid());

            create policy "own conversations are writable" on public.conversations
                for insert to authenticated with check (user_id = auth.uid());

            grant select, insert on public.conversations to authenticated;
            grant all on public.conversations to service_role;
            """# + "\n"
        ),
        (
            "stacks/default/migrations/20261206000000_conversations_not_for_anon.sql",
            #"""
            -- The anon key never needs conversations: no grant, so RLS is not the only thing in the way.
            revoke all on public.conversations from anon;
            """# + "\n"
        ),
        (
            "stacks/default/fixtures/greetings.yaml",
            #"""
            # Deterministic answers of the mock inference servers (format: README, "Fixtures").
            # The first entry that matches wins; without a match the answer is "You said: <last user message>".
            - name: greeting
              match: { last_user_message: { contains: "hello" } }
              content: "Hello! This is the devstack mock."

            - name: weather tool
              match: { model: instant, last_user_message: { regex: "(?i)weather in [a-z]+" } }
              tool_calls:
                - name: get_weather
                  arguments: { city: Paris }

            - name: deep question
              match: { model: thinking, last_user_message: { contains: "meaning of life" } }
              reasoning: "The user asks a classic question. A short, friendly answer fits."
              content: "42, according to the mock."

            - name: outage drill
              match: { scenario: outage }
              error: { status: 503, message: "The model is down for this drill." }
            """# + "\n"
        ),
        (
            "profiles/local.yaml",
            #"""
            # yaml-language-server: $schema=../.devstack/schema/profile.json
            # Laptop development: fixed ports (Supabase's usual 54321 for the API, 54322 for Postgres),
            # data kept between runs, debug logging, no rate limits.
            description: Local development
            ports: { base: 54321 }
            data: persistent
            values:
              log_level: debug
              rate_limit: disabled
            services:
              auth:
                ports: { http: 54321 }
              db:
                ports: { postgres: 54322 }
            """# + "\n"
        ),
        (
            "profiles/ci.yaml",
            #"""
            # yaml-language-server: $schema=../.devstack/schema/profile.json
            # Test runs: free ports picked at start, throw-away data, Postgres tuned for speed over durability.
            description: Continuous integration and test runs
            ports: auto
            data: ephemeral
            values:
              log_level: debug
              rate_limit: disabled
            postgres:
              fsync: "off"
              synchronous_commit: "off"
              full_page_writes: "off"
            restart: "no"
            services:
              auth:
                settings:
                  bcrypt_cost: 4
            """# + "\n"
        ),
        (
            "profiles/staging.yaml",
            #"""
            # yaml-language-server: $schema=../.devstack/schema/profile.json
            # Always-on staging on a spare machine: persistent test data, protected from accidental
            # resets, crashed services restarted, rate limits on, production-like logging.
            description: Always-on staging
            ports: { base: 55321 }
            data: persistent
            protected: true
            values:
              log_level: info
              rate_limit: enabled
            restart:
              policy: always
              max_backoff: 30s
            # pgBackRest: WAL archived continuously, a full backup weekly and a differential one daily, each
            # restored into a scratch folder to prove it; four weeks kept, encrypted with a generated key.
            backups: { full: weekly, diff: daily, retention: 4, encrypt: true }
            services:
              auth:
                settings:
                  rate_limit: true
            # The machine that runs staging, for laptops and CI to test against (uncomment and name yours):
            # there `devstack up --profile staging` runs the stack; everywhere else devstack is its client
            # (`devstack login staging`, then status, logs, env, exec, migrate and smoke go to it).
            # host: { address: staging.lan, port: 55400 }
            # expose: { address: 192.168.1.20, services: [db, auth, instant, thinking, gateway] }
            """# + "\n"
        ),
        (
            "profiles/production.yaml",
            #"""
            # yaml-language-server: $schema=../.devstack/schema/profile.json
            # Production is remote: devstack starts and resets nothing here. It only knows the endpoints,
            # and it never wires production secrets into a local environment (staging-by-default, rule 2).
            description: Production (remote, read-only)
            # devstack exec and env refuse it (test against staging); devstack smoke only reads here.
            environment: production
            remote: true
            protected: true
            values:
              log_level: warn
              rate_limit: strict
            secrets:
              anon_key: ${env:PRODUCTION_SUPABASE_ANON_KEY:-}
            services:
              db:
                url: ${env:PRODUCTION_DATABASE_HOST_URL:-postgresql://db.your-project.supabase.co:5432/postgres}
              auth:
                url: ${env:PRODUCTION_SUPABASE_URL:-https://your-project.supabase.co}
              instant:
                url: ${env:PRODUCTION_INSTANT_URL:-https://instant.example.com/v1}
              thinking:
                url: ${env:PRODUCTION_THINK_URL:-https://thinking.example.com/v1}
              gateway:
                url: ${env:PRODUCTION_GATEWAY_URL:-https://api.example.com}
                env:
                  DATABASE_URL: null
                  SERVICE_KEY: null
                  SUPABASE_SERVICE_ROLE_KEY: null
                  SUPABASE_JWT_SECRET: null
            env:
              DATABASE_URL: null
              DATABASE_POOL_URL: null
              SERVICE_KEY: null
              SUPABASE_SERVICE_ROLE_KEY: null
            """# + "\n"
        ),
    ]
}
