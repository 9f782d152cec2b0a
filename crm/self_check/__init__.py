"""Self-check calls: perezvon calls the shop's own number on a schedule and reports how the shop answered.

`schedule` says when a test call is due (pure); `runs` keeps the runs and judges them by the calls
that came back.
"""
