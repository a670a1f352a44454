"""``pycontrol manager``: hand the node's uplink to VPP and always give the host its network back.

Modules, one job each:

- ``config``: typed configuration from Calico/VPP-compatible environment variables + CLI;
- ``linux_state``: the saved picture of the uplink (addresses, routes, link attributes);
- ``netlink``: the few pyroute2 calls everything uses (discovery, apply, namespace moves);
- ``statefile``: atomic save/load of that picture;
- ``startup_conf``: VPP's startup.conf from the template and the driver's sections;
- ``drivers``: af_packet, af_xdp, virtio, dpdk: selection, Linux preparation, restoration;
- ``restore``: put the uplink back exactly as it was;
- ``lifecycle``: start, connect, configure, supervise and stop VPP;
- ``hooks``: optional operator commands at fixed points.
"""
