"""The pure core: entities, enums and rules. Imports nothing but the standard library."""
