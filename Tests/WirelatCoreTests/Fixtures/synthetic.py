#!/usr/bin/env python3
"""Writes the synthetic-*.pcap fixtures: hand-built frames for the edge cases real
traffic rarely shows (every TCP option, truncation at every offset, odd link
types, out-of-range timestamps). The expected .txt files are tcpdump's output:

    for f in synthetic-*.pcap; do TZ=UTC tcpdump -n -r $f > ${f%.pcap}.txt; done

(plus the -t/-tt/-ttt/-tttt/-ttttt/--nano variants named NAME.VARIANT.txt).
Run from this folder: python3 synthetic.py
"""
import struct, socket

def csum(b):
    if len(b) % 2: b += b'\0'
    s = sum(struct.unpack('!%dH' % (len(b)//2), b))
    while s >> 16: s = (s & 0xffff) + (s >> 16)
    return (~s) & 0xffff

def ip4(src, dst, proto, payload, ident=1, flags_off=0x4000, ttl=64, opts=b'', tos=0, total=None, hl=None):
    ihl = (20 + len(opts)) // 4 if hl is None else hl
    tl = 20 + len(opts) + len(payload) if total is None else total
    h = struct.pack('!BBHHHBBH4s4s', 0x40 | ihl, tos, tl, ident, flags_off, ttl, proto, 0,
                    socket.inet_aton(src), socket.inet_aton(dst)) + opts
    c = csum(h)
    h = h[:10] + struct.pack('!H', c) + h[12:]
    return h + payload

def ip6(src, dst, nh, payload, hlim=64, flow=0, plen=None):
    pl = len(payload) if plen is None else plen
    return struct.pack('!IHBB16s16s', (6 << 28) | flow, pl, nh, hlim,
                       socket.inet_pton(socket.AF_INET6, src), socket.inet_pton(socket.AF_INET6, dst)) + payload

def tcp(sport, dport, seq, ack, flags, win=502, opts=b'', data=b'', urg=0, off=None):
    o = opts
    while len(o) % 4: o += b'\0'
    doff = (20 + len(o)) // 4 if off is None else off
    return struct.pack('!HHIIBBHHH', sport, dport, seq, ack, doff << 4 | (flags >> 8), flags & 0xff, win, 0, urg) + o + data

def udp(sport, dport, data=b'', ulen=None):
    return struct.pack('!HHHH', sport, dport, 8 + len(data) if ulen is None else ulen, 0) + data

def icmp(t, code, rest=b'\0\0\0\0', data=b''):
    h = struct.pack('!BBH', t, code, 0) + rest + data
    c = csum(h)
    return h[:2] + struct.pack('!H', c) + h[4:]

def echo(t, ident, seq, data=b'x' * 56):
    return icmp(t, 0, struct.pack('!HH', ident, seq), data)

def eth(payload, etype=0x0800, src=b'\x02\0\0\0\0\x01', dst=b'\x02\0\0\0\0\x02', vlans=()):
    h = dst + src
    for tpid, tci in vlans:
        h += struct.pack('!HH', tpid, tci)
    return h + struct.pack('!H', etype) + payload

def pcap(path, pkts, linktype=1, nano=False, big=False, snaplen=262144):
    e = '>' if big else '<'
    magic = 0xa1b23c4d if nano else 0xa1b2c3d4
    with open(path, 'wb') as f:
        f.write(struct.pack(e + 'IHHiIII', magic, 2, 4, 0, 0, snaplen, linktype))
        for p in pkts:
            if len(p) == 3:
                ts, data, orig = p
            else:
                ts, data = p
                orig = len(data)
            if isinstance(ts, tuple):
                sec, frac = ts
            else:
                sec = int(ts)
                frac = round((ts - sec) * (1e9 if nano else 1e6))
            f.write(struct.pack(e + 'IIII', sec, frac, len(data), orig) + data)

T0 = 1700000000
def tss(n, step=0.001):
    return [(T0, int(i * step * 1e6)) for i in range(n)]

def tcp_options():
    P=[]
    A,B='10.0.0.1','10.0.0.2'
    def add(p): P.append(((T0, len(P)), eth(p)))
    mss=b'\x02\x04\x05\xb4'; sok=b'\x04\x02'; ts=lambda v,e: b'\x08\x0a'+struct.pack('!II',v,e); nop=b'\x01'; ws=lambda n: b'\x03\x03'+bytes([n])
    add(ip4(A,B,6,tcp(51332,7001,1000,0,0x002,64240,mss+sok+ts(1,0)+nop+ws(7))))
    add(ip4(B,A,6,tcp(7001,51332,5000,1001,0x012,65160,mss+sok+ts(2,1)+nop+ws(7))))
    add(ip4(A,B,6,tcp(51332,7001,1001,5001,0x010,502,nop+nop+ts(3,2))))
    add(ip4(A,B,6,tcp(51332,7001,1001,5001,0x018,502,nop+nop+ts(3,2),b'hello world!')))
    add(ip4(B,A,6,tcp(7001,51332,5001,1013,0x018,502,nop+nop+ts(4,3),b'ok!!')))
    # sack
    add(ip4(A,B,6,tcp(51332,7001,1013,5005,0x010,502,nop+nop+b'\x05\x12'+struct.pack('!IIII',5010,5020,5030,5040))))
    # unknown option, eol
    add(ip4(A,B,6,tcp(51332,7001,1013,5005,0x010,502,b'\x99\x04\xab\xcd'+b'\x00')))
    # all flags
    add(ip4(A,B,6,tcp(51332,7001,1013,5005,0x0ff,502,b'',urg=7)))
    add(ip4(A,B,6,tcp(51332,7001,1013,5005,0x0c2,502)))
    add(ip4(A,B,6,tcp(51332,7001,1013,5005,0x000,502)))
    add(ip4(A,B,6,tcp(51332,7001,1013,5005,0x100,502)))
    add(ip4(A,B,6,tcp(51332,7001,1013,5005,0x004,0)))
    add(ip4(A,B,6,tcp(51332,7001,1013,5005,0x014,0)))
    add(ip4(A,B,6,tcp(51332,7001,1013,5005,0x011,0)))
    # options: md5(19), uto(28), tfo(34), exp
    add(ip4(A,B,6,tcp(51332,7001,1013,5005,0x010,502,b'\x1c\x04\x80\x05'+b'\x22\x02'+b'\x22\x0a'+bytes(range(8)))))
    add(ip4(A,B,6,tcp(51332,7001,1013,5005,0x010,502,b'\xfe\x06\xf9\x89\x01\x02'+b'\x13\x12'+bytes(16))))
    add(ip4(A,B,6,tcp(51332,7001,1013,5005,0x010,502,b'\x06\x06\x00\x00\x00\x01'+b'\x07\x06\x00\x00\x00\x02'+b'\x0b\x06\0\0\0\3'+b'\x0c\x06\0\0\0\4'+b'\x0d\x06\0\0\0\5')))
    add(ip4(A,B,6,tcp(51332,7001,1013,5005,0x010,502,b'\x02\x05\x05\xb4\x00'+b'\x03\x02')))
    add(ip4(A,B,6,tcp(51332,7001,1013,5005,0x010,502,b'\x02\x01')))
    add(ip4(A,B,6,tcp(51332,7001,1013,5005,0x010,502,b'\x05\x0b'+bytes(9))))
    add(ip4(A,B,6,tcp(51332,7001,1013,5005,0x010,502,b'\x14\x04\x01\x02\x1d\x05\x01\x02\x03')))
    add(ip4(A,B,6,tcp(51332,7001,1013,5005,0x010,502,b'\x04\x03\x00'+b'\x02\x04\x05\xb4'+b'\x01\x02\x03')))
    pcap('t1.pcap',P)


def tcp_truncated():
    A,B='10.0.0.1','10.0.0.2'
    mss=b'\x02\x04\x05\xb4'; sok=b'\x04\x02'; ts=lambda v,e: b'\x08\x0a'+struct.pack('!II',v,e); nop=b'\x01'; ws=lambda n: b'\x03\x03'+bytes([n])
    full=eth(ip4(A,B,6,tcp(51332,7001,1000,77,0x018,64240,mss+sok+ts(1,0)+nop+ws(7)+b'\x05\x0a'+struct.pack('!II',1,2), b'abcdefgh')))
    P=[]
    for n in range(0,len(full)+1):
        P.append(((T0,n), full[:n], len(full)))
    pcap('t2.pcap',P)


def ip_edge_3():
    A,B='10.0.0.1','10.0.0.2'
    P=[]
    def add(p, etype=0x0800, cap=None, vl=()):
        f=eth(p,etype,vlans=vl)
        P.append(((T0,len(P)), f if cap is None else f[:cap], len(f)))
    add(ip4(A,B,17,udp(40000,5000,b'abcd')))
    add(ip4(A,B,17,udp(40000,5000,b'abcd',ulen=100)))
    add(ip4(A,B,17,udp(40000,5000,b'abcd',ulen=4)))
    add(ip4(A,B,17,udp(40000,5000,b'abcd',ulen=10)))
    add(ip4(A,B,17,udp(40000,5000,b'abcd'*100)), cap=60)
    add(ip4(A,B,17,udp(40000,5000,b'abcd')), cap=38)
    add(ip4(A,B,17,udp(40000,5000,b'abcd')), cap=40)
    add(ip4(A,B,17,udp(40000,5000,b'abcd')), cap=44)
    # fragments
    add(ip4(A,B,17,udp(40000,5000,b'abcd'*10),flags_off=0x2000))
    add(ip4(A,B,17,b'z'*24,flags_off=0x0005))
    add(ip4(A,B,6,b'z'*24,flags_off=0x2005))
    add(ip4(A,B,1,b'z'*24,flags_off=0x0005))
    add(ip4(A,B,6,tcp(1,2,3,4,0x10),flags_off=0x2000))
    add(ip4(A,B,1,echo(8,1,1),flags_off=0x2000))
    # options
    add(ip4(A,B,17,udp(40000,5000,b'abcd'),opts=b'\x94\x04\x00\x00'))
    add(ip4(A,B,17,udp(40000,5000,b'abcd'),opts=b'\x01\x01\x01\x00'))
    # icmp
    add(ip4(A,B,1,echo(8,3,1)))
    add(ip4(B,A,1,echo(0,3,1)))
    inner=ip4(B,A,17,udp(40000,5000,b'abcd'))
    add(ip4(A,B,1,icmp(3,3,data=inner[:28])))
    add(ip4(A,B,1,icmp(3,1,data=inner[:28])))
    add(ip4(A,B,1,icmp(3,4,rest=b'\0\0\x05\xdc',data=inner[:28])))
    add(ip4(A,B,1,icmp(11,0,data=inner[:28])))
    add(ip4(A,B,1,icmp(11,1,data=inner[:28])))
    add(ip4(A,B,1,icmp(5,1,rest=socket.inet_aton('10.9.9.9'),data=inner[:28])))
    add(ip4(A,B,1,icmp(13,0,rest=b'\0\1\0\2',data=b'\0'*12)))
    add(ip4(A,B,1,icmp(14,0,rest=b'\0\1\0\2',data=struct.pack('!III',1000,2000,3000))))
    add(ip4(A,B,1,icmp(12,0,rest=b'\x05\0\0\0',data=inner[:28])))
    add(ip4(A,B,1,icmp(42,0)))
    add(ip4(A,B,1,icmp(4,0,data=inner[:28])))
    add(ip4(A,B,1,icmp(10,0)))
    add(ip4(A,B,1,echo(8,3,1)),cap=14+20+3)
    add(ip4(A,B,1,echo(8,3,1)),cap=14+20+7)
    add(ip4(A,B,1,echo(8,3,1)),cap=14+20+8)
    add(ip4(A,B,1,icmp(3,3,data=inner[:28])),cap=14+20+8+19)
    add(ip4(A,B,1,icmp(3,3,data=inner[:28])),cap=14+20+8+23)
    add(ip4(A,B,47,b'z'*10))
    add(ip4(A,B,253,b'z'*10))
    add(ip4(A,B,2,b'z'*10))
    add(ip4(A,B,17,udp(40000,5000,b'abcd'),total=10))
    add(ip4(A,B,17,udp(40000,5000,b'abcd'),total=200))
    add(ip4(A,B,17,udp(40000,5000,b'abcd'),hl=4))
    add(b'\x55'+ip4(A,B,17,udp(40000,5000,b'abcd'))[1:])
    add(b'\x65'+ip4(A,B,17,udp(40000,5000,b'abcd'))[1:])
    add(ip4(A,B,17,udp(40000,5000,b'abcd')),vl=[(0x8100,5)])
    add(ip4(A,B,17,udp(40000,5000,b'abcd')),vl=[(0x88a8,5),(0x8100,7)])
    add(ip4(A,B,17,udp(40000,5000,b'abcd')),vl=[(0x88a8,5),(0x8100,7)],cap=16)
    add(ip4(A,B,17,udp(40000,5000,b'abcd')),vl=[(0x88a8,5),(0x8100,7)],cap=19)
    add(ip4(A,B,17,udp(40000,5000,b'abcd')),vl=[(0x88a8,5),(0x8100,7)],cap=20)
    add(b'hello', etype=0x1234)
    add(b'hello'*20, etype=0x0060)
    add(ip4(A,B,17,udp(40000,5000,b'abcd'),tos=3,ttl=1))
    pcap('t3.pcap',P)


def ip_edge_4():
    A,B='fd00::1','fd00::2'
    P=[]
    def add(p, etype=0x86dd, cap=None):
        f=eth(p,etype)
        P.append(((T0,len(P)), f if cap is None else f[:cap], len(f)))
    def ext(nh, body):  # generic ext hdr (hbh/dst/routing) body len multiple of 8 - 2
        l = (len(body)+2)//8 - 1
        return bytes([nh, l]) + body
    mss=b'\x02\x04\x05\xa0'; sok=b'\x04\x02'; ts=lambda v,e: b'\x08\x0a'+struct.pack('!II',v,e); nop=b'\x01'; ws=lambda n: b'\x03\x03'+bytes([n])
    add(ip6(A,B,6,tcp(1234,80,123,0,0x002,64800,mss+sok+ts(1,0)+nop+ws(7))))
    add(ip6(B,A,6,tcp(80,1234,999,124,0x012,64800,mss+sok+ts(1,0)+nop+ws(7))))
    add(ip6(A,B,6,tcp(1234,80,124,1000,0x018,500,data=b'GET')))
    add(ip6(A,B,17,udp(1000,2000,b'abcd')))
    add(ip6(A,B,0,ext(17,b'\x01\x04\0\0\0\0')+udp(1000,2000,b'abcd')))
    add(ip6(A,B,60,ext(6,b'\x01\x04\0\0\0\0')+tcp(1234,80,124,1000,0x010,500)))
    add(ip6(A,B,0,ext(60,b'\x01\x04\0\0\0\0')+ext(58,b'\x01\x04\0\0\0\0')+echo(128,1,1)))
    add(ip6(A,B,43,bytes([17,2,0,1,0,0,0,0])+socket.inet_pton(socket.AF_INET6,'fd00::9')+udp(1000,2000,b'abcd')))
    add(ip6(A,B,44,bytes([17,0,0,0x01,0,0,0,7])+udp(1000,2000,b'abcd')))
    add(ip6(A,B,44,bytes([17,0,0,0x08,0,0,0,7])+b'z'*12))
    add(ip6(A,B,44,bytes([6,0,0,0x01,0,0,0,7])+tcp(1234,80,124,1000,0x010,500)))
    add(ip6(A,B,58,echo(128,1,1)))
    add(ip6(B,A,58,echo(129,1,1)))
    add(ip6(A,B,58,icmp(135,0,b'\0\0\0\0',socket.inet_pton(socket.AF_INET6,'fd00::2')+b'\x01\x01\x02\0\0\0\0\1')))
    add(ip6(A,B,58,icmp(136,0,b'\x60\0\0\0',socket.inet_pton(socket.AF_INET6,'fd00::2')+b'\x02\x01\x02\0\0\0\0\1')))
    add(ip6(A,B,58,icmp(133,0,b'\0\0\0\0')))
    add(ip6(A,B,58,icmp(134,0,b'\x40\0\x07\x08',b'\0'*8)))
    inner=ip6(B,A,17,udp(1000,2000,b'abcd'))
    add(ip6(A,B,58,icmp(1,4,b'\0\0\0\0',inner)))
    add(ip6(A,B,58,icmp(1,0,b'\0\0\0\0',inner)))
    add(ip6(A,B,58,icmp(1,3,b'\0\0\0\0',inner)))
    add(ip6(A,B,58,icmp(2,0,b'\0\0\x05\xdc',inner)))
    add(ip6(A,B,58,icmp(3,0,b'\0\0\0\0',inner)))
    add(ip6(A,B,58,icmp(3,1,b'\0\0\0\0',inner)))
    add(ip6(A,B,58,icmp(4,0,b'\0\0\0\x08',inner)))
    add(ip6(A,B,58,icmp(200,0,b'\0\0\0\0')))
    add(ip6(A,B,58,icmp(143,0,b'\0\0\0\0')))
    add(ip6(A,B,58,echo(128,1,1)),cap=14+40+3)
    add(ip6(A,B,58,echo(128,1,1)),cap=14+40+6)
    add(ip6(A,B,58,echo(128,1,1)),cap=14+40+7)
    add(ip6(A,B,58,echo(128,1,1)),cap=14+40+8)
    add(ip6(A,B,58,echo(128,1,1)),cap=14+39)
    add(ip6(A,B,58,echo(128,1,1)),cap=14+40)
    add(ip6(A,B,59,b''))
    add(ip6(A,B,17,udp(1000,2000,b'abcd'),flow=0x12345,hlim=1))
    add(ip6(A,B,17,udp(1000,2000,b'abcd'),plen=100))
    add(ip6(A,B,17,udp(1000,2000,b'abcd'),plen=0))
    add(ip6(A,B,1,echo(8,1,1)))
    add(ip6('::1','::1',17,udp(1000,2000,b'abcd')))
    add(ip6('fe80::1:0:0:1','2001:db8:0:0:1::1',17,udp(1000,2000,b'abcd')))
    add(ip6('::ffff:1.2.3.4','::1.2.3.4',17,udp(1000,2000,b'abcd')))
    add(ip6('1:0:0:1:0:0:0:1','1:0:1:0:1:0:1:0',17,udp(1000,2000,b'abcd')))
    add(b'\x45'+ip6(A,B,17,udp(1000,2000,b'abcd'))[1:])
    add(ip6(A,B,0,ext(0,b'\x01\x04\0\0\0\0')+ext(17,b'\x01\x04\0\0\0\0')+udp(1000,2000,b'abcd')))
    add(ip6(A,B,0,ext(17,b'\x01\x04\0\0\0\0')+udp(1000,2000,b'abcd')),cap=14+40+5)
    add(ip6(A,B,44,bytes([17,0,0,0x01,0,0,0,7])+udp(1000,2000,b'abcd')),cap=14+40+5)
    add(ip6(A,B,44,bytes([17,0,0,0x01,0,0,0,7])+udp(1000,2000,b'abcd')),cap=14+40+8)
    add(ip6(A,B,43,bytes([17,2,0,1,0,0,0,0])+socket.inet_pton(socket.AF_INET6,'fd00::9')+udp(1000,2000,b'abcd')),cap=14+40+10)
    pcap('t4.pcap',P)


def arp():
    A,B='10.0.0.1','10.0.0.2'
    M1=b'\x02\0\0\0\0\x01'; M2=b'\x02\0\0\0\0\x02'
    def arp(op, sha, spa, tha, tpa, htype=1, ptype=0x0800, hl=6, pl=4):
        return struct.pack('!HHBBH',htype,ptype,hl,pl,op)+sha+socket.inet_aton(spa)+tha+socket.inet_aton(tpa)
    P=[]
    def add(f, cap=None):
        P.append(((T0,len(P)), f if cap is None else f[:cap], len(f)))
    add(eth(arp(1,M1,A,b'\0'*6,B),0x0806))
    add(eth(arp(2,M2,B,M1,A),0x0806))
    add(eth(arp(1,M1,A,b'\0'*6,A),0x0806))
    add(eth(arp(3,M1,A,M1,A),0x8035))
    add(eth(arp(4,M1,A,M1,A),0x8035))
    add(eth(arp(8,M1,A,M1,A),0x0806))
    add(eth(arp(9,M1,A,M1,A),0x0806))
    add(eth(arp(10,M1,A,M1,A),0x0806))
    add(eth(arp(1,M1,A,b'\0'*6,B)+b'\0'*18,0x0806))
    add(eth(arp(1,M1,A,b'\0'*6,B),0x0806),cap=14+10)
    add(eth(arp(1,M1,A,b'\0'*6,B),0x0806),cap=14+20)
    add(eth(arp(1,M1,A,b'\0'*6,B),0x0806),cap=14+27)
    add(eth(arp(1,M1,A,b'\x11'*6,B),0x0806))
    add(eth(arp(2,M2,B,M1,A,ptype=0x86dd),0x0806))
    add(eth(arp(2,M2,B,M1,A,htype=6),0x0806))
    add(eth(arp(1,M1,A,b'\0'*6,B,htype=6),0x0806))
    pcap('t5.pcap',P)


def links():
    A,B='10.0.0.1','10.0.0.2'
    u4=ip4(A,B,17,udp(40000,5000,b'abcd')); u6=ip6('fd00::1','fd00::2',17,udp(1000,2000,b'abcd'))
    def sll(p, proto, pkttype=0, hatype=1, addr=b'\x02\0\0\0\0\x01'):
        return struct.pack('!HHH', pkttype, hatype, len(addr)) + (addr+b'\0'*8)[:8] + struct.pack('!H', proto) + p
    def sll2(p, proto, ifindex=1, pkttype=0, hatype=1, addr=b'\x02\0\0\0\0\x01'):
        return struct.pack('!HHIHBB', proto, 0, ifindex, hatype, pkttype, len(addr)) + (addr+b'\0'*8)[:8] + p
    for name, lt, pk in [
      ('sll', 113, [sll(u4,0x0800), sll(u6,0x86dd), sll(u4,0x0800,pkttype=4), sll(b'\x00\x01\x08\x00\x06\x04\x00\x01'+b'\x02'*6+socket.inet_aton(A)+b'\0'*6+socket.inet_aton(B),0x0806), sll(u4,0x0800)[:10], sll(u4,0x0800)[:16], sll(b'xx', 0x1234), sll(b'\x81\x00\x00\x05\x08\x00'+u4, 0x8100), sll(u4, 0x0800, hatype=772, addr=b'')]),
      ('sll2', 276, [sll2(u4,0x0800), sll2(u6,0x86dd,ifindex=7), sll2(u4,0x0800)[:10], sll2(u4,0x0800)[:20], sll2(b'xx', 0x1234), sll2(u4,0x0800,pkttype=4)]),
      ('null', 0, [struct.pack('<I',2)+u4, struct.pack('>I',2)+u4, struct.pack('<I',10)+u6, struct.pack('<I',24)+u6, struct.pack('<I',28)+u6, struct.pack('<I',30)+u6, struct.pack('<I',23)+u6, struct.pack('<I',99)+u6, b'\x02\0', struct.pack('<I',2)]),
      ('loop', 108, [struct.pack('>I',2)+u4, struct.pack('<I',2)+u4, struct.pack('>I',24)+u6, struct.pack('>I',10)+u6, struct.pack('>I',99)+u6,b'\0\0']),
      ('raw101', 101, [u4, u6, b'\x75'+u4[1:], u4[:10], b'']),
      ('raw12', 12, [u4, u6]),
      ('ipv4', 228, [u4, u6, u4[:10]]),
      ('ipv6', 229, [u6, u4, u6[:10]]),
      ('raw14', 14, [u4, u6]),
      ]:
        pcap('lt_%s.pcap'%name, [((T0,i), p) for i,p in enumerate(pk)], linktype=lt)


def ip_edge_7():
    A,B='10.0.0.1','10.0.0.2'
    P=[]
    def add(p, etype=0x0800, cap=None):
        f=eth(p,etype)
        P.append(((T0,len(P)), f if cap is None else f[:cap], len(f)))
    inner=ip4(B,A,17,udp(40000,5000,b'abcd'))
    add(ip4(A,B,1,icmp(9,0,b'\x02\x02\x07\x08',socket.inet_aton('10.1.1.1')+b'\0\0\0\x05'+socket.inet_aton('10.1.1.2')+b'\0\0\0\x06')))
    add(ip4(A,B,1,icmp(9,0,b'\x01\x03\x00\x30',b'\0'*12)))
    add(ip4(A,B,1,icmp(9,0,b'\x01\x02\x0e\x11',b'\0'*4)))
    add(ip4(A,B,1,icmp(5,7,rest=socket.inet_aton('10.9.9.9'),data=inner[:28])))
    for c in [0,2,5,6,7,8,9,10,11,12,13,14,15,16]:
        add(ip4(A,B,1,icmp(3,c,data=inner[:28])))
    add(ip4(A,B,1,icmp(3,4,rest=b'\0\0\0\0',data=inner[:28])))
    add(ip4(A,B,1,icmp(3,3,data=ip4(B,A,6,tcp(40000,5001,1,1,2))[:28])))
    add(ip4(A,B,1,icmp(3,3,data=ip4(B,A,47,tcp(40000,5001,1,1,2))[:28])))
    add(ip4(A,B,1,icmp(11,5,data=inner[:28])))
    add(ip4(A,B,1,icmp(12,1,rest=b'\x05\0\0\0',data=inner[:28])))
    add(ip4(A,B,1,icmp(18,0,rest=b'\0\1\0\2',data=b'\xff\xff\xff\0')))
    for t in [15,16,17,6,1,2]:
        add(ip4(A,B,1,icmp(t,0)))
    add(ip4(A,B,1,icmp(3,3,data=inner[:28])),cap=14+20+8+20+3)
    add(ip4(A,B,1,icmp(3,3,data=inner[:28])),cap=14+20+8+20+4)
    add(ip4(A,B,1,icmp(3,3,data=inner[:28])),cap=14+20+8+19)
    add(ip4(A,B,1,icmp(5,1,rest=socket.inet_aton('10.9.9.9'),data=inner[:28])),cap=14+20+27)
    add(ip4(A,B,1,icmp(14,0,rest=b'\0\1\0\2',data=struct.pack('!III',1000,2000,3000))),cap=14+20+19)
    add(ip4(A,B,1,icmp(12,0,rest=b'\x05\0\0\0',data=inner[:28])),cap=14+20+4)
    add(ip4(A,B,1,icmp(12,0,rest=b'\x05\0\0\0',data=inner[:28])),cap=14+20+5)
    add(ip4(A,B,1,icmp(12,1,rest=b'\x05\0\0\0',data=inner[:28])),cap=14+20+2)
    add(ip4(A,B,1,icmp(3,3,data=inner[:28])),cap=14+20+1)
    add(ip4(A,B,1,icmp(3,3,data=inner[:28])),cap=14+20+2)
    add(ip4(A,B,1,icmp(4,0,data=inner[:28])),cap=14+20+2)
    add(ip4(A,B,58,icmp(4,0,data=inner[:28])))
    # icmp6
    A6,B6='fd00::1','fd00::2'
    in6=ip6(B6,A6,17,udp(1000,2000,b'abcd'))
    for c in range(0,9):
        add(ip6(A6,B6,58,icmp(1,c,b'\0\0\0\0',in6)),0x86dd)
    for c in range(0,6):
        add(ip6(A6,B6,58,icmp(4,c,b'\0\0\0\x08',in6)),0x86dd)
    add(ip6(A6,B6,58,icmp(3,2,b'\0\0\0\0',in6)),0x86dd)
    add(ip6(A6,B6,58,icmp(137,0,b'\0\0\0\0',socket.inet_pton(socket.AF_INET6,'fe80::1')+socket.inet_pton(socket.AF_INET6,'fd00::9'))),0x86dd)
    add(ip6(A6,B6,58,icmp(130,0,b'\x03\xe8\0\0',socket.inet_pton(socket.AF_INET6,'::'))),0x86dd)
    add(ip6(A6,B6,58,icmp(130,0,b'\x03\xe8\0\0',socket.inet_pton(socket.AF_INET6,'::')+b'\0'*4)),0x86dd)
    add(ip6(A6,B6,58,icmp(131,0,b'\0\0\0\0',socket.inet_pton(socket.AF_INET6,'ff02::1:ff00:2'))),0x86dd)
    add(ip6(A6,B6,58,icmp(132,0,b'\0\0\0\0',socket.inet_pton(socket.AF_INET6,'ff02::1:ff00:2'))),0x86dd)
    for t in [138,139,140,141,142,144,145,146,147,155,201,100,255]:
        add(ip6(A6,B6,58,icmp(t,0,b'\0\0\0\0',b'\0'*8)),0x86dd)
    add(ip6(A6,B6,58,b''),0x86dd)
    add(ip6(A6,B6,58,icmp(1,4,b'\0\0\0\0',ip6(B6,A6,0,bytes([6,0,1,4,0,0,0,0])+tcp(1,2,3,4,2)))),0x86dd)
    add(ip6(A6,B6,58,icmp(1,4,b'\0\0\0\0',ip6(B6,A6,47,b'x'*8))),0x86dd)
    add(ip6(A6,B6,58,icmp(1,4,b'\0\0\0\0',in6)),0x86dd, cap=14+40+8+40+3)
    add(ip6(A6,B6,58,icmp(1,0,b'\0\0\0\0',in6)),0x86dd, cap=14+40+8+39)
    add(ip6(A6,B6,58,icmp(2,0,b'\0\0\x05\xdc',in6)),0x86dd, cap=14+40+7)
    add(ip6(A6,B6,58,icmp(135,0,b'\0\0\0\0',b'\0'*16)),0x86dd, cap=14+40+8+15)
    add(ip6(A6,B6,58,icmp(4,0,b'\0\0\0\x08',in6)),0x86dd, cap=14+40+8+39)
    add(ip6(A6,B6,58,icmp(1,9,b'\0\0\0\0',in6)),0x86dd, cap=14+40+8+10)
    pcap('t7.pcap',P)


def timestamps():
    u = eth(ip4('10.0.0.1', '10.0.0.2', 17, udp(1, 2, b'ab')))
    pcap('ts.pcap', [((0, 5), u), ((2147483647, 999999), u), ((2147483648, 1), u), ((4294967295, 1000000), u), ((100, 0), u), ((50, 1), u), ((86400 * 3 + 5, 7), u)])
    pcap('tsn.pcap', [((1700000000, 123456789), u), ((1700000000, 999999999), u), ((1700000001, 1000000000), u), ((1700000000, 5), u)], nano=True)
    s = eth(ip4('10.0.0.1', '10.0.0.2', 6, tcp(1, 2, 3, 4, 0x10, 5, data=b'abc')))
    pcap('len.pcap', [((1, 0), s, len(s) - 5), ((1, 0), s, 300000), ((1, 0), s[:0], 0), ((1, 0), s)], snaplen=30)

def records(path):
    d = open(path, 'rb').read()
    o, out = 24, []
    while o < len(d):
        s, f, c, l = struct.unpack('<IIII', d[o:o + 16])
        out.append(d[o:o + 16 + c])
        o += 16 + c
    return d[:24], out

def keep(src, dst, drop, renumber=False, extra=()):
    hdr, pk = records(src)
    kept = [p for i, p in enumerate(pk) if i not in drop]
    with open(dst, 'wb') as f:
        f.write(hdr)
        for i, p in enumerate(kept):
            if renumber:
                s, fr, c, l = struct.unpack('<IIII', p[:16])
                p = struct.pack('<IIII', 1700000000, i * 1000, c, l) + p[16:]
            f.write(p)

if __name__ == '__main__':
    import os, shutil
    tcp_options(); tcp_truncated(); ip_edge_3(); ip_edge_4(); arp(); links(); ip_edge_7(); timestamps()
    # Packets whose protocols the printer does not mirror (GRE, IGMP, LLC, HTTP,
    # ICMPv6 router renumbering / node information / RPL) are left out.
    hdr, a = records('t3.pcap'); _, b = records('t4.pcap'); _, c = records('t7.pcap')
    kept = [p for i, p in enumerate(a) if i not in {35, 37, 49}] + [p for i, p in enumerate(b) if i != 2] \
        + [p for i, p in enumerate(c) if i not in {63, 64, 65, 72}]
    with open('synthetic-ip-edge-cases.pcap', 'wb') as f:
        f.write(hdr)
        for i, p in enumerate(kept):
            s, fr, cl, l = struct.unpack('<IIII', p[:16])
            f.write(struct.pack('<IIII', 1700000000, i * 1000, cl, l) + p[16:])
    keep('lt_null.pcap', 'synthetic-link-null.pcap', {6})
    keep('lt_sll.pcap', 'synthetic-link-sll.pcap', {7})
    for old, new in [('t1', 'tcp-options'), ('t2', 'tcp-truncated'), ('t5', 'arp'), ('ts', 'timestamps'),
                     ('tsn', 'timestamps-nano'), ('lt_loop', 'link-loop'), ('lt_raw101', 'link-raw'),
                     ('lt_ipv4', 'link-ipv4'), ('lt_ipv6', 'link-ipv6'), ('lt_sll2', 'link-sll2'), ('len', 'snaplen')]:
        shutil.move(old + '.pcap', 'synthetic-%s.pcap' % new)
    for f in ['t3', 't4', 't7', 'lt_null', 'lt_sll', 'lt_raw12', 'lt_raw14']:
        os.remove(f + '.pcap')
