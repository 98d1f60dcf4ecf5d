"""The functional core: rules, warning states and clocks as plain Python.

Nothing in this package touches Kafka, Faust or the wall clock; time is always
passed in, so the same code serves live operation, replays and tests.
"""
