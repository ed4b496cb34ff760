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
