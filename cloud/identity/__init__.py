"""Identity: projects, users, roles, role assignments and tokens (Keystone v3 subset)."""
