"""The demo shop: its catalogue (`catalog`) and the seeded plan of its data (`plan`); crm/demo_data.py loads it."""
