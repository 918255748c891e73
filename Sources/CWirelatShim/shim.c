#define _GNU_SOURCE
#include "CWirelatShim.h"
#include <fcntl.h>
#include <string.h>
#include <linux/filter.h>

int wl_accept4(int fd, struct sockaddr *addr, socklen_t *len, int flags) {
    return accept4(fd, addr, len, flags);
}

int wl_pipe2_cloexec(int fds[2]) {
    return pipe2(fds, O_CLOEXEC);
}

int wl_epoll_create(void) { return epoll_create1(EPOLL_CLOEXEC); }

int wl_epoll_ctl(int epfd, int op, int fd, uint32_t events, uint64_t data) {
    struct epoll_event ev;
    memset(&ev, 0, sizeof ev);
    ev.events = events;
    ev.data.u64 = data;
    return epoll_ctl(epfd, op, fd, op == EPOLL_CTL_DEL ? NULL : &ev);
}

int wl_epoll_wait(int epfd, uint32_t *events, uint64_t *data, int max, int timeout_ms) {
    struct epoll_event evs[256];
    if (max > 256) max = 256;
    int n = epoll_wait(epfd, evs, max, timeout_ms);
    for (int i = 0; i < n; i++) {
        events[i] = evs[i].events;
        data[i] = evs[i].data.u64;
    }
    return n;
}

int wl_timerfd_create(void) {
    return timerfd_create(CLOCK_MONOTONIC, TFD_NONBLOCK | TFD_CLOEXEC);
}

int wl_timerfd_settime_ns(int fd, int64_t initial_ns, int64_t interval_ns) {
    struct itimerspec its;
    its.it_value.tv_sec = initial_ns / 1000000000;
    its.it_value.tv_nsec = initial_ns % 1000000000;
    its.it_interval.tv_sec = interval_ns / 1000000000;
    its.it_interval.tv_nsec = interval_ns % 1000000000;
    return timerfd_settime(fd, 0, &its, NULL);
}

int wl_eventfd(void) { return eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC); }

static volatile sig_atomic_t wl_signal_fd = -1;
static volatile sig_atomic_t wl_signal_seen = 0;
static volatile sig_atomic_t wl_signals_taken = 0;
static volatile sig_atomic_t wl_signals_tolerated = 1;
static int64_t wl_signal_first_ns = 0;

static int64_t wl_now_ns(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

static void wl_on_stop_signal(int sig) {
    int saved = errno;
    if (wl_signals_taken != 0) {
        /* The same Ctrl-C often arrives twice (from the terminal and from a
           wrapper such as timeout(1)): only one a second later counts. */
        if (wl_now_ns() - wl_signal_first_ns < 1000000000) {
            errno = saved;
            return;
        }
        if (wl_signals_taken >= wl_signals_tolerated) {
            signal(sig, SIG_DFL);
            raise(sig);
        }
    }
    wl_signal_first_ns = wl_now_ns();
    wl_signals_taken = wl_signals_taken + 1;
    if (wl_signal_seen == 0) wl_signal_seen = sig;
    uint64_t one = 1;
    if (wl_signal_fd >= 0) {
        ssize_t r = write(wl_signal_fd, &one, sizeof one);
        (void)r;
    }
    errno = saved;
}

int wl_stop_signal_fd(void) {
    if (wl_signal_fd >= 0) return wl_signal_fd;
    int fd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
    if (fd < 0) return -1;
    wl_signal_fd = fd;
    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = wl_on_stop_signal;
    sigemptyset(&sa.sa_mask);
    sa.sa_flags = SA_RESTART;
    if (sigaction(SIGINT, &sa, NULL) != 0 || sigaction(SIGTERM, &sa, NULL) != 0) return -1;
    /* A parent may have left them blocked, and the mask survives exec. */
    sigset_t set;
    sigemptyset(&set);
    sigaddset(&set, SIGINT);
    sigaddset(&set, SIGTERM);
    pthread_sigmask(SIG_UNBLOCK, &set, NULL);
    return fd;
}

int wl_last_signal(void) { return wl_signal_seen; }

void wl_stop_signal_tolerate(int count) { wl_signals_tolerated = count < 1 ? 1 : count; }

void wl_parse_timestamps(const void *control, size_t control_len, wl_timestamps *out) {
    memset(out, 0, sizeof *out);
    struct msghdr msg;
    memset(&msg, 0, sizeof msg);
    msg.msg_control = (void *)control;
    msg.msg_controllen = control_len;
    for (struct cmsghdr *c = CMSG_FIRSTHDR(&msg); c != NULL; c = CMSG_NXTHDR(&msg, c)) {
        if (c->cmsg_level == SOL_SOCKET && c->cmsg_type == SCM_TIMESTAMPING) {
            struct scm_timestamping ts;
            memcpy(&ts, CMSG_DATA(c), sizeof ts);
            out->software_ns = (int64_t)ts.ts[0].tv_sec * 1000000000 + ts.ts[0].tv_nsec;
        } else if ((c->cmsg_level == SOL_IP && c->cmsg_type == IP_RECVERR)
                || (c->cmsg_level == SOL_IPV6 && c->cmsg_type == IPV6_RECVERR)) {
            struct sock_extended_err ee;
            memcpy(&ee, CMSG_DATA(c), sizeof ee);
            if (ee.ee_origin == SO_EE_ORIGIN_TIMESTAMPING) {
                out->tx_id = ee.ee_data;
                out->has_tx_id = 1;
            }
        }
    }
}

ssize_t wl_recvmsg(int fd, void *buf, size_t len, void *control, size_t *control_len, int flags) {
    struct iovec iov = { buf, len };
    struct msghdr msg;
    memset(&msg, 0, sizeof msg);
    msg.msg_iov = &iov;
    msg.msg_iovlen = 1;
    msg.msg_control = control;
    msg.msg_controllen = *control_len;
    ssize_t n = recvmsg(fd, &msg, flags);
    if (n >= 0) *control_len = msg.msg_controllen;
    return n;
}

/* ---- wirelat lab: network namespaces, TUN devices, timer slack ---- */
#include <sched.h>
#include <sys/ioctl.h>
#include <sys/prctl.h>
#include <net/if.h>
#include <linux/if_tun.h>

int wl_setns_net(int fd) { return setns(fd, CLONE_NEWNET); }

int wl_tun_attach(int fd, const char *name, char *actual, size_t actual_len) {
    struct ifreq ifr;
    memset(&ifr, 0, sizeof ifr);
    ifr.ifr_flags = IFF_TUN | IFF_NO_PI;
    strncpy(ifr.ifr_name, name, IFNAMSIZ - 1);
    int r = ioctl(fd, TUNSETIFF, &ifr);
    if (r == 0 && actual != NULL && actual_len > 0) {
        strncpy(actual, ifr.ifr_name, actual_len - 1);
        actual[actual_len - 1] = 0;
    }
    return r;
}

int wl_set_timerslack_ns(unsigned long ns) { return prctl(PR_SET_TIMERSLACK, ns, 0, 0, 0); }

/* ---- wirelat probe / compare: raw and ping sockets ---- */
#include <netinet/icmp6.h>
#include <poll.h>

/* ICMP_FILTER and its struct from <linux/icmp.h>, which is not included because it
   pulls in <linux/if.h>, which clashes with <net/if.h> above. raw(7). */
#define WL_ICMP_FILTER 1
struct wl_icmp_filter { uint32_t data; };

int wl_probe_socket(int family, int raw, int protocol) {
    return socket(family, (raw ? SOCK_RAW : SOCK_DGRAM) | SOCK_NONBLOCK | SOCK_CLOEXEC, protocol);
}

ssize_t wl_probe_recvmsg(int fd, void *buf, size_t len, void *from, uint32_t *from_len, int flags, wl_probe_meta *meta) {
    char control[512];
    struct iovec iov = { buf, len };
    struct msghdr msg;
    memset(&msg, 0, sizeof msg);
    msg.msg_name = from;
    msg.msg_namelen = from != NULL ? *from_len : 0;
    msg.msg_iov = &iov;
    msg.msg_iovlen = 1;
    msg.msg_control = control;
    msg.msg_controllen = sizeof control;
    memset(meta, 0, sizeof *meta);
    meta->hop_limit = -1;
    ssize_t n = recvmsg(fd, &msg, flags);
    if (n < 0) return n;
    if (from != NULL) *from_len = msg.msg_namelen;
    for (struct cmsghdr *c = CMSG_FIRSTHDR(&msg); c != NULL; c = CMSG_NXTHDR(&msg, c)) {
        if (c->cmsg_level == SOL_SOCKET && c->cmsg_type == SCM_TIMESTAMPING) {
            struct scm_timestamping ts;
            memcpy(&ts, CMSG_DATA(c), sizeof ts);
            meta->software_ns = (int64_t)ts.ts[0].tv_sec * 1000000000 + ts.ts[0].tv_nsec;
        } else if ((c->cmsg_level == SOL_IP && c->cmsg_type == IP_TTL)
                || (c->cmsg_level == SOL_IPV6 && c->cmsg_type == IPV6_HOPLIMIT)) {
            int value;
            memcpy(&value, CMSG_DATA(c), sizeof value);
            meta->hop_limit = value;
        } else if ((c->cmsg_level == SOL_IP && c->cmsg_type == IP_RECVERR)
                || (c->cmsg_level == SOL_IPV6 && c->cmsg_type == IPV6_RECVERR)) {
            struct sock_extended_err ee;
            memcpy(&ee, CMSG_DATA(c), sizeof ee);
            if (ee.ee_origin == SO_EE_ORIGIN_TIMESTAMPING) {
                meta->tx_id = ee.ee_data;
                meta->has_tx_id = 1;
            }
        }
    }
    return n;
}

int wl_probe_request_hop_limit(int fd, int family) {
    int on = 1;
    if (family == AF_INET6) return setsockopt(fd, SOL_IPV6, IPV6_RECVHOPLIMIT, &on, sizeof on);
    return setsockopt(fd, SOL_IP, IP_RECVTTL, &on, sizeof on);
}

int wl_probe_filter_echo_replies(int fd, int family) {
    if (family == AF_INET6) {
        struct icmp6_filter filter;
        ICMP6_FILTER_SETBLOCKALL(&filter);
        ICMP6_FILTER_SETPASS(ICMP6_ECHO_REPLY, &filter);
        return setsockopt(fd, IPPROTO_ICMPV6, ICMP6_FILTER, &filter, sizeof filter);
    }
    struct wl_icmp_filter filter;
    filter.data = ~(1U << 0); /* pass type 0, echo reply (RFC 792) */
    return setsockopt(fd, SOL_RAW, WL_ICMP_FILTER, &filter, sizeof filter);
}

int wl_probe_wait(int fd, short events, int stop_fd, int64_t timeout_ns) {
    struct pollfd fds[2];
    fds[0].fd = fd;
    fds[0].events = events;
    fds[0].revents = 0;
    fds[1].fd = stop_fd;
    fds[1].events = POLLIN;
    fds[1].revents = 0;
    nfds_t count = stop_fd >= 0 ? 2 : 1;
    if (timeout_ns < 0) timeout_ns = 0;
    struct timespec ts = { timeout_ns / 1000000000, timeout_ns % 1000000000 };
    int n = ppoll(fds, count, &ts, NULL);
    if (n < 0) return -1;
    if (n == 0) return 0;
    if (count == 2 && (fds[1].revents & POLLIN)) return 2;
    return 1;
}

int wl_probe_tcp_rtt_us(int fd, uint32_t *rtt_us) {
    struct tcp_info info;
    socklen_t len = sizeof info;
    memset(&info, 0, sizeof info);
    int r = getsockopt(fd, IPPROTO_TCP, TCP_INFO, &info, &len);
    if (r == 0) *rtt_us = info.tcpi_rtt;
    return r;
}

#include <signal.h>
#include <stdatomic.h>
#include <sys/mman.h>
#include <unistd.h>

#define WL_GUARD_SLOTS 16

static struct {
    _Atomic(uintptr_t) base;
    _Atomic(size_t) length;
} wl_guards[WL_GUARD_SLOTS];

unsigned long wl_mapping_fault_counts[WL_GUARD_SLOTS];

static atomic_int wl_guard_installed;

static void wl_sigbus(int signal, siginfo_t *info, void *context) {
    (void)context;
    uintptr_t address = (uintptr_t)info->si_addr;
    for (int i = 0; i < WL_GUARD_SLOTS; i++) {
        uintptr_t base = atomic_load(&wl_guards[i].base);
        size_t length = atomic_load(&wl_guards[i].length);
        if (base != 0 && address >= base && address - base < length) {
            uintptr_t page = (uintptr_t)sysconf(_SC_PAGESIZE);
            void *start = (void *)(address & ~(page - 1));
            if (mmap(start, page, PROT_READ, MAP_PRIVATE | MAP_ANONYMOUS | MAP_FIXED, -1, 0) != MAP_FAILED) {
                __atomic_fetch_add(&wl_mapping_fault_counts[i], 1, __ATOMIC_RELAXED);
                return;
            }
            break;
        }
    }
    /* Not ours, or the page could not be replaced: die of SIGBUS as before. */
    struct sigaction dfl;
    memset(&dfl, 0, sizeof dfl);
    dfl.sa_handler = SIG_DFL;
    sigaction(signal, &dfl, NULL);
}

int wl_mapping_guard(const void *base, size_t length) {
    if (base == NULL || length == 0) return -1;
    if (atomic_exchange(&wl_guard_installed, 1) == 0) {
        struct sigaction sa;
        memset(&sa, 0, sizeof sa);
        sa.sa_sigaction = wl_sigbus;
        sa.sa_flags = SA_SIGINFO | SA_NODEFER;
        sigemptyset(&sa.sa_mask);
        if (sigaction(SIGBUS, &sa, NULL) != 0) {
            atomic_store(&wl_guard_installed, 0);
            return -1;
        }
    }
    for (int i = 0; i < WL_GUARD_SLOTS; i++) {
        uintptr_t expected = 0;
        if (atomic_compare_exchange_strong(&wl_guards[i].base, &expected, (uintptr_t)1)) {
            __atomic_store_n(&wl_mapping_fault_counts[i], 0, __ATOMIC_RELAXED);
            atomic_store(&wl_guards[i].length, length);
            atomic_store(&wl_guards[i].base, (uintptr_t)base);
            return i;
        }
    }
    return -1;
}

void wl_mapping_unguard(int slot) {
    if (slot < 0 || slot >= WL_GUARD_SLOTS) return;
    atomic_store(&wl_guards[slot].length, 0);
    atomic_store(&wl_guards[slot].base, 0);
}

#ifndef MADV_POPULATE_READ
#define MADV_POPULATE_READ 22
#endif

int wl_madvise_populate_read(void *address, size_t length) {
    return madvise(address, length, MADV_POPULATE_READ);
}

int wl_spawn_close_from(posix_spawn_file_actions_t *actions, int from) {
    return posix_spawn_file_actions_addclosefrom_np(actions, from);
}

int wl_attach_filter(int fd, const struct wl_bpf_instruction *program, unsigned short count) {
    struct sock_fprog fprog;
    fprog.len = count;
    fprog.filter = (struct sock_filter *)program;
    return setsockopt(fd, SOL_SOCKET, SO_ATTACH_FILTER, &fprog, sizeof fprog);
}
