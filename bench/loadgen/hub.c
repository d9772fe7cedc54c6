/* hub: the smallest fan-out server that speaks the bench's protocol, for the generator's
 * self-test. GET /sub/..N subscribes to channel N (chunked stream); POST /pub?id=..N writes the
 * body as one chunk to each subscriber of N (one send each, as nginx does) and answers 201. */
#include "loadgen.h"

#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <unistd.h>

#define IN_MAX 8192
#define MAX_CHANNELS 100000

typedef struct {
    int fd;
    int ch; /* subscribed channel, or -1 */
    int len;
    char in[IN_MAX];
} peer;

typedef struct {
    int *fds;
    int n, cap;
} channel;

static channel *channels;

static int channel_of(const char *p, const char *end)
{
    while (p < end && (*p < '0' || *p > '9'))
        p++;
    int n = 0;
    while (p < end && *p >= '0' && *p <= '9')
        n = n * 10 + (*p++ - '0');
    return n < MAX_CHANNELS ? n : MAX_CHANNELS - 1;
}

/* a slow reader is waited for, never skipped: the self-test must not lose messages */
static void send_all(int fd, const char *p, size_t n)
{
    while (n) {
        ssize_t w = send(fd, p, n, MSG_NOSIGNAL);
        if (w > 0) {
            p += w;
            n -= (size_t)w;
        } else if (w < 0 && (errno == EAGAIN || errno == EINTR)) {
            struct pollfd pf = {.fd = fd, .events = POLLOUT};
            if (poll(&pf, 1, 1000) <= 0)
                return;
        } else
            return;
    }
}

static void publish(int ch, const char *body, int len)
{
    char buf[IN_MAX + 32];
    int n = snprintf(buf, sizeof buf, "%x\r\n", len);
    memcpy(buf + n, body, (size_t)len);
    memcpy(buf + n + len, "\r\n", 2);
    channel *c = &channels[ch];
    for (int i = 0; i < c->n; i++)
        if (c->fds[i] >= 0)
            send_all(c->fds[i], buf, (size_t)(n + len + 2));
}

static void subscribe(peer *p, int ch)
{
    static const char head[] = "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n";
    send_all(p->fd, head, sizeof head - 1);
    channel *c = &channels[ch];
    if (c->n == c->cap) {
        c->cap = c->cap * 2 + 16;
        if (!(c->fds = realloc(c->fds, sizeof(int) * (size_t)c->cap)))
            fatal("realloc");
    }
    c->fds[c->n++] = p->fd;
    p->ch = ch;
}

/* handles every complete request in the buffer; returns 0 when the peer must close */
static int serve(peer *p)
{
    for (;;) {
        char *end = memmem(p->in, (size_t)p->len, "\r\n\r\n", 4);
        if (!end)
            return p->len < IN_MAX;
        int head = (int)(end - p->in) + 4, body = 0;
        char *cl = memmem(p->in, (size_t)head, "Content-Length:", 15);
        if (cl)
            body = atoi(cl + 15);
        if (head + body > IN_MAX)
            return 0;
        if (p->len < head + body)
            return 1;
        char *line_end = memchr(p->in, '\r', (size_t)head);
        int ch = channel_of(p->in, line_end);
        if (!strncmp(p->in, "GET ", 4)) {
            subscribe(p, ch);
        } else {
            static const char ok[] = "HTTP/1.1 201 Created\r\nContent-Length: 0\r\n\r\n";
            publish(ch, p->in + head, body);
            send_all(p->fd, ok, sizeof ok - 1);
        }
        memmove(p->in, p->in + head + body, (size_t)(p->len - head - body));
        p->len -= head + body;
    }
}

int hub_run(int port, double max_time)
{
    int lfd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0), one = 1;
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_port = htons((uint16_t)port)};
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    setsockopt(lfd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
    if (bind(lfd, (struct sockaddr *)&a, sizeof a) < 0 || listen(lfd, 4096) < 0)
        fatal("hub: bind/listen");
    int ep = epoll_create1(EPOLL_CLOEXEC);
    struct epoll_event le = {.events = EPOLLIN, .data.ptr = NULL};
    epoll_ctl(ep, EPOLL_CTL_ADD, lfd, &le);
    if (!(channels = calloc(MAX_CHANNELS, sizeof *channels)))
        fatal("calloc");
    fprintf(stderr, "hub: listening on 127.0.0.1:%d\n", port);
    uint64_t deadline = now_ns() + (uint64_t)(max_time * 1e9);
    static struct epoll_event evs[1024];
    while (now_ns() < deadline) {
        int n = epoll_wait(ep, evs, 1024, 100);
        for (int i = 0; i < n; i++) {
            peer *p = evs[i].data.ptr;
            if (!p) { /* new connections */
                int fd;
                while ((fd = accept4(lfd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC)) >= 0) {
                    peer *np = malloc(sizeof *np);
                    if (!np)
                        fatal("malloc");
                    np->fd = fd;
                    np->ch = -1;
                    np->len = 0;
                    struct epoll_event e = {.events = EPOLLIN, .data.ptr = np};
                    epoll_ctl(ep, EPOLL_CTL_ADD, fd, &e);
                }
                continue;
            }
            ssize_t r = recv(p->fd, p->in + p->len, (size_t)(IN_MAX - p->len), 0);
            if (r < 0 && (errno == EAGAIN || errno == EINTR))
                continue;
            if (r > 0)
                p->len += (int)r;
            if (r <= 0 || !serve(p)) {
                /* the fd number will be reused: take it off its channel first */
                channel *c = p->ch >= 0 ? &channels[p->ch] : NULL;
                for (int k = 0; c && k < c->n; k++)
                    if (c->fds[k] == p->fd)
                        c->fds[k] = -1;
                close(p->fd);
                free(p);
            }
        }
    }
    return 0;
}
