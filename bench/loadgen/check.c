/* What one received message means: "w <ch> ..." marks a subscriber warm, "m <ch> <seq> <ns>"
 * is measured (right channel, next in order, latency from the stamp). */
#include "loadgen.h"

static const char *number(const char *p, const char *end, uint64_t *v)
{
    uint64_t x = 0;
    const char *start = p;
    while (p < end && *p >= '0' && *p <= '9')
        x = x * 10 + (uint64_t)(*p++ - '0');
    *v = x;
    return p > start && p < end && *p == ' ' ? p + 1 : NULL;
}

void on_message(conn *c, const char *p, size_t n, uint64_t now)
{
    const char *end = p + n;
    char kind = n ? p[0] : 0;
    uint64_t ch, seq, stamp;
    if (n < 2 || p[1] != ' ' || (p[0] != 'm' && p[0] != 'w') ||
        !(p = number(p + 2, end, &ch))) {
        st.other++; /* pings, headers, anything the bench did not publish */
        return;
    }
    if (kind == 'w') {
        st.warm_msgs++;
        if (!c->warm && (int)ch == c->ch) {
            c->warm = 1;
            st.warm++;
        }
        return;
    }
    if (!(p = number(p, end, &seq)) || !number(p, end, &stamp)) {
        st.other++;
        return;
    }
    if ((int64_t)seq < c->base) {
        ph.late++; /* from an earlier phase that ended before it arrived */
        return;
    }
    ph.received++;
    ph.wrong_channel += (int)ch != c->ch;
    if ((int64_t)seq >= c->next_seq) {
        ph.gaps += (int64_t)seq - c->next_seq; /* skipped messages: lost unless they come late */
        c->next_seq = (int64_t)seq + 1;
        ph.unique++;
    } else
        ph.out_of_order++; /* a duplicate, or one counted as a gap earlier */
    uint64_t us = now > stamp ? (now - stamp) / 1000 : 0;
    /* UINT32_MAX stands for "never arrived" in the percentiles: keep it out of real values */
    push_u32(&ph.lat, &ph.nlat, &ph.caplat, us >= UINT32_MAX ? UINT32_MAX - 1 : (uint32_t)us);
    ph.t_last_delivery = now;
}
