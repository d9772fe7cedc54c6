/* Sockets, subscribers (connect, request, judge the head, read) and the event loop. */
#include "loadgen.h"

#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#define EVENTS 4096

config_t cfg;
stats_t st;
phase_t ph;
conn *subs, *pubs;
int phase_warm;

static int ep;
char *rbuf;
static struct sockaddr_in addr;
static int *reopen, nreopen;      /* subscribers waiting for a (re)connect */

void net_init(void)
{
    memset(&addr, 0, sizeof addr);
    addr.sin_family = AF_INET;
    addr.sin_port = htons((uint16_t)cfg.port);
    addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    if ((ep = epoll_create1(EPOLL_CLOEXEC)) < 0)
        fatal("epoll_create1");
    rbuf = malloc(RBUF);
    subs = calloc((size_t)(cfg.subs ? cfg.subs : 1), sizeof *subs);
    pubs = calloc((size_t)cfg.pubs, sizeof *pubs);
    reopen = malloc(sizeof *reopen * (size_t)(cfg.subs ? cfg.subs : 1));
    if (!rbuf || !subs || !pubs || !reopen)
        fatal("calloc");
    for (int i = 0; i < cfg.subs; i++) {
        subs[i] = (conn){.fd = -1, .role = R_SUB, .ch = i % cfg.channels};
        reopen[nreopen++] = cfg.subs - 1 - i; /* popped from the end: subscriber 0 first */
    }
    for (int i = 0; i < cfg.pubs; i++)
        pubs[i] = (conn){.fd = -1, .role = R_PUB, .ch = i, .job = -1};
}

void watch(conn *c, uint32_t events, int op)
{
    struct epoll_event e = {.events = events, .data.ptr = c};
    if (epoll_ctl(ep, op, c->fd, &e) < 0)
        fatal("epoll_ctl");
}

/* The client closes with RST so thousands of sockets per run leave no TIME_WAIT behind. */
void drop(conn *c, int state)
{
    if (c->fd >= 0) {
        struct linger lg = {1, 0};
        setsockopt(c->fd, SOL_SOCKET, SO_LINGER, &lg, sizeof lg);
        close(c->fd);
    }
    c->fd = -1;
    c->state = (uint8_t)state;
    resp_reset(&c->r);
    memset(&c->f, 0, sizeof c->f);
}

int open_socket(conn *c)
{
    int fd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    if (fd < 0)
        return -1;
    int one = 1;
    setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
    if (connect(fd, (struct sockaddr *)&addr, sizeof addr) < 0 && errno != EINPROGRESS) {
        close(fd);
        return -1;
    }
    c->fd = fd;
    c->state = S_CONNECTING;
    resp_reset(&c->r);
    watch(c, EPOLLOUT, EPOLL_CTL_ADD);
    return 0;
}

void fill_path(char *out, size_t cap, const char *tpl, int ch)
{
    const char *hole = strstr(tpl, "{}");
    if (!hole)
        snprintf(out, cap, "%s", tpl);
    else
        snprintf(out, cap, "%.*s%d%s", (int)(hole - tpl), tpl, ch, hole + 2);
}

/* ---- subscribers ---- */

static const char *sub_headers(void)
{
    switch (cfg.proto) {
    case P_SSE:
        return "Accept: text/event-stream\r\n";
    case P_WS:
        return "Connection: Upgrade\r\nUpgrade: websocket\r\nSec-WebSocket-Version: 13\r\n"
               "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n";
    default:
        return "TE: chunked\r\n"; /* nchan's chunked subscriber answers only when asked so */
    }
}

static void sub_fail(conn *c)
{
    if (c->ready) {
        st.closed++;
        drop(c, S_CLOSED);
        return;
    }
    drop(c, S_FREE);
    st.inflight--;
    if (c->tries++ < 3)
        reopen[nreopen++] = (int)(c - subs); /* reopened by the connect loop, not mid-batch */
    else {
        st.failed++;
        c->state = S_CLOSED;
    }
}

static void sub_request(conn *c)
{
    char path[512], req[1024];
    fill_path(path, sizeof path, cfg.sub_path, c->ch);
    int n = snprintf(req, sizeof req, "GET %s HTTP/1.1\r\nHost: 127.0.0.1:%d\r\n%s\r\n", path,
                     cfg.port, sub_headers());
    if (send(c->fd, req, (size_t)n, MSG_NOSIGNAL) != n) {
        sub_fail(c);
        return;
    }
    c->state = S_HEAD;
    watch(c, EPOLLIN, EPOLL_CTL_MOD);
}

/* returns 0 when the subscriber was refused and closed */
static int sub_head(conn *c)
{
    int want = cfg.proto == P_WS ? 101 : 200;
    if (c->r.status != want) {
        if (!st.first_bad_status)
            st.first_bad_status = c->r.status;
        st.bad_status++;
        st.inflight--;
        drop(c, S_CLOSED);
        return 0;
    }
    c->ready = 1;
    st.ready++;
    st.inflight--;
    return 1;
}

static void sub_readable(conn *c)
{
    for (;;) {
        ssize_t n = recv(c->fd, rbuf, RBUF, 0);
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK))
            return;
        if (n <= 0) {
            sub_fail(c);
            return;
        }
        uint64_t now = now_ns();
        ph.sub_reads++;
        for (size_t off = 0, used = 0; off < (size_t)n; off += used) {
            enum feed e = resp_feed(c, rbuf + off, (size_t)n - off, now, &used);
            if (e == F_HEAD && !sub_head(c))
                return;
            if (e == F_DONE || e == F_ERROR) { /* a stream must not end while measured */
                st.proto_errors += e == F_ERROR;
                sub_fail(c);
                return;
            }
        }
        if (c->r.close && c->r.kind == B_WS) { /* the server sent a close frame */
            sub_fail(c);
            return;
        }
        if (n < RBUF)
            return;
    }
}

double connect_subs(void)
{
    uint64_t t0 = now_ns(), limit = t0 + (uint64_t)(cfg.ready_timeout * 1e9);
    while (st.ready + st.failed + st.bad_status < cfg.subs && now_ns() < limit) {
        while (st.inflight < cfg.batch && nreopen) {
            conn *c = &subs[reopen[--nreopen]];
            st.inflight++;
            if (open_socket(c) < 0) {
                st.inflight--;
                st.failed++;
                c->state = S_CLOSED;
            }
        }
        poll_once(20);
    }
    return (double)(now_ns() - t0) / 1e9;
}

/* ---- the loop ---- */

static void on_event(conn *c, uint32_t events)
{
    if (c->state == S_FREE || c->state == S_CLOSED)
        return; /* closed earlier in this batch */
    if (c->state == S_CONNECTING) {
        int err = 0;
        socklen_t len = sizeof err;
        getsockopt(c->fd, SOL_SOCKET, SO_ERROR, &err, &len);
        if (err || (events & (EPOLLERR | EPOLLHUP))) {
            if (c->role == R_SUB)
                sub_fail(c);
            else {
                ph.pub_errors++;
                drop(c, S_FREE);
            }
            return;
        }
        if (c->role == R_SUB)
            sub_request(c);
        else {
            c->state = S_IDLE;
            watch(c, EPOLLIN, EPOLL_CTL_MOD);
        }
        return;
    }
    if (c->role == R_SUB)
        sub_readable(c);
    else
        pub_event(c);
}

/* Waits up to ns nanoseconds: fixed-rate publishing needs better than millisecond timers. */
void poll_ns(uint64_t ns)
{
    static struct epoll_event evs[EVENTS];
    struct timespec ts = {(time_t)(ns / 1000000000ull), (long)(ns % 1000000000ull)};
    int n = epoll_pwait2(ep, evs, EVENTS, &ts, NULL);
    if (n < 0 && errno != EINTR)
        fatal("epoll_pwait2");
    for (int i = 0; i < n; i++)
        on_event(evs[i].data.ptr, evs[i].events);
}

void poll_once(int timeout_ms)
{
    poll_ns((uint64_t)timeout_ms * 1000000ull);
}

void run_for(double seconds)
{
    uint64_t end = now_ns() + (uint64_t)(seconds * 1e9);
    for (uint64_t now; (now = now_ns()) < end;)
        poll_ns(end - now < 100000000ull ? end - now : 100000000ull);
}

void close_all(void)
{
    for (int i = 0; i < cfg.subs; i++)
        drop(&subs[i], S_CLOSED);
    for (int i = 0; i < cfg.pubs; i++)
        drop(&pubs[i], S_CLOSED);
}
