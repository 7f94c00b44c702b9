"""
A bare Django REST framework create endpoint over a table shaped like `incidents.Incident`.

`bench/filing.py` compares the real filing endpoint against this one: same
authentication, same JSON, same columns, no domain logic. It is installed only
by the benchmarks' own settings (`bench/settings.py`); never in production.
"""
