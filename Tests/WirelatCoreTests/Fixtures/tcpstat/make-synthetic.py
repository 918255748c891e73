#!/usr/bin/env python3
"""Writes the synthetic tcpstat fixtures: frames chosen to hit each rule of
tcpstat's packet accounting (see TcpStatClassifier), with timestamps that put
packets on, before and far past interval boundaries."""
import struct

T = 1_700_000_000


def pcap(path, linktype, records, nano=False, snaplen=65535):
    with open(path, 'wb') as f:
        f.write(struct.pack('<IHHiIII', 0xA1B23C4D if nano else 0xA1B2C3D4, 2, 4, 0, 0, snaplen, linktype))
        for sec, frac, data, wire in records:
            f.write(struct.pack('<iIII', sec, frac & 0xFFFFFFFF, len(data), wire if wire is not None else len(data)))
            f.write(data)


def ipv4(proto, payload, total=None):
    length = 20 + len(payload) if total is None else total
    return struct.pack('!BBHHHBBH4s4s', 0x45, 0, length, 1, 0, 64, proto, 0,
                       bytes([10, 0, 0, 1]), bytes([10, 0, 0, 2])) + payload


def ipv6(nxt, payload):
    return struct.pack('!IHBB16s16s', 0x60000000, len(payload), nxt, 64,
                       bytes(15) + b'\x01', bytes(15) + b'\x02') + payload


TCP = struct.pack('!HHIIBBHHH', 40000, 7001, 1, 0, 0x50, 0x02, 65535, 0, 0)
UDP = struct.pack('!HHHH', 40000, 53, 8 + 12, 0) + bytes(12)
ICMP = struct.pack('!BBHHH', 8, 0, 0, 1, 1) + bytes(56)
ICMP6 = struct.pack('!BBHHH', 128, 0, 0, 1, 1) + bytes(8)
MAC = bytes.fromhex('020000000002') + bytes.fromhex('020000000001')


def eth(ethertype, payload):
    return MAC + struct.pack('!H', ethertype) + payload


ARP = struct.pack('!HHBBH6s4s6s4s', 1, 0x0800, 6, 4, 1, bytes.fromhex('020000000001'),
                  bytes([10, 0, 0, 1]), bytes(6), bytes([10, 0, 0, 2])) + bytes(18)

en = [
    # first packet opens interval 1 at T + 0.1
    (T, 100_000, eth(0x0806, ARP), None),                                    # ARP
    (T, 110_000, eth(0x8035, ARP), None),                                    # RARP: no column
    (T, 120_000, eth(0x0800, ipv4(6, TCP)), None),                           # IPv4 TCP
    (T, 130_000, eth(0x0800, ipv4(17, UDP)), None),                          # IPv4 UDP
    (T, 130_000, eth(0x0800, ipv4(1, ICMP)), None),                          # IPv4 ICMP, same time
    (T, 140_000, eth(0x8100, struct.pack('!HH', 5, 0x0800) + ipv4(17, UDP)), None),   # 802.1Q: no column
    (T, 150_000, eth(0x88A8, struct.pack('!HHHH', 200, 0x8100, 5, 0x0806) + ARP), None),  # QinQ ARP
    (T, 160_000, eth(0x86DD, ipv6(0, bytes([58, 0, 5, 2, 0, 0, 1, 0]) + ICMP6)), None),  # hop-by-hop, ICMPv6
    (T, 170_000, eth(0x86DD, ipv6(44, bytes([17, 0, 0, 1, 0, 0, 0, 7]) + UDP)), None),   # fragment, UDP
    (T, 180_000, eth(0x86DD, ipv6(58, ICMP6)), None),                        # ICMPv6
    (T, 190_000, eth(0x86DD, ipv6(6, TCP)), None),                           # IPv6 TCP
    (T, 200_000, eth(0x0800, ipv4(47, bytes(24))), None),                    # GRE: IPv4 only
    (T, 210_000, eth(0x0800, bytes([0x65]) + ipv4(6, TCP)[1:]), None),       # version 6 in an IPv4 frame
    (T, 220_000, MAC + struct.pack('!H', 38) + bytes([0x42, 0x42, 3]) + bytes(35), None),  # 802.3 + LLC
    (T, 230_000, eth(0x0800, ipv4(6, TCP))[:40], 9014),                      # snapped jumbo: wire length counts
    (T, 240_000, eth(0x0800, ipv4(17, UDP))[:20], 60),                       # cut inside IPv4: proto is stale (TCP)
    (T, 250_000, eth(0x86DD, ipv6(17, UDP))[:8], 62),                        # cut inside MACs: type stale (0x0800)
    (T, 260_000, b'', 0),                                                    # empty frame: size wraps to 2^32 - 14
    (T, 270_000, eth(0x0800, ipv4(17, UDP)), 10),                            # wire length below 14
    (T + 1, 100_000, eth(0x0800, ipv4(17, UDP)), None),                      # exactly one second after the first
    (T, 900_000, eth(0x0800, ipv4(6, TCP)), None),                           # out of order: joins the current interval
    (T + 1, 100_001, eth(0x0800, ipv4(1, ICMP)), None),                      # just past a 1 s boundary
    (T + 1, 1_000_000, eth(0x86DD, ipv6(58, ICMP6)), None),                  # microseconds out of range
    (T + 5, 0xFFFFFFFF, eth(0x0800, ipv4(17, UDP)), None),                   # microseconds -1
    (T + 5, 300_000, eth(0x0806, ARP), None),                                # after a 3.4 s gap
    (T + 5, 300_000, eth(0x0800, ipv4(6, TCP, total=1500)) + bytes(1446), None),
    (T + 5, 450_000, eth(0x86DD, ipv6(17, UDP + bytes(900))), None),
    (T + 9, 50_000, eth(0x0800, ipv4(6, TCP)), None),                        # partial last interval
]
pcap('synthetic-en10mb.pcap', 1, en)

# Nanosecond file: libpcap truncates to microseconds, toward zero for negative fields.
nano = [
    (T, 999_999_999, eth(0x0800, ipv4(6, TCP)), None),
    (T + 1, 500, eth(0x0800, ipv4(17, UDP)), None),
    (T + 1, 250_000_999, eth(0x86DD, ipv6(58, ICMP6)), None),
    (T + 1, 0xFFFFF000, eth(0x0800, ipv4(1, ICMP)), None),                   # -4096 ns
    (T + 2, 750_000_001, eth(0x0806, ARP), None),
]
pcap('synthetic-nano.pcap', 1, nano, nano=True)

# DLT_NULL: tcpstat reads the family in host order and knows only 2 and 10.
null = [
    (T, 0, struct.pack('<I', 2) + ipv4(6, TCP), None),
    (T, 10_000, struct.pack('<I', 10) + ipv6(17, UDP), None),
    (T, 20_000, struct.pack('<I', 24) + ipv6(58, ICMP6), None),
    (T, 30_000, struct.pack('<I', 30) + ipv6(6, TCP), None),
    (T, 40_000, struct.pack('>I', 2) + ipv4(1, ICMP), None),
    (T, 600_000, struct.pack('<I', 2) + ipv4(17, UDP), None),
    (T + 2, 100_000, struct.pack('<I', 2)[:3], 60),                          # cut in the family: stale 2
]
pcap('synthetic-null.pcap', 0, null)

# DLT_PPP: 4-byte header, 0x0021 IPv4, 0x0057 IPv6.
def ppp(proto, payload):
    return struct.pack('!BBH', 0xFF, 0x03, proto) + payload

pppr = [
    (T, 0, ppp(0x0021, ipv4(6, TCP)), None),
    (T, 300_000, ppp(0x0057, ipv6(17, UDP)), None),
    (T, 600_000, ppp(0xC021, bytes([1, 1, 0, 4])), None),                   # LCP
    (T + 1, 0, ppp(0x0021, ipv4(1, ICMP)), None),
    (T + 1, 700_000, ppp(0x0021, ipv4(17, UDP))[:2], 48),                    # wire 48, 2 bytes captured
]
pcap('synthetic-ppp.pcap', 9, pppr)

# LINKTYPE_RAW: tcpstat counts the whole length and no protocol column.
raw = [
    (T, 0, ipv4(6, TCP), None),
    (T, 200_000, ipv6(17, UDP), None),
    (T, 400_000, ipv4(1, ICMP), None),
    (T + 3, 0, ipv6(58, ICMP6), None),
]
pcap('synthetic-raw.pcap', 101, raw)

# Every packet at timestamp 0: tcpstat restarts its counters while the interval start is 0.0.
epoch = [
    (0, 0, eth(0x0800, ipv4(6, TCP)), None),
    (0, 0, eth(0x0800, ipv4(17, UDP)), None),
    (0, 500_000, eth(0x0800, ipv4(1, ICMP)), None),
    (2, 0, eth(0x0806, ARP), None),
]
pcap('synthetic-epoch.pcap', 1, epoch)

# A header and no packets.
pcap('synthetic-empty.pcap', 1, [])

# lo-mixed.pcap (captured with `tcpdump -i lo -w`) rewritten as pcapng with
# nanosecond timestamps, 777 ns past each microsecond: libpcap truncates them.
def pcapng_from(src, dst):
    data = open(src, 'rb').read()
    snaplen, linktype = struct.unpack('<II', data[16:24])
    out = bytearray()
    def block(kind, body):
        body += bytes(-len(body) % 4)
        n = 12 + len(body)
        out.extend(struct.pack('<II', kind, n) + body + struct.pack('<I', n))
    block(0x0A0D0D0A, struct.pack('<IHHq', 0x1A2B3C4D, 1, 0, -1))
    block(1, struct.pack('<HHI', linktype, 0, snaplen) + struct.pack('<HHB3x', 9, 1, 9) + struct.pack('<HH', 0, 0))
    o = 24
    while o < len(data):
        sec, usec, cap, wire = struct.unpack('<IIII', data[o:o + 16])
        frame = data[o + 16:o + 16 + cap]
        o += 16 + cap
        ns = sec * 1_000_000_000 + usec * 1000 + 777
        block(6, struct.pack('<IIIII', 0, ns >> 32, ns & 0xFFFFFFFF, cap, wire) + frame)
    open(dst, 'wb').write(out)

pcapng_from('lo-mixed.pcap', 'lo-mixed.pcapng')
