"""pycontrol: a Kubernetes node dataplane in the style of Calico/VPP.

A thin Python control plane (manager, agent) over portable C fast paths that run
both inside VPP (as plugins) and in-process through the cffi extension
``pycontrol._native``.
"""

__version__ = "0.1.0"
