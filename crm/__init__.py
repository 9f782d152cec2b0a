"""The order CRM: customers, phones, managers, orders and their workflow, tasks, and all SQL."""
