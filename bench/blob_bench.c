/* SPDX-License-Identifier: MIT */
/*
 * Blob benchmark: upload and download throughput of 1 MiB and 64 MiB blobs
 * against a running daemon, next to a plain file copy on the same disk as
 * the limit, and the daemon's peak RSS while many clients download a
 * 64 MiB blob at once.  Run by bench/run-blob-bench.sh, which starts the
 * daemon; it only talks HTTP to loopback and reads the daemon's /proc
 * entry.  Not part of the daemon and not run by the test suite.
 *
 *   blob-bench --url http://127.0.0.1:PORT --data DIR --pid PID [--clients N]
 *
 * A device is created directly in DIR/server.db (a user row and a device
 * row holding the SHA-256 of a fresh token) while the daemon runs.
 */
#include <curl/curl.h>
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <netinet/in.h>
#include <pthread.h>
#include <sodium.h>
#include <sqlite3.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/sendfile.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "procstat.h"

#define MIB         (1024.0 * 1024.0)
#define COPY_BUFFER (1024 * 1024)
#define MAX_CLIENTS 256
/* Client receive buffer: large, so that the figures measure the daemon
 * rather than libcurl's 16 KiB default. */
#define CLIENT_BUFFER (1024L * 1024)
#define BENCH_USER    "b0b0b0b0b0b0b0b0b0b0b0b0"
#define BENCH_DEVICE  "dev_b0b0b0b0b0b0b0b0b0b0b0b0"

struct opts {
        const char *url;
        const char *data;
        long pid;
        int clients;
};

static char token[65], auth_header[128];

static double now_s(void)
{
        struct timespec ts;
        clock_gettime(CLOCK_MONOTONIC, &ts);
        return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static void die(const char *what)
{
        fprintf(stderr, "blob-bench: %s\n", what);
        exit(1);
}

static void hex(const unsigned char *in, size_t n, char *out)
{
        static const char d[] = "0123456789abcdef";
        for (size_t i = 0; i < n; i++) {
                out[2 * i] = d[in[i] >> 4];
                out[2 * i + 1] = d[in[i] & 15];
        }
        out[2 * n] = '\0';
}

/* A user and a device in the daemon's database, with a fresh token. */
static void create_device(const char *data_dir)
{
        unsigned char raw[32], digest[32];
        char hash[65], path[4096], sql[1024];
        sqlite3 *db;

        randombytes_buf(raw, sizeof(raw));
        hex(raw, sizeof(raw), token);
        crypto_hash_sha256(digest, (const unsigned char *)token, 64);
        hex(digest, sizeof(digest), hash);
        snprintf(auth_header, sizeof(auth_header), "Authorization: Bearer %s", token);
        snprintf(path, sizeof(path), "%s/server.db", data_dir);
        if (sqlite3_open(path, &db) != SQLITE_OK)
                die("cannot open the database");
        sqlite3_busy_timeout(db, 10000);
        snprintf(sql, sizeof(sql),
                 "INSERT OR IGNORE INTO server_users (id, username, email, password_hash,"
                 " confirmed, blocked, created_at) VALUES ('" BENCH_USER "', 'bench',"
                 " 'bench@example.com', '!', 1, 0, '2026-01-01T00:00:00Z');"
                 "DELETE FROM server_devices WHERE id = '" BENCH_DEVICE "';"
                 "INSERT INTO server_devices (id, name, api_key, token_hash, user_id, vault_id,"
                 " created_at) VALUES ('" BENCH_DEVICE "', 'bench', 'disabled:" BENCH_DEVICE "',"
                 " '%s', '" BENCH_USER "', 'bench', '2026-01-01T00:00:00Z');",
                 hash);
        if (sqlite3_exec(db, sql, NULL, NULL, NULL) != SQLITE_OK)
                die(sqlite3_errmsg(db));
        sqlite3_close(db);
}

/* A file of size random bytes in dir; its name goes to path. */
static void make_file(const char *dir, size_t size, char *path, size_t path_size, char sha_out[65])
{
        unsigned char *buf = malloc(COPY_BUFFER), digest[32];
        crypto_hash_sha256_state st;
        int fd;

        if (!buf)
                die("out of memory");
        snprintf(path, path_size, "%s/bench-%zu.bin", dir, size);
        fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
        if (fd < 0)
                die("cannot create a source file");
        crypto_hash_sha256_init(&st);
        for (size_t off = 0; off < size; off += COPY_BUFFER) {
                size_t n = size - off < COPY_BUFFER ? size - off : COPY_BUFFER;
                randombytes_buf(buf, n);
                crypto_hash_sha256_update(&st, buf, n);
                if (write(fd, buf, n) != (ssize_t)n)
                        die("cannot write a source file");
        }
        crypto_hash_sha256_final(&st, digest);
        hex(digest, sizeof(digest), sha_out);
        close(fd);
        free(buf);
}

/* The limit: read src and write a copy next to it (page cache to page
 * cache, like a download that never touches the disk).  MB/s. */
static double copy_file(const char *src)
{
        char dst[4200];
        char *buf = malloc(COPY_BUFFER);
        double t0 = now_s();
        ssize_t n;
        size_t total = 0;
        int in, out;

        if (!buf)
                die("out of memory");
        if (snprintf(dst, sizeof(dst), "%s.copy", src) >= (int)sizeof(dst))
                die("path too long");
        in = open(src, O_RDONLY | O_CLOEXEC);
        out = open(dst, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
        if (in < 0 || out < 0)
                die("cannot open files to copy");
        while ((n = read(in, buf, COPY_BUFFER)) > 0) {
                if (write(out, buf, (size_t)n) != n)
                        die("copy failed");
                total += (size_t)n;
        }
        close(in);
        close(out);
        double t = now_s() - t0;
        unlink(dst);
        free(buf);
        return (double)total / MIB / t;
}

struct sender {
        int listen_fd;
        const char *path;
        size_t size;
};

static void *send_file(void *arg)
{
        struct sender *snd = arg;
        int c = accept(snd->listen_fd, NULL, NULL);
        int fd = open(snd->path, O_RDONLY | O_CLOEXEC);
        off_t off = 0;

        if (c < 0 || fd < 0)
                die("loopback reference: cannot accept or open");
        while ((size_t)off < snd->size)
                if (sendfile(c, fd, &off, snd->size - (size_t)off) <= 0)
                        die("loopback reference: sendfile failed");
        close(fd);
        close(c);
        return NULL;
}

/* A second reference: the same file sent over loopback TCP with
 * sendfile() to a reader using the client's buffer size, with no HTTP and
 * no daemon.  MB/s. */
static double loopback_tcp(const char *path, size_t size)
{
        struct sockaddr_in sin = {.sin_family = AF_INET};
        socklen_t len = sizeof(sin);
        struct sender snd = {.path = path, .size = size};
        char *buf = malloc(CLIENT_BUFFER);
        pthread_t th;
        size_t got = 0;
        ssize_t n;
        int c;

        sin.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
        snd.listen_fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
        if (!buf || snd.listen_fd < 0 || bind(snd.listen_fd, (struct sockaddr *)&sin, len) < 0 ||
            getsockname(snd.listen_fd, (struct sockaddr *)&sin, &len) < 0 ||
            listen(snd.listen_fd, 1) < 0)
                die("loopback reference: cannot listen");
        if (pthread_create(&th, NULL, send_file, &snd) != 0)
                die("loopback reference: cannot start a thread");
        c = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
        double t0 = now_s();
        if (c < 0 || connect(c, (struct sockaddr *)&sin, sizeof(sin)) < 0)
                die("loopback reference: cannot connect");
        while ((n = recv(c, buf, CLIENT_BUFFER, 0)) > 0)
                got += (size_t)n;
        double t = now_s() - t0;
        pthread_join(th, NULL);
        close(c);
        close(snd.listen_fd);
        free(buf);
        if (got != size)
                die("loopback reference: short transfer");
        return (double)size / MIB / t;
}

static size_t discard(char *p, size_t size, size_t nmemb, void *ud)
{
        size_t *count = ud;
        (void)p;
        *count += size * nmemb;
        return size * nmemb;
}

static CURL *easy_for(const char *url, struct curl_slist *headers, size_t *count)
{
        CURL *c = curl_easy_init();
        if (!c)
                die("curl_easy_init");
        curl_easy_setopt(c, CURLOPT_URL, url);
        curl_easy_setopt(c, CURLOPT_HTTPHEADER, headers);
        curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, discard);
        curl_easy_setopt(c, CURLOPT_WRITEDATA, count);
        curl_easy_setopt(c, CURLOPT_NOSIGNAL, 1L);
        curl_easy_setopt(c, CURLOPT_BUFFERSIZE, CLIENT_BUFFER);
        curl_easy_setopt(c, CURLOPT_UPLOAD_BUFFERSIZE, CLIENT_BUFFER);
        return c;
}

/* Upload path rounds times, one after the other; MB/s over all rounds. */
static double bench_upload(const struct opts *o, const char *path, size_t size, int rounds)
{
        char url[512];
        struct curl_slist *h = curl_slist_append(NULL, auth_header);
        double total = 0;

        snprintf(url, sizeof(url), "%s/api/v1/blobs/", o->url);
        for (int i = 0; i < rounds; i++) {
                size_t got = 0;
                long status = 0;
                CURL *c = easy_for(url, h, &got);
                curl_mime *mime = curl_mime_init(c);
                curl_mimepart *part = curl_mime_addpart(mime);
                curl_mime_name(part, "file");
                curl_mime_filedata(part, path);
                curl_easy_setopt(c, CURLOPT_MIMEPOST, mime);
                double t0 = now_s();
                CURLcode cc = curl_easy_perform(c);
                double t = now_s() - t0;
                curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &status);
                if (cc != CURLE_OK || status != 200)
                        die("upload failed");
                total += t;
                curl_mime_free(mime);
                curl_easy_cleanup(c);
        }
        curl_slist_free_all(h);
        return (double)size * rounds / MIB / total;
}

/* Download n copies of sha with up to n clients at once (curl multi).
 * Returns the aggregate MB/s; *ret_hwm_kb gets the daemon's VmHWM after. */
static double bench_download(const struct opts *o, const char *sha, size_t size, int n,
                             long *ret_hwm_kb);

static long read_hwm_kb(long pid)
{
        char path[64], line[256];
        long kb = -1;
        FILE *f;

        snprintf(path, sizeof(path), "/proc/%ld/status", pid);
        f = fopen(path, "r");
        if (!f)
                return -1;
        while (fgets(line, sizeof(line), f))
                if (sscanf(line, "VmHWM: %ld kB", &kb) == 1)
                        break;
        fclose(f);
        return kb;
}

/* Reset the daemon's peak RSS to its current RSS (Linux >= 4.0). */
static void reset_hwm(long pid)
{
        char path[64];
        FILE *f;

        snprintf(path, sizeof(path), "/proc/%ld/clear_refs", pid);
        f = fopen(path, "w");
        if (!f)
                return;
        fputs("5", f);
        fclose(f);
}

static double bench_download(const struct opts *o, const char *sha, size_t size, int n,
                             long *ret_hwm_kb)
{
        char url[512];
        struct curl_slist *h = curl_slist_append(NULL, auth_header);
        size_t got[MAX_CLIENTS] = {0};
        CURL *easy[MAX_CLIENTS];
        CURLM *m = curl_multi_init();
        int running = 0;

        snprintf(url, sizeof(url), "%s/api/v1/blobs/%s", o->url, sha);
        reset_hwm(o->pid);
        for (int i = 0; i < n; i++) {
                easy[i] = easy_for(url, h, &got[i]);
                curl_multi_add_handle(m, easy[i]);
        }
        double t0 = now_s();
        do {
                if (curl_multi_perform(m, &running) != CURLM_OK)
                        die("curl_multi_perform");
                if (running)
                        curl_multi_poll(m, NULL, 0, 1000, NULL);
        } while (running);
        double t = now_s() - t0;
        if (ret_hwm_kb)
                *ret_hwm_kb = read_hwm_kb(o->pid);
        for (int i = 0; i < n; i++) {
                long status = 0;
                curl_easy_getinfo(easy[i], CURLINFO_RESPONSE_CODE, &status);
                if (status != 200 || got[i] != size)
                        die("download failed");
                curl_multi_remove_handle(m, easy[i]);
                curl_easy_cleanup(easy[i]);
        }
        curl_multi_cleanup(m);
        curl_slist_free_all(h);
        return (double)size * n / MIB / t;
}

/* One client downloading rounds times over one kept-alive connection, as
 * a syncing client does.  MB/s over all rounds. */
static double bench_download_single(const struct opts *o, const char *sha, size_t size, int rounds)
{
        char url[512];
        struct curl_slist *h = curl_slist_append(NULL, auth_header);
        size_t got = 0;
        CURL *c;

        snprintf(url, sizeof(url), "%s/api/v1/blobs/%s", o->url, sha);
        c = easy_for(url, h, &got);
        if (curl_easy_perform(c) != CURLE_OK) /* warm-up: connect, first read */
                die("download failed");
        got = 0;
        double t0 = now_s();
        for (int i = 0; i < rounds; i++)
                if (curl_easy_perform(c) != CURLE_OK)
                        die("download failed");
        double t = now_s() - t0;
        if (got != size * (size_t)rounds)
                die("download failed");
        curl_easy_cleanup(c);
        curl_slist_free_all(h);
        return (double)size * rounds / MIB / t;
}

static void parse_args(int argc, char **argv, struct opts *o)
{
        static const struct option longopts[] = {
                {"url", required_argument, NULL, 'u'},
                {"data", required_argument, NULL, 'd'},
                {"pid", required_argument, NULL, 'p'},
                {"clients", required_argument, NULL, 'c'},
                {0},
        };
        int c;

        *o = (struct opts){.clients = 32};
        while ((c = getopt_long(argc, argv, "", longopts, NULL)) != -1) {
                if (c == 'u')
                        o->url = optarg;
                else if (c == 'd')
                        o->data = optarg;
                else if (c == 'p')
                        o->pid = strtol(optarg, NULL, 10);
                else if (c == 'c')
                        o->clients = atoi(optarg);
                else
                        die("usage: blob-bench --url URL --data DIR --pid PID [--clients N]");
        }
        if (!o->url || !o->data || o->pid <= 0 || o->clients < 1 || o->clients > MAX_CLIENTS)
                die("usage: blob-bench --url URL --data DIR --pid PID [--clients N]");
}

int main(int argc, char **argv)
{
        static const size_t sizes[] = {1u << 20, 64u << 20};
        static const int rounds[] = {20, 3};
        char path[2][4200], sha[2][65];
        struct opts o;
        long hwm_kb = -1;

        parse_args(argc, argv, &o);
        if (sodium_init() < 0 || curl_global_init(CURL_GLOBAL_ALL) != CURLE_OK)
                die("cannot initialise libraries");
        create_device(o.data);
        printf("blob benchmark against %s (daemon pid %ld)\n\n", o.url, o.pid);
        printf("%-8s %10s %10s %10s %10s %8s %8s %10s %10s\n", "size", "copy", "tcp", "upload",
               "download", "dl/copy", "dl/tcp", "up ms/MB", "dl ms/MB");
        for (int i = 0; i < 2; i++) {
                make_file(o.data, sizes[i], path[i], sizeof(path[i]), sha[i]);
                double c0 = proc_cpu_s(o.pid);
                double up = bench_upload(&o, path[i], sizes[i], rounds[i]);
                double up_cpu = proc_cpu_s(o.pid) - c0;
                double copy = 0;
                for (int k = 0; k < 3; k++) {
                        double c = copy_file(path[i]);
                        copy = c > copy ? c : copy;
                }
                double tcp = 0;
                for (int k = 0; k < 3; k++) {
                        double r = loopback_tcp(path[i], sizes[i]);
                        tcp = r > tcp ? r : tcp;
                }
                c0 = proc_cpu_s(o.pid);
                double down = bench_download_single(&o, sha[i], sizes[i], rounds[i] * 2);
                double down_cpu = proc_cpu_s(o.pid) - c0;
                double mb = (double)sizes[i] / MIB;
                printf("%-8s %10.0f %10.0f %10.0f %10.0f %8.2f %8.2f %10.2f %10.2f\n",
                       i == 0 ? "1 MiB" : "64 MiB", copy, tcp, up, down, down / copy, down / tcp,
                       up_cpu * 1e3 / (mb * rounds[i]), down_cpu * 1e3 / (mb * rounds[i] * 2));
        }
        printf("(MB/s.  copy: read+write of the file in the data directory, best of 3: the "
               "limit;\n tcp: the file by sendfile() over loopback TCP, no HTTP, best of 3: for "
               "reference;\n upload: one client, %d/%d rounds; download: one kept-alive client, "
               "%d/%d rounds)\n",
               rounds[0], rounds[1], rounds[0] * 2, rounds[1] * 2);
        printf("(up/dl ms/MB: the daemon's CPU time, user + system, per MiB moved)\n");
        double agg = bench_download(&o, sha[1], sizes[1], o.clients, &hwm_kb);
        printf("\n%d clients downloading the 64 MiB blob at once: %.0f MB/s in total, "
               "daemon peak RSS (VmHWM) %.1f MiB\n",
               o.clients, agg, (double)hwm_kb / 1024.0);
        proc_print_memory(o.pid, "after the blob runs");
        proc_print_memory_settled(o.pid, "after the blob runs");
        for (int i = 0; i < 2; i++)
                unlink(path[i]);
        curl_global_cleanup();
        return 0;
}
