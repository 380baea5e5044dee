"""Objectives and error budgets: the maths (``_budget.py``), every objective of a configuration
fed its checks (``_book.py``), and their alerts in words."""
