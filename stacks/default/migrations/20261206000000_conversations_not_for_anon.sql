-- The anon key never needs conversations: no grant, so RLS is not the only thing in the way.
revoke all on public.conversations from anon;
