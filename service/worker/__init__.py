"""The Faust adapter: Kafka topics, tables and timers wrapped around the shell (service/shell.py)."""
