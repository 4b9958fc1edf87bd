"""Block storage: volume types, volumes, snapshots, attachments and the /volume API."""
