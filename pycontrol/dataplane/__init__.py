"""The typed dataplane seam: one interface (``interface.Dataplane``), implementations per backend.

``vpp`` speaks to VPP over ``vpp_papi``. Callers depend on ``interface`` and ``types`` only.
"""
