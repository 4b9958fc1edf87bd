"""The Neutron v2.0 API subset at /network/v2.0."""
