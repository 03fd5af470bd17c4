"""Agreements, pure: licence terms and their hash (`terms`), ODRL export (`odrl`), grant conflict
checks (`conflicts`), royalty arithmetic and report periods (`royalties`), state machines
(`lifecycle`) and licence-unit tranches (`units`). No Flask, no SQLAlchemy: services call these
inside their transactions."""
