"""What this machine keeps: the job history (SQLite), its migrations, the batch journal. May import `core` and `api`."""
