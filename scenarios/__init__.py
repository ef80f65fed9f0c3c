"""Locust users, payloads and the scenario catalogue.

`catalog` and `payloads` import nothing from Locust and can be used by the harness;
`users` and `locustfile` import Locust (which patches the standard library with gevent) and are
loaded only inside the Locust process.
"""
