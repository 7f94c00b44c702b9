"""
A bare Django REST framework create endpoint over a table shaped like `incidents.Incident`.

`bench/filing.py` compares the real filing endpoint against this one: same
authentication, same JSON, same columns, no domain logic. It is installed only
when `BENCH_BARE_ENDPOINT` is on (see config/settings.py); never in production.
"""
