"""The network controller: networks, subnets, ports, IPAM, VLANs, security groups, floating IPs."""
