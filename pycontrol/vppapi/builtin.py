"""Built-in definitions of the VPP types our ``.api`` files import, for builds without VPP.

Written here in the API language from VPP's published wire format (type names, field
names and order, enum values): an ``address`` is a one-byte family and a 16-byte union, a
``prefix`` an address and a length, an interface index a ``u32``. Field names and order
are what make the message CRCs match VPP's, so they follow VPP's exactly. Only the types
this project uses are defined; when VPP's own ``.api`` files are on the include path they
are parsed instead (see ``loader.find_import``).
"""

from __future__ import annotations

BUILTIN_IMPORTS: dict[str, str] = {
    "vnet/ip/ip_types.api": """
option version = "3.0.0";
manual_print typedef u8 ip4_address[4];
manual_print typedef u8 ip6_address[16];

enum address_family : u8 {
  ADDRESS_IP4 = 0,
  ADDRESS_IP6,
};

enum ip_proto : u8 {
  IP_API_PROTO_HOPOPT = 0,
  IP_API_PROTO_ICMP = 1,
  IP_API_PROTO_IGMP = 2,
  IP_API_PROTO_TCP = 6,
  IP_API_PROTO_UDP = 17,
  IP_API_PROTO_GRE = 47,
  IP_API_PROTO_ESP = 50,
  IP_API_PROTO_AH = 51,
  IP_API_PROTO_ICMP6 = 58,
  IP_API_PROTO_EIGRP = 88,
  IP_API_PROTO_OSPF = 89,
  IP_API_PROTO_SCTP = 132,
  IP_API_PROTO_RESERVED = 255,
};

union address_union {
  vl_api_ip4_address_t ip4;
  vl_api_ip6_address_t ip6;
};

manual_print typedef address {
  vl_api_address_family_t af;
  vl_api_address_union_t un;
};

manual_print typedef prefix {
  vl_api_address_t address;
  u8 len;
};
""",
    "vnet/interface_types.api": """
option version = "1.0.0";
typedef u32 interface_index;
""",
}
