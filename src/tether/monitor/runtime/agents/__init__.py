"""``tether agent`` and the server's side of it: the agent's loop, spool and what it can run;
the intake of its assignments and batches."""
