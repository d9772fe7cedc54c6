/* loadgen: the bench's load generator. One thread, epoll, non-blocking sockets.
 *
 * Subscribers parse what they receive (chunked or close-delimited HTTP bodies, EventSource
 * events, WebSocket frames) into messages; every message body starts with
 * "m <channel> <seq> <monotonic ns> " so order, loss and latency are checked per connection.
 */
#ifndef LOADGEN_H
#define LOADGEN_H

#define _GNU_SOURCE
#include <stddef.h>
#include <stdint.h>

enum proto { P_STREAM, P_SSE, P_WS };
enum role { R_SUB, R_PUB };
enum state { S_FREE, S_CONNECTING, S_SENDING, S_HEAD, S_BODY, S_IDLE, S_CLOSED };
enum body { B_NONE, B_LENGTH, B_CHUNKED, B_CLOSE, B_WS };
enum feed { F_MORE, F_HEAD, F_DONE, F_ERROR };

#define HEAD_MAX 4096
#define PREFIX_MAX 64 /* bytes of each message kept: enough for the "m ch seq ns" fields */
#define MAX_PIDS 16

typedef struct {
    char *head; /* only while the response head is being read */
    int head_len;
    int status;
    uint8_t kind;   /* enum body */
    uint8_t chunk;  /* chunked decoder state */
    uint8_t close;  /* "Connection: close" seen */
    int64_t left;   /* bytes left in the chunk or the Content-Length body */
} resp_t;

typedef struct {
    char line[PREFIX_MAX]; /* start of the current line or frame payload */
    uint16_t line_len;
    char data[PREFIX_MAX]; /* EventSource: the event's first data line */
    uint16_t data_len;
    uint8_t pending;       /* EventSource: an event has data, waiting for its blank line */
    uint8_t ws_hdr[14];
    uint8_t ws_have, ws_need, ws_op, ws_fin, ws_ctl;
    uint64_t ws_left;
} frame_t;

typedef struct conn {
    int fd;
    uint8_t role, state, warm, ready, tries;
    uint8_t measured; /* warm and open when the phase began: its deliveries count */
    int ch;           /* subscriber: its channel; publisher: its index */
    resp_t r;
    frame_t f;
    int64_t next_seq; /* the sequence number expected next on this connection */
    int64_t base;     /* first sequence number of the current phase on its channel */
    /* publisher */
    char *out;
    int out_len, out_off, out_cap;
    uint64_t sent_at;
    int64_t job, next_job; /* current and next message index of this publisher */
    int64_t jobs;          /* how many messages this publisher sends in this phase */
} conn;

typedef struct {
    int64_t msgs;  /* per channel; publish mode: unlimited */
    double rate;   /* messages per second over all channels; 0 = as fast as possible */
    double budget; /* stop publishing after this many seconds (0 = never) */
    double drain;  /* then wait at most this long for the deliveries */
} phase_cfg;

#define MAX_PHASES 8

typedef struct {
    const char *mode;
    int port;
    int subs, channels, pubs, body_bytes, batch;
    double hold; /* idle: seconds the subscribers are held before the phases */
    phase_cfg phases[MAX_PHASES];
    int nphases;
    double max_time, stall, ready_timeout;
    int proto;
    int newline; /* end each body with '\n' (the streaming framing) */
    const char *sub_path, *pub_path;
    int pids[MAX_PIDS];
    int npids;
} config_t;

/* connection-level counters, for the whole run */
typedef struct {
    int64_t ready, failed, bad_status, closed, warm, warm_msgs, inflight;
    int first_bad_status;
    int64_t other, proto_errors;
} stats_t;

/* counters of one phase, zeroed when it starts */
typedef struct {
    int64_t received, unique, gaps, out_of_order, wrong_channel, late;
    int64_t pub_sent, pub_done, pub_ok, pub_non2xx, pub_errors;
    int first_non2xx; /* the status of the first publish answered non-2xx */
    uint64_t t_first_pub, t_last_pub, t_last_delivery;
    uint32_t *lat; /* delivery latencies, microseconds */
    size_t nlat, caplat;
    uint32_t *plat; /* publish request latencies, microseconds */
    size_t nplat, capplat;
    int64_t sub_reads;
} phase_t;

extern config_t cfg;
extern stats_t st;
extern phase_t ph;
extern conn *subs, *pubs;
extern int phase_warm; /* publishers send warm-up messages */

/* util.c */
uint64_t now_ns(void);
double self_cpu_s(void);
double pids_cpu_s(void);
double machine_busy_s(void);
long long pids_rss_kb(void);
void push_u32(uint32_t **a, size_t *n, size_t *cap, uint32_t v);
double percentile_ms(const uint32_t *sorted, size_t n, double p);
void sort_u32(uint32_t *a, size_t n);
void fatal(const char *what);

/* parse.c */
void resp_reset(resp_t *r);
enum feed resp_feed(conn *c, const char *p, size_t n, uint64_t now, size_t *used);
void frame_feed(conn *c, const char *p, size_t n, uint64_t now);

/* net.c */
extern char *rbuf;
#define RBUF (256 * 1024)
void watch(conn *c, uint32_t events, int op);
void drop(conn *c, int state);
int open_socket(conn *c);
void fill_path(char *out, size_t cap, const char *tpl, int ch);
void net_init(void);
void poll_once(int timeout_ms);
void poll_ns(uint64_t ns);
double connect_subs(void);
void run_for(double seconds);
void close_all(void);

/* pub.c */
double warm_up(void);
void pubs_start(int64_t msgs_per_channel, double rate, uint64_t t0);
int pubs_pump(uint64_t now, uint64_t *wake_ns);
int pubs_finished(void);
int pubs_stop(void);
void pub_event(conn *c);
int64_t expected_deliveries(void);
int64_t channel_base(int ch);

/* phase.c */
int run_phase(const phase_cfg *p, int publish_only, int final);

/* check.c */
void on_message(conn *c, const char *p, size_t n, uint64_t now);

/* hub.c */
int hub_run(int port, double max_time);

#endif
