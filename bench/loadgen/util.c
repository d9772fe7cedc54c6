/* Clocks, CPU and memory of this process and of the server pids, latency percentiles. */
#include "loadgen.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <time.h>
#include <unistd.h>

uint64_t now_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

double self_cpu_s(void)
{
    struct rusage ru;
    getrusage(RUSAGE_SELF, &ru);
    return (double)ru.ru_utime.tv_sec + (double)ru.ru_utime.tv_usec / 1e6 +
           (double)ru.ru_stime.tv_sec + (double)ru.ru_stime.tv_usec / 1e6;
}

/* utime + stime of every server pid, from /proc/PID/stat (fields 14 and 15) */
double pids_cpu_s(void)
{
    double total = 0;
    long hz = sysconf(_SC_CLK_TCK);
    for (int i = 0; i < cfg.npids; i++) {
        char path[64], buf[1024];
        snprintf(path, sizeof path, "/proc/%d/stat", cfg.pids[i]);
        FILE *f = fopen(path, "r");
        if (!f)
            continue;
        size_t n = fread(buf, 1, sizeof buf - 1, f);
        fclose(f);
        buf[n] = 0;
        /* the command name may hold spaces: fields are counted after its closing ')' */
        char *q = strrchr(buf, ')');
        unsigned long ut = 0, stime = 0;
        if (q && sscanf(q + 2, "%*c %*d %*d %*d %*d %*d %*u %*u %*u %*u %*u %lu %lu", &ut,
                        &stime) == 2)
            total += (double)(ut + stime) / (double)hz;
    }
    return total;
}

/* busy CPU-seconds of the whole machine, all cores (/proc/stat): what neither the server nor
 * the generator used was taken by something else on the machine */
double machine_busy_s(void)
{
    unsigned long long v[8] = {0};
    FILE *f = fopen("/proc/stat", "r");
    if (!f)
        return 0;
    int n = fscanf(f, "cpu %llu %llu %llu %llu %llu %llu %llu %llu", &v[0], &v[1], &v[2], &v[3],
                   &v[4], &v[5], &v[6], &v[7]);
    fclose(f);
    if (n < 8)
        return 0;
    /* user nice system idle iowait irq softirq steal: all but idle and iowait */
    return (double)(v[0] + v[1] + v[2] + v[5] + v[6] + v[7]) / (double)sysconf(_SC_CLK_TCK);
}

/* sum of VmRSS over the server pids, kB */
long long pids_rss_kb(void)
{
    long long total = 0;
    for (int i = 0; i < cfg.npids; i++) {
        char path[64], line[256];
        snprintf(path, sizeof path, "/proc/%d/status", cfg.pids[i]);
        FILE *f = fopen(path, "r");
        if (!f)
            continue;
        while (fgets(line, sizeof line, f))
            if (!strncmp(line, "VmRSS:", 6)) {
                total += atoll(line + 6);
                break;
            }
        fclose(f);
    }
    return total;
}

void push_u32(uint32_t **a, size_t *n, size_t *cap, uint32_t v)
{
    if (*n == *cap) {
        *cap = *cap ? *cap * 2 : 1 << 16;
        *a = realloc(*a, *cap * sizeof **a);
        if (!*a)
            fatal("realloc");
    }
    (*a)[(*n)++] = v;
}

static int cmp_u32(const void *a, const void *b)
{
    uint32_t x = *(const uint32_t *)a, y = *(const uint32_t *)b;
    return (x > y) - (x < y);
}

void sort_u32(uint32_t *a, size_t n)
{
    if (n)
        qsort(a, n, sizeof *a, cmp_u32);
}

/* nearest-rank percentile of sorted microseconds, in milliseconds; -1 when empty */
double percentile_ms(const uint32_t *sorted, size_t n, double p)
{
    if (!n)
        return -1;
    size_t i = (size_t)(p / 100.0 * (double)(n - 1) + 0.5);
    if (i >= n)
        i = n - 1;
    return sorted[i] / 1000.0;
}

void fatal(const char *what)
{
    perror(what);
    exit(2);
}
