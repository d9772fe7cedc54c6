/* loadgen run|hub [options]. `run` connects the subscribers, warms them up, optionally holds
 * them idle (server RSS before and after), then runs the phases in order on the same
 * connections. Prints one JSON object on stdout; progress and problems go to stderr. */
#include "loadgen.h"

#include <getopt.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>

static const char usage[] =
    "usage: loadgen run|hub -p PORT [-s subs] [-c channels] [-P publisher connections]\n"
    "  [-b body bytes] [--proto stream|sse|ws] [--newline] [--sub '/sub/ch{}']\n"
    "  [--pub '/pub?id=ch{}'] [--hold seconds]\n"
    "  [--phase MSGS:RATE:BUDGET:DRAIN]...  messages per channel (0: unlimited), messages/s\n"
    "        over all channels (0: as fast as the server answers), seconds of publishing at\n"
    "        most (0: no limit), seconds to wait for the deliveries afterwards (0: no limit)\n"
    "  [--pid PID]... [--batch 500] [--stall 5] [--ready-timeout 60] [--max-time 120]\n";

static void add_phase(const char *spec)
{
    phase_cfg *p = &cfg.phases[cfg.nphases];
    long long msgs = 0;
    if (cfg.nphases == MAX_PHASES ||
        sscanf(spec, "%lld:%lf:%lf:%lf", &msgs, &p->rate, &p->budget, &p->drain) != 4) {
        fputs(usage, stderr);
        exit(2);
    }
    p->msgs = msgs;
    cfg.nphases++;
}

static void options(int argc, char **argv)
{
    static const struct option longs[] = {
        {"proto", 1, 0, 1},  {"newline", 0, 0, 2},       {"sub", 1, 0, 3},
        {"pub", 1, 0, 4},    {"pid", 1, 0, 5},           {"batch", 1, 0, 6},
        {"stall", 1, 0, 7},  {"ready-timeout", 1, 0, 8}, {"max-time", 1, 0, 9},
        {"hold", 1, 0, 10},  {"phase", 1, 0, 11},        {"help", 0, 0, 'h'},
        {0, 0, 0, 0}};
    cfg = (config_t){.mode = argv[1], .channels = 1, .pubs = 1, .body_bytes = 100,
                     .batch = 500, .max_time = 120, .stall = 5, .ready_timeout = 60,
                     .sub_path = "/sub/ch{}", .pub_path = "/pub?id=ch{}"};
    int o;
    while ((o = getopt_long(argc - 1, argv + 1, "p:s:c:P:b:h", longs, NULL)) != -1) {
        switch (o) {
        case 'p': cfg.port = atoi(optarg); break;
        case 's': cfg.subs = atoi(optarg); break;
        case 'c': cfg.channels = atoi(optarg); break;
        case 'P': cfg.pubs = atoi(optarg); break;
        case 'b': cfg.body_bytes = atoi(optarg); break;
        case 1:
            cfg.proto = !strcmp(optarg, "sse") ? P_SSE : !strcmp(optarg, "ws") ? P_WS : P_STREAM;
            break;
        case 2: cfg.newline = 1; break;
        case 3: cfg.sub_path = optarg; break;
        case 4: cfg.pub_path = optarg; break;
        case 5:
            if (cfg.npids < MAX_PIDS)
                cfg.pids[cfg.npids++] = atoi(optarg);
            break;
        case 6: cfg.batch = atoi(optarg); break;
        case 7: cfg.stall = atof(optarg); break;
        case 8: cfg.ready_timeout = atof(optarg); break;
        case 9: cfg.max_time = atof(optarg); break;
        case 10: cfg.hold = atof(optarg); break;
        case 11: add_phase(optarg); break;
        default: fputs(usage, stderr); exit(2);
        }
    }
    if (cfg.port <= 0 || cfg.channels <= 0 || cfg.pubs <= 0 || cfg.batch <= 0 ||
        cfg.body_bytes < 48 || cfg.body_bytes > 60000) {
        fputs(usage, stderr);
        exit(2);
    }
    for (int i = 0; i < cfg.nphases; i++)
        if (!cfg.phases[i].msgs && (cfg.subs || cfg.phases[i].budget <= 0)) {
            fputs("loadgen: unlimited messages need a budget and no subscribers\n", stderr);
            exit(2);
        }
}

/* holds the warm subscribers idle; the server's RSS growth per subscriber held */
static int hold(long long rss_before)
{
    run_for(cfg.hold);
    long long rss = pids_rss_kb();
    int64_t held = st.warm - st.closed;
    printf("\"hold\":{\"seconds\":%g,\"held\":%lld,\"rss_kb_after\":%lld,\"bytes_per_sub\":%.0f},",
           cfg.hold, (long long)held, rss,
           held > 0 ? (double)(rss - rss_before) * 1024.0 / (double)held : 0);
    return held < cfg.subs;
}

int main(int argc, char **argv)
{
    if (argc < 2 || (strcmp(argv[1], "run") && strcmp(argv[1], "hub"))) {
        fputs(usage, stderr);
        return 2;
    }
    options(argc, argv);
    signal(SIGPIPE, SIG_IGN);
    struct rlimit rl;
    getrlimit(RLIMIT_NOFILE, &rl);
    rl.rlim_cur = rl.rlim_max;
    setrlimit(RLIMIT_NOFILE, &rl);
    if (!strcmp(cfg.mode, "hub"))
        return hub_run(cfg.port, cfg.max_time);
    if ((rlim_t)cfg.subs + (rlim_t)cfg.pubs + 64 > rl.rlim_cur) {
        fprintf(stderr, "loadgen: %d connections need more than RLIMIT_NOFILE %llu\n",
                cfg.subs + cfg.pubs, (unsigned long long)rl.rlim_cur);
        return 2;
    }
    net_init();
    long long rss0 = pids_rss_kb();
    double connect_s = cfg.subs ? connect_subs() : 0;
    double warm_s = cfg.subs ? warm_up() : 0;
    printf("{\"subs\":%d,\"channels\":%d,\"pubs\":%d,\"body_bytes\":%d,\"ready\":%lld,"
           "\"failed\":%lld,\"bad_status\":%lld,\"first_bad_status\":%d,\"warm\":%lld,"
           "\"connect_s\":%.3f,\"warmup_s\":%.3f,\"rss_kb_before\":%lld,\"rss_kb_ready\":%lld,",
           cfg.subs, cfg.channels, cfg.pubs, cfg.body_bytes, (long long)st.ready,
           (long long)st.failed, (long long)st.bad_status, st.first_bad_status,
           (long long)st.warm, connect_s, warm_s, rss0, pids_rss_kb());
    int rc = st.warm < cfg.subs;
    if (cfg.hold > 0)
        rc |= hold(rss0);
    printf("\"phases\":[");
    for (int i = 0; i < cfg.nphases; i++) {
        printf(i ? "," : "");
        fflush(stdout);
        rc |= run_phase(&cfg.phases[i], cfg.subs == 0, i == cfg.nphases - 1);
    }
    printf("],\"closed\":%lld,\"other\":%lld,\"proto_errors\":%lld}\n", (long long)st.closed,
           (long long)st.other, (long long)st.proto_errors);
    close_all();
    return rc;
}
