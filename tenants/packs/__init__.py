"""Industry packs, one folder each: pack.toml + rules.py."""
