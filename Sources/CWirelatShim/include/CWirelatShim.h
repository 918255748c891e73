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
   once with the usual status. */
int wl_stop_signal_fd(void);
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

#endif
