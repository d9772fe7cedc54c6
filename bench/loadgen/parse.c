/* Response decoding: the HTTP head, then the body by its framing (Content-Length, chunked,
 * until close, WebSocket), then the messages inside it (lines, EventSource events, frames). */
#include "loadgen.h"

#include <stdlib.h>
#include <string.h>
#include <strings.h>

enum { CH_SIZE, CH_EXT, CH_DATA, CH_DATA_END, CH_TRAILER };

void resp_reset(resp_t *r)
{
    free(r->head);
    memset(r, 0, sizeof *r);
}

static int value_has(const char *v, size_t n, const char *word)
{
    size_t w = strlen(word);
    for (size_t i = 0; i + w <= n; i++)
        if (!strncasecmp(v + i, word, w))
            return 1;
    return 0;
}

static void head_parse(resp_t *r, const char *h, size_t n)
{
    r->status = (n > 12 && !memcmp(h, "HTTP/1.", 7)) ? atoi(h + 9) : -1;
    r->kind = B_CLOSE;
    const char *line = memchr(h, '\n', n), *end = h + n;
    while (line && ++line < end) {
        const char *eol = memchr(line, '\n', (size_t)(end - line));
        if (!eol)
            break;
        const char *colon = memchr(line, ':', (size_t)(eol - line));
        if (colon) {
            size_t name = (size_t)(colon - line), vn = (size_t)(eol - colon);
            if (name == 17 && !strncasecmp(line, "transfer-encoding", 17) &&
                value_has(colon, vn, "chunked"))
                r->kind = B_CHUNKED;
            else if (name == 14 && !strncasecmp(line, "content-length", 14) &&
                     r->kind != B_CHUNKED) {
                r->kind = B_LENGTH;
                r->left = atoll(colon + 1);
            } else if (name == 10 && !strncasecmp(line, "connection", 10) &&
                       value_has(colon, vn, "close"))
                r->close = 1;
        }
        line = eol;
    }
    if (r->status == 101)
        r->kind = B_WS;
    else if ((r->status >= 100 && r->status < 200) || r->status == 204 || r->status == 304 ||
             (r->kind == B_LENGTH && r->left == 0))
        r->kind = B_NONE;
}

/* Body bytes of a subscriber go to its message framing; a publisher's are dropped. */
static void sink(conn *c, const char *p, size_t n, uint64_t now)
{
    if (c->role == R_SUB && n)
        frame_feed(c, p, n, now);
}

static enum feed chunked_feed(conn *c, const char *p, size_t n, uint64_t now, size_t *used)
{
    resp_t *r = &c->r;
    size_t i = 0;
    while (i < n) {
        char x = p[i];
        switch (r->chunk) {
        case CH_SIZE:
            if ((x >= '0' && x <= '9') || ((x | 0x20) >= 'a' && (x | 0x20) <= 'f')) {
                r->left = r->left * 16 + (x <= '9' ? x - '0' : (x | 0x20) - 'a' + 10);
                i++;
                break;
            }
            if (x == ';' || x == ' ' || x == '\t') {
                r->chunk = CH_EXT;
                i++;
                break;
            }
            if (x == '\r') {
                i++;
                break;
            }
            if (x != '\n') {
                *used = i;
                return F_ERROR;
            }
            i++;
            r->chunk = r->left ? CH_DATA : CH_TRAILER;
            if (r->chunk == CH_TRAILER)
                r->left = 0; /* counts the bytes of the current trailer line */
            break;
        case CH_EXT:
            if (x == '\n') {
                r->chunk = CH_SIZE; /* the newline is handled by CH_SIZE */
                break;
            }
            i++;
            break;
        case CH_DATA: {
            size_t take = n - i < (size_t)r->left ? n - i : (size_t)r->left;
            sink(c, p + i, take, now);
            i += take;
            r->left -= (int64_t)take;
            if (!r->left)
                r->chunk = CH_DATA_END;
            break;
        }
        case CH_DATA_END:
            i++;
            if (x == '\n')
                r->chunk = CH_SIZE;
            break;
        case CH_TRAILER:
            i++;
            if (x == '\n') {
                if (!r->left) {
                    *used = i;
                    return F_DONE;
                }
                r->left = 0;
            } else if (x != '\r')
                r->left++;
            break;
        }
    }
    *used = i;
    return F_MORE;
}

/* Feeds received bytes. Stops right after the head (F_HEAD) so the caller can judge it, and
 * at the end of a response (F_DONE); *used tells how many bytes were taken. */
enum feed resp_feed(conn *c, const char *p, size_t n, uint64_t now, size_t *used)
{
    resp_t *r = &c->r;
    if (c->state == S_HEAD) {
        if (!r->head && !(r->head = malloc(HEAD_MAX)))
            fatal("malloc");
        int old = r->head_len;
        size_t room = (size_t)(HEAD_MAX - old), take = n < room ? n : room;
        memcpy(r->head + old, p, take);
        r->head_len += (int)take;
        for (int i = old > 3 ? old - 3 : 0; i + 3 < r->head_len; i++) {
            if (memcmp(r->head + i, "\r\n\r\n", 4))
                continue;
            head_parse(r, r->head, (size_t)i + 4);
            free(r->head);
            r->head = NULL;
            r->head_len = 0;
            c->state = S_BODY;
            *used = (size_t)(i + 4 - old);
            return F_HEAD;
        }
        *used = take;
        return r->head_len == HEAD_MAX ? F_ERROR : F_MORE;
    }
    switch (r->kind) {
    case B_NONE:
        *used = 0;
        return F_DONE;
    case B_LENGTH: {
        size_t take = n < (size_t)r->left ? n : (size_t)r->left;
        sink(c, p, take, now);
        r->left -= (int64_t)take;
        *used = take;
        return r->left ? F_MORE : F_DONE;
    }
    case B_CHUNKED:
        return chunked_feed(c, p, n, now, used);
    default: /* until close, or WebSocket frames */
        sink(c, p, n, now);
        *used = n;
        return F_MORE;
    }
}

/* ---- messages inside the body ---- */

static void keep(frame_t *f, const char *p, size_t n)
{
    size_t room = PREFIX_MAX - f->line_len;
    if (n > room)
        n = room;
    memcpy(f->line + f->line_len, p, n);
    f->line_len = (uint16_t)(f->line_len + n);
}

static void sse_line(conn *c, uint64_t now)
{
    frame_t *f = &c->f;
    size_t n = f->line_len;
    if (n && f->line[n - 1] == '\r')
        n--;
    if (!n) { /* a blank line ends the event */
        if (f->pending)
            on_message(c, f->data, f->data_len, now);
        f->pending = 0;
        return;
    }
    if (n >= 5 && !memcmp(f->line, "data:", 5) && !f->pending) {
        size_t skip = (n > 5 && f->line[5] == ' ') ? 6 : 5;
        memcpy(f->data, f->line + skip, n - skip);
        f->data_len = (uint16_t)(n - skip);
        f->pending = 1;
    }
    /* id:, event:, retry: and ": comment" lines carry nothing the bench checks */
}

static void lines_feed(conn *c, const char *p, size_t n, uint64_t now)
{
    frame_t *f = &c->f;
    const char *end = p + n;
    while (p < end) {
        const char *nl = memchr(p, '\n', (size_t)(end - p));
        if (!nl) {
            keep(f, p, (size_t)(end - p));
            return;
        }
        keep(f, p, (size_t)(nl - p));
        if (cfg.proto == P_SSE)
            sse_line(c, now);
        else if (f->line_len)
            on_message(c, f->line, f->line_len, now);
        f->line_len = 0;
        p = nl + 1;
    }
}

static void ws_feed(conn *c, const char *p, size_t n, uint64_t now)
{
    frame_t *f = &c->f;
    const char *end = p + n;
    while (p < end) {
        if (f->ws_need == 0 || f->ws_have < f->ws_need) { /* frame header */
            if (f->ws_need == 0)
                f->ws_need = 2;
            f->ws_hdr[f->ws_have++] = (uint8_t)*p++;
            if (f->ws_have == 2) {
                uint8_t len7 = f->ws_hdr[1] & 0x7f;
                f->ws_need = (uint8_t)(2 + (len7 == 126 ? 2 : len7 == 127 ? 8 : 0));
                if (f->ws_hdr[1] & 0x80) { /* servers must not mask */
                    st.proto_errors++;
                    f->ws_need = (uint8_t)(f->ws_need + 4);
                }
            }
            if (f->ws_have < f->ws_need)
                continue;
            uint8_t len7 = f->ws_hdr[1] & 0x7f;
            uint64_t len = len7;
            if (len7 >= 126) {
                len = 0;
                for (int i = 2; i < (len7 == 126 ? 4 : 10); i++)
                    len = len << 8 | f->ws_hdr[i];
            }
            uint8_t op = f->ws_hdr[0] & 0x0f;
            /* control frames may sit between the fragments of a message: keep them apart */
            f->ws_ctl = op >= 8 ? op : 0;
            if (op != 0 && op < 8) {
                f->ws_op = op;
                f->line_len = 0;
            }
            if (!f->ws_ctl)
                f->ws_fin = f->ws_hdr[0] & 0x80;
            f->ws_left = len;
        } else {
            size_t take = (size_t)(end - p) < f->ws_left ? (size_t)(end - p) : f->ws_left;
            if (!f->ws_ctl)
                keep(f, p, take);
            p += take;
            f->ws_left -= take;
        }
        if (f->ws_have == f->ws_need && f->ws_left == 0) { /* frame complete */
            if (f->ws_ctl == 8)
                c->r.close = 1;
            else if (!f->ws_ctl && f->ws_op == 1 && f->ws_fin)
                on_message(c, f->line, f->line_len, now);
            f->ws_have = f->ws_need = 0;
        }
    }
}

void frame_feed(conn *c, const char *p, size_t n, uint64_t now)
{
    if (cfg.proto == P_WS)
        ws_feed(c, p, n, now);
    else
        lines_feed(c, p, n, now);
}
