/*
 * Vendor playback and fetch progress through the C ABI: camwire_fetch_url with
 * camwire_fetch_options.vendor / channel / device_tz, and camwire_fetch_options.progress,
 * against GStreamer's RTSP server with vendor mounts (core/tests/support/gst_onvif_server.py
 * --vendor-mount /Streaming/tracks/101 --vendor-mount /cam/playback --utc-offset 25200: a
 * 20 s, 25 fps recording dated 2026-11-25T10:00:00Z, a keyframe every 2 s; a mount reads the
 * window from the URL as that vendor's device does, Dahua in its local time UTC+7, plays
 * from the keyframe at or before its start in real time, past its end, without 0xABAC).
 *
 * Each fetch asks for 10:00:06..10:00:10: hik.mp4 (Hikvision URL, credentials in the URL,
 * a progress callback) and dahua.mp4 (an OEM name of Dahua with device_tz "+07:00", no
 * callback); ffi/tests/c_replay.rs then checks their frames are the source's 150..250.
 * Here: the results, the manifests, camwire_verify, the callback (called on this thread,
 * with its user_data, values never going back, the last one the whole range, blocking calls
 * refused inside it), cancelling from the callback (CAMWIRE_E_CANCELLED, one call, no file)
 * and misuse (unknown vendor, bad time zone, Dahua without one, vendor fields where they do
 * not apply, a caller built before the fields existed).
 *
 * usage: test_fetch_vendor --base rtsp://HOST:PORT --xaddr URL --out DIR
 * Prints "N passed, N failed" and exits non-zero on any failure.
 */
#define _POSIX_C_SOURCE 200809L
#include "camwire.h"

#include <dirent.h>
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

static int passed, failed;

#define CHECK(cond)                                                                        \
    do {                                                                                   \
        if (cond) {                                                                        \
            passed++;                                                                      \
        } else {                                                                           \
            failed++;                                                                      \
            fprintf(stderr, "%s:%d: CHECK failed: %s (last error: %s)\n", __FILE__,       \
                    __LINE__, #cond, camwire_last_error_message());                        \
        }                                                                                  \
    } while (0)

#define EXPECT(call, want)                                                                 \
    do {                                                                                   \
        camwire_result rc_ = (call);                                                       \
        if (rc_ == (want)) {                                                               \
            passed++;                                                                      \
        } else {                                                                           \
            failed++;                                                                      \
            fprintf(stderr, "%s:%d: %s returned %s, expected %s (last error: %s)\n",       \
                    __FILE__, __LINE__, #call, camwire_result_str(rc_),                    \
                    camwire_result_str(want), camwire_last_error_message());               \
        }                                                                                  \
    } while (0)

#define OK(call) EXPECT(call, CAMWIRE_OK)

static const char *USER = "admin";
static const char *PASS = "pw-n0t-pr1nted";

/* 2026-11-25T10:00:00Z, Unix us, and seconds after it. */
#define T0 INT64_C(1795600800000000)
#define AT(s) (T0 + (int64_t)(s) * INT64_C(1000000))

static int exists(const char *path) {
    struct stat st;
    return stat(path, &st) == 0;
}

static int no_secret(const char *text) { return text && strstr(text, PASS) == NULL; }

static void path_in(char *buf, size_t n, const char *dir, const char *name) {
    snprintf(buf, n, "%s/%s", dir, name);
}

/* Files in `dir` whose name starts with `prefix` (the clip, its manifest, spool or part
 * files). */
static int files_starting(const char *dir, const char *prefix) {
    int n = 0;
    DIR *d = opendir(dir);
    if (!d) return -1;
    struct dirent *e;
    while ((e = readdir(d)) != NULL) {
        if (strncmp(e->d_name, prefix, strlen(prefix)) == 0) n++;
    }
    closedir(d);
    return n;
}

/* What the progress callback saw. */
typedef struct {
    int magic;
    int calls;
    int wrong_thread_calls;
    int went_back;
    int bad_struct;
    int nested_refused;
    int cancel_at; /* return 1 on this call (1-based); 0: never */
    pthread_t caller;
    int64_t first_frames, last_frames;
    double first_done, last_done, last_total, last_wall;
    camwire_context *ctx;
} seen_t;

#define MAGIC 0x5eed

static int on_progress(void *user_data, const camwire_fetch_progress *p) {
    seen_t *s = (seen_t *)user_data;
    if (!s || s->magic != MAGIC) {
        /* The wrong user_data: count nothing, stop the fetch. */
        failed++;
        fprintf(stderr, "progress callback got user_data %p\n", user_data);
        return 1;
    }
    s->calls++;
    if (!pthread_equal(pthread_self(), s->caller)) s->wrong_thread_calls++;
    if (!p || p->struct_size < sizeof *p) {
        s->bad_struct++;
        return 0;
    }
    if (s->calls == 1) {
        s->first_frames = (int64_t)p->frames;
        s->first_done = p->media_done_secs;
        /* A blocking camwire call from the callback is refused, not deadlocked. */
        camwire_export_result *r = NULL;
        camwire_result rc = camwire_fetch_url(s->ctx, "rtsp://127.0.0.1:1/x", NULL, NULL, AT(6),
                                              AT(10), "/nonexistent/nested.mp4", NULL, &r);
        if (rc == CAMWIRE_E_WRONG_THREAD && r == NULL) s->nested_refused++;
    } else if ((int64_t)p->frames < s->last_frames || p->media_done_secs < s->last_done ||
               p->wall_secs < s->last_wall) {
        s->went_back++;
    }
    s->last_frames = (int64_t)p->frames;
    s->last_done = p->media_done_secs;
    s->last_total = p->media_total_secs;
    s->last_wall = p->wall_secs;
    return s->cancel_at != 0 && s->calls >= s->cancel_at;
}

static void seen_init(seen_t *s, camwire_context *ctx) {
    memset(s, 0, sizeof *s);
    s->magic = MAGIC;
    s->caller = pthread_self();
    s->ctx = ctx;
}

/* The result of a vendor fetch of 10:00:06..10:00:10, its manifest and verify. */
static void check_clip(camwire_export_result *res, const char *path, const char *vendor,
                       const char *uri_part) {
    camwire_export_view v;
    OK(camwire_struct_init(&v, sizeof v));
    OK(camwire_export_result_get2(res, &v));
    CHECK(v.frames == 100);
    CHECK(v.gap_count == 0);
    CHECK(v.actual_start_us == AT(6));
    CHECK(v.actual_end_us == AT(10));
    CHECK(strcmp(v.output, path) == 0);
    CHECK(strstr(v.manifest_json, "\"vendor-playback\"") != NULL);
    CHECK(strstr(v.manifest_json, vendor) != NULL);
    CHECK(strstr(v.manifest_json, uri_part) != NULL);
    CHECK(strstr(v.manifest_json, "\"times_from\": \"rtp\"") != NULL);
    CHECK(no_secret(v.manifest_json));
    camwire_verify_report *rep = NULL;
    OK(camwire_verify(path, NULL, &rep));
    camwire_verify_view vv;
    OK(camwire_struct_init(&vv, sizeof vv));
    OK(camwire_verify_report_get2(rep, &vv));
    CHECK(vv.ok && vv.output_matches);
    camwire_verify_report_free(rep);
}

static void test_vendors(camwire_context *ctx, const char *base, const char *out_dir) {
    char path[1024], url[1024];
    const char *rest = strstr(base, "://");
    snprintf(url, sizeof url, "rtsp://%s:%s@%s", USER, PASS, rest ? rest + 3 : base);

    camwire_fetch_options o;
    OK(camwire_fetch_options_init(&o, sizeof o));
    CHECK(o.vendor == NULL && o.device_tz == NULL && o.progress == NULL &&
          o.progress_user_data == NULL && o.channel == 0);

    /* Hikvision: /Streaming/tracks/101?starttime=20261125T100006Z..., with progress. */
    seen_t seen;
    seen_init(&seen, ctx);
    o.vendor = "hikvision";
    o.progress = on_progress;
    o.progress_user_data = &seen;
    path_in(path, sizeof path, out_dir, "hik.mp4");
    camwire_export_result *res = NULL;
    OK(camwire_fetch_url(ctx, url, NULL, NULL, AT(6), AT(10), path, &o, &res));
    CHECK(res != NULL);
    if (res) {
        check_clip(res, path, "\"hikvision\"",
                   "/Streaming/tracks/101?starttime=20261125T100006Z&endtime=20261125T100010Z");
        camwire_export_result_free(res);
    }
    /* Real time over 4 s of footage: reported every 200 ms or so, and once at the end. */
    printf("hikvision progress: %d calls, frames %lld..%lld, media %.3f..%.3f of %.3f s, "
           "wall %.3f s\n",
           seen.calls, (long long)seen.first_frames, (long long)seen.last_frames,
           seen.first_done, seen.last_done, seen.last_total, seen.last_wall);
    CHECK(seen.calls >= 2);
    CHECK(seen.wrong_thread_calls == 0);
    CHECK(seen.bad_struct == 0);
    CHECK(seen.went_back == 0);
    CHECK(seen.nested_refused == 1);
    CHECK(seen.last_frames == 100);
    CHECK(seen.last_frames > seen.first_frames);
    CHECK(seen.last_done > seen.first_done);
    CHECK(seen.last_done >= 3.9 && seen.last_done <= 4.0);
    CHECK(seen.last_total == 4.0);
    int calls_at_return = seen.calls;

    /* Dahua under an OEM name, local time UTC+7 from device_tz, channel 1 spelled out, and
     * no callback. */
    OK(camwire_fetch_options_init(&o, sizeof o));
    o.vendor = "KBVision";
    o.device_tz = "+07:00";
    o.channel = 1;
    path_in(path, sizeof path, out_dir, "dahua.mp4");
    res = NULL;
    OK(camwire_fetch_url(ctx, base, USER, PASS, AT(6), AT(10), path, &o, &res));
    CHECK(res != NULL);
    if (res) {
        check_clip(res, path, "\"dahua\"",
                   "/cam/playback?channel=1&subtype=0&starttime=2026_11_25_17_00_06&endtime="
                   "2026_11_25_17_00_10");
        camwire_export_result_free(res);
    }
    /* The first fetch's callback is not called after its call returned. */
    CHECK(seen.calls == calls_at_return);

    /* Cancelled by the callback at its first call: one call, the typed code, no file (no
     * clip, manifest, spool or part file left). */
    seen_init(&seen, ctx);
    seen.cancel_at = 1;
    OK(camwire_fetch_options_init(&o, sizeof o));
    o.vendor = "hikvision";
    o.progress = on_progress;
    o.progress_user_data = &seen;
    path_in(path, sizeof path, out_dir, "cancel.mp4");
    res = NULL;
    EXPECT(camwire_fetch_url(ctx, url, NULL, NULL, AT(6), AT(10), path, &o, &res),
           CAMWIRE_E_CANCELLED);
    CHECK(strstr(camwire_last_error_message(), "cancelled") != NULL);
    CHECK(res == NULL);
    CHECK(seen.calls == 1);
    CHECK(seen.wrong_thread_calls == 0);
    CHECK(!exists(path));
    CHECK(files_starting(out_dir, "cancel") == 0);
    CHECK(strcmp(camwire_result_str(CAMWIRE_E_CANCELLED), "CAMWIRE_E_CANCELLED") == 0);
    /* The context is still usable after a cancel. */
    OK(camwire_fetch_options_init(&o, sizeof o));
    o.vendor = "hikvision";
    path_in(path, sizeof path, out_dir, "after-cancel.mp4");
    OK(camwire_fetch_url(ctx, url, NULL, NULL, AT(8), AT(9), path, &o, &res));
    if (res) {
        camwire_export_view v;
        OK(camwire_struct_init(&v, sizeof v));
        OK(camwire_export_result_get2(res, &v));
        CHECK(v.frames == 25);
        camwire_export_result_free(res);
    }
}

static void test_misuse(camwire_context *ctx, camwire_device *dev, const char *base,
                        const char *out_dir) {
    char path[1024];
    path_in(path, sizeof path, out_dir, "misuse.mp4");
    camwire_export_result *res = NULL;
    camwire_fetch_options o;

    /* An unknown vendor: the documented code, a message naming the known ones. */
    OK(camwire_fetch_options_init(&o, sizeof o));
    o.vendor = "acme";
    EXPECT(camwire_fetch_url(ctx, base, USER, PASS, AT(6), AT(10), path, &o, &res),
           CAMWIRE_E_INVALID_ARGUMENT);
    CHECK(strstr(camwire_last_error_message(), "unknown vendor \"acme\"") != NULL);
    CHECK(strstr(camwire_last_error_message(), "hikvision") != NULL);
    CHECK(no_secret(camwire_last_error_message()));
    /* "" is NULL, as for every optional string: a plain replay of the URL, which this
     * server's base path does not serve. */
    o.vendor = "";
    EXPECT(camwire_fetch_url(ctx, base, USER, PASS, AT(6), AT(10), path, &o, &res),
           CAMWIRE_E_PROTOCOL);
    CHECK(strstr(camwire_last_error_message(), "404") != NULL);
    o.vendor = "\xff\xfe";
    EXPECT(camwire_fetch_url(ctx, base, USER, PASS, AT(6), AT(10), path, &o, &res),
           CAMWIRE_E_INVALID_ARGUMENT);
    /* Dahua's URLs are in local time: no zone, no guess. */
    o.vendor = "dahua";
    EXPECT(camwire_fetch_url(ctx, base, USER, PASS, AT(6), AT(10), path, &o, &res),
           CAMWIRE_E_INVALID_ARGUMENT);
    CHECK(strstr(camwire_last_error_message(), "local time") != NULL);
    o.device_tz = "Mars/Olympus_Mons";
    EXPECT(camwire_fetch_url(ctx, base, USER, PASS, AT(6), AT(10), path, &o, &res),
           CAMWIRE_E_INVALID_ARGUMENT);
    CHECK(strstr(camwire_last_error_message(), "device_tz") != NULL);
    o.device_tz = "+25:00";
    EXPECT(camwire_fetch_url(ctx, base, USER, PASS, AT(6), AT(10), path, &o, &res),
           CAMWIRE_E_INVALID_ARGUMENT);
    /* A vendor URL needs rtsp:// and a host, and a window. */
    o.vendor = "uniview";
    o.device_tz = NULL;
    EXPECT(camwire_fetch_url(ctx, "http://127.0.0.1:1", NULL, NULL, AT(6), AT(10), path, &o,
                             &res),
           CAMWIRE_E_INVALID_ARGUMENT);
    EXPECT(camwire_fetch_url(ctx, "not a url", NULL, NULL, AT(6), AT(10), path, &o, &res),
           CAMWIRE_E_INVALID_ARGUMENT);
    EXPECT(camwire_fetch_url(ctx, base, NULL, NULL, AT(10), AT(6), path, &o, &res),
           CAMWIRE_E_INVALID_ARGUMENT);
    /* device_tz or channel without a vendor. */
    OK(camwire_fetch_options_init(&o, sizeof o));
    o.channel = 2;
    EXPECT(camwire_fetch_url(ctx, base, USER, PASS, AT(6), AT(10), path, &o, &res),
           CAMWIRE_E_INVALID_ARGUMENT);
    OK(camwire_fetch_options_init(&o, sizeof o));
    o.device_tz = "UTC";
    EXPECT(camwire_fetch_url(ctx, base, USER, PASS, AT(6), AT(10), path, &o, &res),
           CAMWIRE_E_INVALID_ARGUMENT);
    /* The vendor fields apply to camwire_fetch_url only; a back-fill reports no progress. */
    OK(camwire_fetch_options_init(&o, sizeof o));
    o.vendor = "hikvision";
    EXPECT(camwire_device_fetch(dev, AT(6), AT(10), path, &o, &res),
           CAMWIRE_E_INVALID_ARGUMENT);
    char root[1024];
    path_in(root, sizeof root, out_dir, "root");
    camwire_backfill_result *bf = NULL;
    EXPECT(camwire_device_backfill(dev, AT(6), AT(10), root, "gate", &o, &bf),
           CAMWIRE_E_INVALID_ARGUMENT);
    seen_t seen;
    seen_init(&seen, ctx);
    OK(camwire_fetch_options_init(&o, sizeof o));
    o.progress = on_progress;
    o.progress_user_data = &seen;
    EXPECT(camwire_device_backfill(dev, AT(6), AT(10), root, "gate", &o, &bf),
           CAMWIRE_E_INVALID_ARGUMENT);
    CHECK(seen.calls == 0);
    CHECK(bf == NULL && !exists(root));
    /* A callback with a NULL user_data is allowed (camwire never reads it); here the
     * fetch fails before any frame, so it is never called. */
    o.progress_user_data = NULL;
    EXPECT(camwire_fetch_url(ctx, "rtsp://127.0.0.1:1/none", NULL, NULL, AT(6), AT(10), path,
                             &o, &res),
           CAMWIRE_E_CONNECTION);

    /* A caller compiled before the vendor and progress fields existed: its struct_size
     * ends at request_timeout_ms, and whatever lies beyond is not read (the fetch is a
     * plain replay of the URL, which this server's base path does not serve). */
    OK(camwire_fetch_options_init(&o, sizeof o));
    o.struct_size = offsetof(camwire_fetch_options, request_timeout_ms) + sizeof(uint32_t);
    o.vendor = "acme";
    o.progress = on_progress;
    o.progress_user_data = NULL; /* would fail the test if it were called */
    camwire_result rc = camwire_fetch_url(ctx, base, USER, PASS, AT(6), AT(10), path, &o, &res);
    CHECK(rc != CAMWIRE_OK && rc != CAMWIRE_E_INVALID_ARGUMENT);
    CHECK(res == NULL && !exists(path));
}

int main(int argc, char **argv) {
    const char *base = NULL, *xaddr = NULL, *out_dir = NULL;
    for (int i = 1; i + 1 < argc; i += 2) {
        if (strcmp(argv[i], "--base") == 0) base = argv[i + 1];
        else if (strcmp(argv[i], "--xaddr") == 0) xaddr = argv[i + 1];
        else if (strcmp(argv[i], "--out") == 0) out_dir = argv[i + 1];
    }
    if (!base || !xaddr || !out_dir) {
        fprintf(stderr, "usage: test_fetch_vendor --base rtsp://HOST:PORT --xaddr URL --out DIR\n");
        return 2;
    }
    camwire_context *ctx = NULL;
    OK(camwire_context_new2(NULL, &ctx));
    camwire_device *dev = NULL;
    OK(camwire_device_open(ctx, xaddr, NULL, NULL, 0, &dev));
    if (ctx && dev) {
        test_misuse(ctx, dev, base, out_dir);
        test_vendors(ctx, base, out_dir);
    }
    camwire_device_free(dev);
    OK(camwire_context_free(ctx));
    printf("%d passed, %d failed\n", passed, failed);
    return failed == 0 ? 0 : 1;
}
