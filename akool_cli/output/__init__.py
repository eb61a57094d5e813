"""Everything on stdout and stderr: views (domain objects -> rows and records), writers (one per format),
the renderer (tables, panels, progress, errors), the messages that explain a flow's result.
May import `core`, `api`, `store` and `pricing`; flows never import it."""
