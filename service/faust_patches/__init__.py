"""Where this service reaches into faust-streaming and aiokafka, and nowhere else.

- `correctness`: gaps that lose input or make a batch's table writes fail,
  closed; and the two accessors for private state the shell reads
  (`committed_offset`, `force_metadata_update`).
- `speed`: detours around Faust's per-record machinery that change no result.
- `versions`: the start-up check that the installed faust-streaming and
  aiokafka are the versions these patches were written against.

Each patch's docstring names the upstream issue it works around (or the
upstream-style report in docs/upstream/ where none was filed) and says which
stock setting was tried instead. `service.faust_fixes` is the import surface
the rest of the service uses.
"""
