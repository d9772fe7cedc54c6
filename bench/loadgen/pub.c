/* Publishers: keep-alive POSTs, as fast as possible or on a fixed schedule, and the warm-up.
 * Publisher i owns channels i, i+P, i+2P, ...: one connection per channel sends in order, so
 * any reordering a subscriber sees is the server's. */
#include "loadgen.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/socket.h>

static int **warm_ch, *warm_n; /* warm-up phase: channels each publisher sends to */
static uint64_t t_pub_start;
static double rate;        /* of the current phase */
static int64_t *published; /* measured messages sent, per channel, over all phases */
static int64_t *base;      /* published[] when the current phase began */

static int owned(int i)
{
    return i < cfg.channels ? (cfg.channels - i + cfg.pubs - 1) / cfg.pubs : 0;
}

static int job_channel(const conn *c, int64_t j, int64_t *seq)
{
    if (phase_warm) {
        *seq = 0;
        return warm_ch[c->ch][j];
    }
    int n = owned(c->ch), ch = c->ch + (int)(j % n) * cfg.pubs;
    *seq = base[ch] + j / n; /* sequence numbers run on across phases */
    return ch;
}

/* when job j of publisher c is due; rate 0 means now */
static uint64_t job_due(const conn *c, int64_t j)
{
    if (phase_warm || rate <= 0)
        return 0;
    double interval = (double)cfg.channels / (rate * owned(c->ch));
    return t_pub_start + (uint64_t)((double)j * interval * 1e9);
}

static void pub_send(conn *c, uint64_t now)
{
    int64_t seq, j = c->next_job++;
    int ch = job_channel(c, j, &seq);
    /* at a fixed rate the stamp is the scheduled time, so a server that makes the publisher
     * fall behind pays for it in latency instead of hiding it */
    uint64_t due = job_due(c, j), stamp = due ? due : now;
    char path[512], body[1 << 16];
    fill_path(path, sizeof path, cfg.pub_path, ch);
    int bl = phase_warm ? snprintf(body, sizeof body, "w %d 0 0 ", ch)
                        : snprintf(body, sizeof body, "m %d %lld %llu ", ch, (long long)seq,
                                   (unsigned long long)stamp);
    int want = cfg.body_bytes < (int)sizeof body ? cfg.body_bytes : (int)sizeof body - 1;
    if (bl < want) {
        memset(body + bl, 'x', (size_t)(want - bl));
        bl = want;
    }
    if (cfg.newline)
        body[bl - 1] = '\n';
    int need = bl + (int)strlen(path) + 128;
    if (c->out_cap < need && !(c->out = realloc(c->out, (size_t)(c->out_cap = need))))
        fatal("realloc");
    int hl = snprintf(c->out, (size_t)need,
                      "POST %s HTTP/1.1\r\nHost: 127.0.0.1:%d\r\nContent-Length: %d\r\n\r\n",
                      path, cfg.port, bl);
    memcpy(c->out + hl, body, (size_t)bl);
    c->out_len = hl + bl;
    c->out_off = 0;
    c->job = j;
    c->sent_at = now;
    if (!phase_warm) {
        ph.pub_sent++;
        published[ch]++;
        if (!ph.t_first_pub)
            ph.t_first_pub = now;
    }
    resp_reset(&c->r);
    c->state = S_SENDING;
    watch(c, EPOLLOUT, EPOLL_CTL_MOD);
}

static void pub_flush(conn *c)
{
    while (c->out_off < c->out_len) {
        ssize_t w = send(c->fd, c->out + c->out_off, (size_t)(c->out_len - c->out_off),
                         MSG_NOSIGNAL);
        if (w < 0 && errno == EINTR)
            continue;
        if (w < 0 && (errno == EAGAIN || errno == EWOULDBLOCK))
            return;
        if (w < 0) {
            ph.pub_errors++;
            ph.pub_done++;
            drop(c, S_FREE);
            return;
        }
        c->out_off += (int)w;
    }
    c->state = S_HEAD;
    watch(c, EPOLLIN, EPOLL_CTL_MOD);
}

static void pub_finish(conn *c, uint64_t now)
{
    if (!phase_warm) {
        int s = c->r.status;
        ph.pub_done++;
        ph.pub_ok += s >= 200 && s < 300;
        ph.pub_non2xx += !(s >= 200 && s < 300);
        if (!(s >= 200 && s < 300) && !ph.first_non2xx)
            ph.first_non2xx = s;
        ph.t_last_pub = now;
        push_u32(&ph.plat, &ph.nplat, &ph.capplat, (uint32_t)((now - c->sent_at) / 1000));
    }
    c->job = -1;
    if (c->r.close)
        drop(c, S_FREE);
    else {
        resp_reset(&c->r);
        c->state = S_IDLE;
    }
}

static void pub_readable(conn *c)
{
    ssize_t n;
    while ((n = recv(c->fd, rbuf, RBUF, 0)) < 0 && errno == EINTR)
        ;
    if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK))
        return;
    if (n <= 0) { /* a keep-alive close between requests is no error */
        if (c->job >= 0 && !phase_warm) {
            ph.pub_errors++;
            ph.pub_done++;
        }
        c->job = -1;
        drop(c, S_FREE);
        return;
    }
    if (c->state != S_HEAD && c->state != S_BODY)
        return;
    uint64_t now = now_ns();
    for (size_t off = 0, used = 0; off < (size_t)n; off += used) {
        enum feed e = resp_feed(c, rbuf + off, (size_t)n - off, now, &used);
        if (e == F_ERROR) {
            ph.pub_errors += !phase_warm;
            ph.pub_done += !phase_warm;
            c->job = -1;
            drop(c, S_FREE);
            return;
        }
        if (e == F_DONE || (e == F_HEAD && c->r.kind == B_NONE)) {
            pub_finish(c, now);
            return;
        }
    }
}

void pub_event(conn *c)
{
    if (c->state == S_SENDING)
        pub_flush(c);
    else
        pub_readable(c);
}

int64_t channel_base(int ch)
{
    return base ? base[ch] : 0;
}

void pubs_start(int64_t msgs_per_channel, double per_s, uint64_t t0)
{
    if (!published) {
        published = calloc((size_t)cfg.channels, sizeof *published);
        base = calloc((size_t)cfg.channels, sizeof *base);
        if (!published || !base)
            fatal("calloc");
    }
    if (!phase_warm)
        memcpy(base, published, sizeof *base * (size_t)cfg.channels);
    rate = per_s;
    t_pub_start = t0;
    for (int i = 0; i < cfg.pubs; i++) {
        pubs[i].next_job = 0;
        if (phase_warm)
            pubs[i].jobs = warm_n[i];
        else /* "unlimited" must not overflow */
            pubs[i].jobs = msgs_per_channel > INT64_MAX / cfg.channels
                               ? INT64_MAX
                               : owned(i) * msgs_per_channel;
    }
}

/* Sends what is due; lowers *wake_ns to the next scheduled send. */
int pubs_pump(uint64_t now, uint64_t *wake_ns)
{
    int active = 0;
    for (int i = 0; i < cfg.pubs; i++) {
        conn *c = &pubs[i];
        if (c->next_job >= c->jobs)
            continue;
        active++;
        if (c->state == S_FREE) {
            if (open_socket(c) < 0) {
                ph.pub_errors++;
                c->next_job++; /* skipped: the lost deliveries show in the report */
            }
            continue;
        }
        if (c->state != S_IDLE)
            continue;
        uint64_t due = job_due(c, c->next_job);
        if (due <= now)
            pub_send(c, now);
        else if (due < *wake_ns)
            *wake_ns = due;
    }
    return active;
}

/* every measured subscriber should get every message sent to its channel, also when the
 * time budget cut the publishing short */
int64_t expected_deliveries(void)
{
    int64_t n = 0;
    for (int i = 0; i < cfg.subs; i++)
        if (subs[i].measured)
            n += published[subs[i].ch] - base[subs[i].ch];
    return n;
}

/* no new requests; those in flight still complete. Returns whether any were left unsent. */
int pubs_stop(void)
{
    int cut = 0;
    for (int i = 0; i < cfg.pubs; i++) {
        cut |= pubs[i].next_job < pubs[i].jobs;
        pubs[i].jobs = pubs[i].next_job;
    }
    return cut;
}

int pubs_finished(void)
{
    for (int i = 0; i < cfg.pubs; i++)
        if (pubs[i].next_job < pubs[i].jobs || pubs[i].job >= 0)
            return 0;
    return 1;
}

/* ---- warm-up: a message per channel until every subscriber has seen one of its channel ---- */

double warm_up(void)
{
    uint64_t t0 = now_ns(), limit = t0 + (uint64_t)(cfg.ready_timeout * 1e9);
    char *need = calloc((size_t)cfg.channels, 1);
    warm_ch = calloc((size_t)cfg.pubs, sizeof *warm_ch);
    warm_n = calloc((size_t)cfg.pubs, sizeof *warm_n);
    if (!need || !warm_ch || !warm_n)
        fatal("calloc");
    for (int i = 0; i < cfg.pubs; i++)
        if (!(warm_ch[i] = malloc(sizeof(int) * (size_t)(owned(i) + 1))))
            fatal("malloc");
    phase_warm = 1;
    while (now_ns() < limit) {
        memset(need, 0, (size_t)cfg.channels);
        memset(warm_n, 0, sizeof *warm_n * (size_t)cfg.pubs);
        int todo = 0;
        for (int i = 0; i < cfg.subs; i++)
            if (subs[i].ready && !subs[i].warm && subs[i].fd >= 0 && !need[subs[i].ch]) {
                int ch = subs[i].ch, p = ch % cfg.pubs;
                need[ch] = 1;
                warm_ch[p][warm_n[p]++] = ch;
                todo++;
            }
        if (!todo)
            break;
        pubs_start(0, 0, now_ns());
        uint64_t round_end = 0;
        while (now_ns() < limit && st.warm < st.ready - st.closed) {
            uint64_t wake = now_ns() + 5000000ull;
            pubs_pump(now_ns(), &wake);
            poll_once(5);
            if (!round_end && pubs_finished())
                round_end = now_ns() + 300000000ull; /* then publish again for the stragglers */
            if (round_end && now_ns() > round_end)
                break;
        }
    }
    /* let repeated warm-up messages drain so none lands in the measurement */
    pubs_stop();
    int64_t seen = st.warm_msgs;
    uint64_t calm = now_ns(), stop = calm + 3000000000ull;
    while (now_ns() < stop && (now_ns() - calm < 200000000ull || !pubs_finished())) {
        poll_once(10);
        if (st.warm_msgs != seen) {
            seen = st.warm_msgs;
            calm = now_ns();
        }
    }
    phase_warm = 0;
    free(need);
    return (double)(now_ns() - t0) / 1e9;
}

