/* One measured phase: publish (as fast as the server answers within a budget, or at a fixed
 * rate), wait for the deliveries within a drain limit, print the phase as a JSON object. */
#include "loadgen.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* "null" for a percentile that is empty or falls on a delivery that never arrived */
static void pct(const char *name, const uint32_t *sorted, size_t n, double p)
{
    if (!n || sorted[(size_t)(p / 100.0 * (double)(n - 1) + 0.5)] == UINT32_MAX)
        printf("\"%s\":null,", name);
    else
        printf("\"%s\":%.3f,", name, percentile_ms(sorted, n, p));
}

static void begin(const phase_cfg *p, uint64_t t0)
{
    free(ph.lat);
    free(ph.plat);
    memset(&ph, 0, sizeof ph);
    pubs_start(p->msgs ? p->msgs : INT64_MAX, p->rate, t0);
    size_t measured = 0;
    for (int i = 0; i < cfg.subs; i++) {
        conn *c = &subs[i];
        c->measured = c->warm && c->fd >= 0;
        c->base = channel_base(c->ch);
        if (c->next_seq < c->base) /* what an earlier phase never got is no loss of this one */
            c->next_seq = c->base;
        measured += c->measured;
    }
    ph.caplat = measured * (size_t)(p->msgs ? p->msgs : 1);
    if (ph.caplat && !(ph.lat = malloc(sizeof *ph.lat * ph.caplat)))
        fatal("malloc");
}

/* waits until nothing has arrived for 300 ms (at most 10 s): a backlog of this phase must not
 * be measured as the next one */
static void settle(void)
{
    uint64_t calm = now_ns(), stop = calm + 10000000000ull;
    for (int64_t seen = ph.sub_reads; now_ns() < stop && now_ns() - calm < 300000000ull;) {
        poll_once(20);
        if (ph.sub_reads != seen) {
            seen = ph.sub_reads;
            calm = now_ns();
        }
    }
}

int run_phase(const phase_cfg *p, int publish_only, int final)
{
    uint64_t t0 = now_ns(), deadline = t0 + (uint64_t)(cfg.max_time * 1e9), last = t0;
    uint64_t stop = p->budget > 0 ? t0 + (uint64_t)(p->budget * 1e9) : UINT64_MAX, done_at = 0;
    begin(p, t0);
    double c0 = self_cpu_s(), s0 = pids_cpu_s(), m0 = machine_busy_s();
    int64_t closed0 = st.closed, expected = 0, seen = -1;
    int rc = 0, truncated = 0;
    for (;;) {
        uint64_t now = now_ns(), wake = now + 100000000ull;
        if (now >= stop && pubs_stop())
            truncated = 1;
        int scheduled = pubs_pump(now, &wake) > 0 && p->rate > 0;
        poll_ns(wake > now ? wake - now : 0);
        now = now_ns();
        if (ph.received + ph.pub_ok != seen || scheduled) { /* errors are no progress */
            seen = ph.received + ph.pub_ok;
            last = now;
        }
        if (pubs_finished()) {
            done_at = done_at ? done_at : now;
            expected = expected_deliveries();
            if (publish_only || ph.unique >= expected)
                break;
            if (p->drain > 0 && now - done_at > (uint64_t)(p->drain * 1e9))
                break; /* the rest counts as not delivered in time */
        }
        if (now - last > (uint64_t)(cfg.stall * 1e9) || now > deadline) {
            fprintf(stderr, "loadgen: %s after %.1fs: published %lld/%lld, delivered %lld/%lld\n",
                    now > deadline ? "time limit" : "no progress", (double)(now - t0) / 1e9,
                    (long long)ph.pub_done, (long long)ph.pub_sent, (long long)ph.unique,
                    (long long)expected);
            rc = 1;
            break;
        }
    }
    if (!publish_only)
        expected = expected_deliveries(); /* also when the phase was cut short */
    uint64_t end = now_ns();
    double client = self_cpu_s() - c0, server = pids_cpu_s() - s0, machine = machine_busy_s() - m0;
    int64_t missing = expected > ph.unique ? expected - ph.unique : 0;
    for (int64_t i = 0; i < missing; i++) /* never arrived: the top of the distribution */
        push_u32(&ph.lat, &ph.nlat, &ph.caplat, UINT32_MAX);
    sort_u32(ph.lat, ph.nlat);
    sort_u32(ph.plat, ph.nplat);
    uint64_t last_at = publish_only ? ph.t_last_pub : ph.t_last_delivery;
    double wall = last_at > ph.t_first_pub ? (double)(last_at - ph.t_first_pub) / 1e9 : 0;
    double pub_s = ph.t_last_pub > ph.t_first_pub ? (double)(ph.t_last_pub - ph.t_first_pub) / 1e9
                                                  : 0;
    printf("{\"msgs\":%lld,\"rate\":%g,\"budget_s\":%g,\"drain_s\":%g,\"expected\":%lld,"
           "\"published\":%lld,\"truncated\":%d,\"missing\":%lld,\"late\":%lld,"
           "\"received\":%lld,\"unique\":%lld,\"gaps\":%lld,\"out_of_order\":%lld,"
           "\"wrong_channel\":%lld,\"closed\":%lld,\"wall_s\":%.4f,\"deliveries_per_s\":%.0f,",
           (long long)p->msgs, p->rate, p->budget, p->drain, (long long)expected,
           (long long)ph.pub_sent, truncated, (long long)missing, (long long)ph.late,
           (long long)ph.received, (long long)ph.unique, (long long)ph.gaps,
           (long long)ph.out_of_order, (long long)ph.wrong_channel,
           (long long)(st.closed - closed0), wall, wall > 0 ? (double)ph.received / wall : 0);
    pct("lat_p50_ms", ph.lat, ph.nlat, 50);
    pct("lat_p99_ms", ph.lat, ph.nlat, 99);
    pct("lat_max_ms", ph.lat, ph.nlat, 100);
    /* a missing delivery waited at least from the last publish to the end of the phase */
    printf("\"lat_floor_ms\":%.3f,", ph.t_last_pub ? (double)(end - ph.t_last_pub) / 1e6 : 0.0);
    pct("pub_lat_p50_ms", ph.plat, ph.nplat, 50);
    pct("pub_lat_p99_ms", ph.plat, ph.nplat, 99);
    printf("\"pub_requests\":%lld,\"pub_ok\":%lld,\"pub_non2xx\":%lld,\"first_non2xx\":%d,"
           "\"pub_errors\":%lld,\"pub_per_s\":%.0f,\"client_cpu_s\":%.3f,\"server_cpu_s\":%.3f,"
           "\"machine_busy_s\":%.3f,\"loop_s\":%.4f,\"sub_reads\":%lld}",
           (long long)ph.pub_done, (long long)ph.pub_ok, (long long)ph.pub_non2xx,
           ph.first_non2xx, (long long)ph.pub_errors,
           pub_s > 0 ? (double)ph.pub_done / pub_s : 0, client, server, machine,
           (double)(end - t0) / 1e9, (long long)ph.sub_reads);
    if (!publish_only && !final)
        settle();
    return rc || missing || ph.pub_errors || ph.pub_non2xx;
}
