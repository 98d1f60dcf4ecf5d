r"""The Faust adapter: Kafka topics, tables and timers wrapped around the shell (service/shell.py).

`service/app.py` builds the Faust app, its topics and tables, and wires the
parts below; each part takes what it works with as arguments. One event, from
its input topic to a warning, in the order it meets them:

  ingest.py     the ingest agent: validate an input message, hand it to the shell
  tables.py     where a state key lives (its home partition) and the tables as the shell's store
                (the shell applies the event there if this worker owns it, else sends a work record)
  process.py    the process agent: work-topic records (events from other partitions, ticks, acks)
  publish.py    warnings to risk-warnings (and the firing table), work records, notes, dead letters
  finish.py     the end of every batch: send what it derived, move the clock, write its states
  notify.py     the notify agent: one text per notifiable change, per recipient group
  acks.py       the acknowledgements agent: an acknowledgement to the partition owning the warning

and around them, what keeps time and ownership:

  clock.py      the clock timer: ticks for every work partition, linear in partitions
  inputs.py     what the event clock knows of the input partitions (unread events, where it stood)
  rebalance.py  what changes when Kafka assigns this worker other partitions
  health.py     the broker watchdog and consumer lag; pages.py: /metrics and /healthz
"""
