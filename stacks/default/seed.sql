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
