-- Demo users (password for both: devstack-demo) and a conversation each.
insert into auth.users (id, instance_id, aud, role, email, encrypted_password, email_confirmed_at, raw_app_meta_data, raw_user_meta_data, created_at, updated_at)
values
    ('00000000-0000-4000-8000-000000000001', '00000000-0000-0000-0000-000000000000', 'authenticated', 'authenticated', 'alice@example.com',
     crypt('devstack-demo', gen_salt('bf', 10)), now(), '{"provider":"email","providers":["email"]}', '{"name":"Alice"}', now(), now()),
    ('00000000-0000-4000-8000-000000000002', '00000000-0000-0000-0000-000000000000', 'authenticated', 'authenticated', 'bob@example.com',
     crypt('devstack-demo', gen_salt('bf', 10)), now(), '{"provider":"email","providers":["email"]}', '{"name":"Bob"}', now(), now());

insert into public.conversations (user_id, mode, prompt, answer)
values
    ('00000000-0000-4000-8000-000000000001', 'instant', 'Hello', 'Hi Alice!'),
    ('00000000-0000-4000-8000-000000000002', 'thinking', 'What is 2 + 2?', '4');
