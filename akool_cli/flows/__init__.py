"""Use-case flows: the order of a paid command in one place, with explicit dependencies, never printing."""
