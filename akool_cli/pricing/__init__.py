"""Money before it is spent: price tables and ranges, the pure request planner, budgets and caps.
May import `core`, `api` and `store`; never prints, never sends."""
