"""The engine's asynchronous work: turns and deploys, as stages over the store and backends."""
