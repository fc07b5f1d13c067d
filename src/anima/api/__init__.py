"""Thin faces: REST (engine, studio), WebSocket and gRPC. Parse, call, encode."""
