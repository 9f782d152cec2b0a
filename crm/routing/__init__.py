"""Routing: where an inbound call goes, and the configuration admins edit for it.

- `policy`: the pure decision for one call (working hours, urgent orders, the responsible manager, VIP,
  rules, the least-loaded free manager, the queue) and its explanation;
- `hours`: working hours (which schedule, open now?); `names`: what the phone shows, dialled numbers;
- `data`: the hot-path read of everything the policy needs, and the decision recorded on the call;
- `config` / `schedules`: the admins' groups, rules, numbers, settings and working hours.
"""
