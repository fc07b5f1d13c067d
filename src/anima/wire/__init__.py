"""Exact external shapes (REST resources, packets, protobuf) and the one codec to domain events."""
