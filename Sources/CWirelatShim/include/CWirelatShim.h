#ifndef CWIRELAT_SHIM_H
#define CWIRELAT_SHIM_H

#include <errno.h>
#include <stdint.h>
#include <stddef.h>
#include <signal.h>
#include <time.h>
#include <unistd.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <sys/timerfd.h>
#include <sys/socket.h>
#include <sys/uio.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <linux/net_tstamp.h>
#include <linux/errqueue.h>

/* accept4(2): Glibc's Swift module hides it behind _GNU_SOURCE. */
int wl_accept4(int fd, struct sockaddr *addr, socklen_t *len, int flags);

/* pipe2(2) with O_CLOEXEC: both ends close-on-exec from the start, so no other
   thread's fork and exec can inherit them. Glibc's Swift module hides pipe2. */
int wl_pipe2_cloexec(int fds[2]);

/* posix_spawn_file_actions_addclosefrom_np (glibc 2.34): the child closes every
   descriptor from `from` up before it executes. Glibc's Swift module hides it. */
#include <spawn.h>
int wl_spawn_close_from(posix_spawn_file_actions_t *actions, int from);

/* SO_ATTACH_FILTER with a classic BPF program of `count` instructions, each laid out
   as struct sock_filter (code, jt, jf, k). */
struct wl_bpf_instruction { uint16_t code; uint8_t jt; uint8_t jf; uint32_t k; };
int wl_attach_filter(int fd, const struct wl_bpf_instruction *program, unsigned short count);

/* errno as a function, so Swift reads it at once after the call. */
static inline int wl_errno(void) { return errno; }

/* The epoll(7), eventfd(2) and timerfd(2) calls, re-exported. */
int wl_epoll_create(void);
int wl_epoll_ctl(int epfd, int op, int fd, uint32_t events, uint64_t data);
/* Fills parallel arrays so Swift never touches the packed epoll_event. */
int wl_epoll_wait(int epfd, uint32_t *events, uint64_t *data, int max, int timeout_ms);
int wl_timerfd_create(void);
int wl_timerfd_settime_ns(int fd, int64_t initial_ns, int64_t interval_ns);
int wl_eventfd(void);
/* Installs SIGINT and SIGTERM handlers that write to an eventfd, which is
   returned, so an event loop ends in order whatever thread took the signal.
   A second signal, a second or more after the first, ends the process at
   once with the usual status (see wl_stop_signal_tolerate). */
int wl_stop_signal_fd(void);
/* How many stop signals, each a second or more after the one before, are
   handed to the eventfd before the next one ends the process: 1 by default.
   The client takes 2, so a second Ctrl-C cuts its wait short and a third kills. */
void wl_stop_signal_tolerate(int count);
/* The last stop signal taken, 0 if none. */
int wl_last_signal(void);

/* Constants that arrive in Swift as awkward types or not at all. */
static const uint32_t WL_EPOLLIN = EPOLLIN;
static const uint32_t WL_EPOLLOUT = EPOLLOUT;
static const uint32_t WL_EPOLLERR = EPOLLERR;
static const uint32_t WL_EPOLLHUP = EPOLLHUP;
static const uint32_t WL_EPOLLRDHUP = EPOLLRDHUP;

/* SO_TIMESTAMPING, Documentation/networking/timestamping.rst */
static const int WL_SO_TIMESTAMPING = SO_TIMESTAMPING;
static const uint32_t WL_TSFLAGS_SOFTWARE = SOF_TIMESTAMPING_SOFTWARE
    | SOF_TIMESTAMPING_RX_SOFTWARE | SOF_TIMESTAMPING_TX_SOFTWARE
    | SOF_TIMESTAMPING_OPT_ID | SOF_TIMESTAMPING_OPT_TSONLY
    | SOF_TIMESTAMPING_OPT_TX_SWHW;

/* Timestamps found in a recvmsg(2) control buffer. 0 where absent. */
typedef struct {
    int64_t software_ns;     /* SCM_TIMESTAMPING ts[0] */
    uint32_t tx_id;          /* SO_EE_OFORIGIN_TIMESTAMPING ee_data (OPT_ID counter) */
    int has_tx_id;
} wl_timestamps;

/* Walks a control buffer with CMSG_FIRSTHDR / CMSG_NXTHDR. */
void wl_parse_timestamps(const void *control, size_t control_len, wl_timestamps *out);

/* recvmsg with one iovec and a control buffer; returns bytes or -1. Sets *control_len. */
ssize_t wl_recvmsg(int fd, void *buf, size_t len, void *control, size_t *control_len, int flags);

/* ---- wirelat lab: network namespaces, TUN devices, timer slack ----
   setns(2), CLONE_NEWNET and prctl(2) need _GNU_SOURCE or are variadic, and
   TUNSETIFF is an ioctl(2) on /dev/net/tun (Documentation/networking/tuntap.rst). */

/* setns(fd, CLONE_NEWNET) for the calling thread; -1 and errno on failure. */
int wl_setns_net(int fd);
/* TUNSETIFF with IFF_TUN | IFF_NO_PI on an open /dev/net/tun descriptor, creating
   (or attaching to) the device `name` in the network namespace the descriptor was
   opened in. Writes the kernel's name for it into `actual` (IFNAMSIZ bytes). */
int wl_tun_attach(int fd, const char *name, char *actual, size_t actual_len);
/* prctl(PR_SET_TIMERSLACK, ns) for the calling thread. */
int wl_set_timerslack_ns(unsigned long ns);
/* IFNAMSIZ, including the terminating NUL. */
static const int WL_IFNAMSIZ = 16;

/* ---- wirelat probe / compare: raw and ping sockets ----
   recvmsg(2) with the source address and the control messages a probe needs:
   SO_TIMESTAMPING (Documentation/networking/timestamping.rst), IP_TTL /
   IPV6_HOPLIMIT (ip(7), ipv6(7)) and the timestamping IP_RECVERR / IPV6_RECVERR;
   ppoll(2) with a nanosecond timeout; ICMP_FILTER (raw(7)) and ICMP6_FILTER
   (RFC 3542 §3.2). */
#include <poll.h>

/* socket(2) for a probe, non-blocking and close-on-exec: SOCK_RAW when `raw` is
   non-zero, SOCK_DGRAM otherwise (a ping socket with IPPROTO_ICMP/ICMPV6, or UDP).
   In C because with Swift 6.3, naming SOCK_RAW or SOCK_DGRAM in a WirelatIO file
   that also imports WirelatCore hides SOCK_STREAM from WirelatIO's other files. */
int wl_probe_socket(int family, int raw, int protocol);

/* What one recvmsg on a probe socket carried besides the bytes. */
typedef struct {
    int64_t software_ns;    /* SCM_TIMESTAMPING ts[0], CLOCK_REALTIME; 0 if absent */
    int32_t hop_limit;      /* IP_TTL or IPV6_HOPLIMIT; -1 if absent */
    int32_t has_tx_id;      /* 1 when a timestamping sock_extended_err came with it */
    uint32_t tx_id;         /* its ee_data (the SOF_TIMESTAMPING_OPT_ID counter) */
} wl_probe_meta;

/* recvmsg with one iovec: the source address goes to `from` (*from_len in, out),
   the control messages to `meta`. Returns bytes or -1 with errno. */
ssize_t wl_probe_recvmsg(int fd, void *buf, size_t len, void *from, uint32_t *from_len, int flags, wl_probe_meta *meta);
/* Asks for the TTL (AF_INET) or hop limit (AF_INET6) of each datagram as a control message. */
int wl_probe_request_hop_limit(int fd, int family);
/* Lets only ICMP echo replies through to a raw ICMP (AF_INET) or ICMPv6 (AF_INET6) socket. */
int wl_probe_filter_echo_replies(int fd, int family);
/* Waits until fd becomes ready for `events` (POLLIN / POLLOUT), or stop_fd (if >= 0)
   becomes readable, or timeout_ns passes. Returns 1 ready, 2 stop, 0 timeout, -1 error. */
int wl_probe_wait(int fd, short events, int stop_fd, int64_t timeout_ns);
/* tcpi_rtt of TCP_INFO in microseconds: after a connect, the kernel's SYN→SYN-ACK sample. */
int wl_probe_tcp_rtt_us(int fd, uint32_t *rtt_us);
/* File mappings whose file may shrink under them. While [base, base + length) is
   guarded, a SIGBUS inside it (a page past the file's new end) maps a page of zeros
   there instead of killing the process, and counts the fault; a SIGBUS anywhere
   else kills the process as it would have. Up to 16 mappings at once; returns a
   slot, or -1 when the table is full or the handler cannot be installed. */
int wl_mapping_guard(const void *base, size_t length);
/* The faults counted in a slot since it was guarded. */
extern unsigned long wl_mapping_fault_counts[16];
static inline unsigned long wl_mapping_faults(int slot) {
    return slot < 0 || slot >= 16 ? 0 : __atomic_load_n(&wl_mapping_fault_counts[slot], __ATOMIC_RELAXED);
}
void wl_mapping_unguard(int slot);
/* Reads one byte, so that its page is faulted in now. */
static inline void wl_touch(const void *p) { (void)*(const volatile unsigned char *)p; }
/* madvise(MADV_POPULATE_READ) (Linux 5.14): makes the page-table entries of a range
   present, reading the pages in, without touching them from user space. 0 or -1. */
int wl_madvise_populate_read(void *address, size_t length);

static const short WL_POLLIN = POLLIN;
static const short WL_POLLOUT = POLLOUT;

#endif
