/*
 * Footage off the device through the C ABI: camwire_device_recordings, camwire_device_fetch
 * and camwire_fetch_url against GStreamer's ONVIF replay peer (core/tests/support/
 * gst_onvif_server.py: a 20 s, 25 fps recording dated 2026-11-25T10:00:00Z with no data from
 * 10:00:04 to 10:00:16, and its SOAP template device), correct use and misuse (NULL
 * pointers, bad and reversed times, bad struct sizes, unknown tokens, an existing output, a
 * device without replay): every misuse returns an error code and writes no out-param and no
 * file. Built as C11 and as C++17 with -Wall -Wextra -Werror and run plain, under
 * AddressSanitizer+UBSan and under valgrind by ffi/tests/c_replay.rs, which then decodes the
 * clips this program leaves in --out and compares their frames with the source's. Then the
 * built-in sim's Profile G face: its recording and its one gap listed, and fetched across.
 *
 * usage: test_replay --xaddr URL --replay RTSP --plain RTSP --out DIR
 * Prints "N passed, N failed" and exits non-zero on any failure.
 */
#define _POSIX_C_SOURCE 200809L
#include "camwire.h"

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>

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

static const char *USER = "investigator";
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

/* What a fetch's progress callback saw. */
typedef struct {
    int calls;
    int went_back;
    uint64_t last_frames;
    double last_done, last_total;
} progress_seen;

static int on_progress(void *user_data, const camwire_fetch_progress *p) {
    progress_seen *s = (progress_seen *)user_data;
    if (p->frames < s->last_frames || p->media_done_secs < s->last_done) s->went_back++;
    s->calls++;
    s->last_frames = p->frames;
    s->last_done = p->media_done_secs;
    s->last_total = p->media_total_secs;
    return 0;
}

static void test_recordings(camwire_device *dev) {
    camwire_recording_list *list = NULL;
    OK(camwire_device_recordings(dev, CAMWIRE_TIME_MIN, CAMWIRE_TIME_MAX, &list));
    CHECK(camwire_recording_list_len(list) == 1);
    camwire_device_recording r;
    OK(camwire_struct_init(&r, sizeof r));
    OK(camwire_recording_list_get(list, 0, &r));
    CHECK(r.struct_size == sizeof r);
    CHECK(strcmp(r.token, "RecordingToken_1") == 0);
    CHECK(r.earliest_us == AT(0));
    CHECK(r.latest_us == AT(32));
    CHECK(!r.suspect_time);
    CHECK(r.track_count == 1);
    CHECK(r.range_count == 0 && r.gap_count == 0); /* no window asked */
    camwire_recording_track t;
    OK(camwire_struct_init(&t, sizeof t));
    OK(camwire_recording_list_track(list, 0, 0, &t));
    CHECK(strcmp(t.kind, "Video") == 0);
    CHECK(t.token != NULL && t.token[0] != '\0');
    EXPECT(camwire_recording_list_track(list, 0, 1, &t), CAMWIRE_E_OUT_OF_RANGE);
    EXPECT(camwire_recording_list_get(list, 1, &r), CAMWIRE_E_OUT_OF_RANGE);
    camwire_time_range span;
    OK(camwire_struct_init(&span, sizeof span));
    EXPECT(camwire_recording_list_range(list, 0, 0, &span), CAMWIRE_E_OUT_OF_RANGE);
    EXPECT(camwire_recording_list_gap(list, 0, 0, &span), CAMWIRE_E_OUT_OF_RANGE);
    EXPECT(camwire_recording_list_get(list, 0, NULL), CAMWIRE_E_NULL_POINTER);
    EXPECT(camwire_recording_list_track(NULL, 0, 0, &t), CAMWIRE_E_NULL_POINTER);
    /* A struct_size that was never set is refused, not trusted. */
    r.struct_size = 3;
    EXPECT(camwire_recording_list_get(list, 0, &r), CAMWIRE_E_INVALID_ARGUMENT);
    camwire_recording_list_free(list);

    /* A window: the ranges with data and the gap (FindEvents). */
    list = NULL;
    OK(camwire_device_recordings(dev, AT(-60), AT(60), &list));
    CHECK(camwire_recording_list_len(list) == 1);
    OK(camwire_struct_init(&r, sizeof r));
    OK(camwire_recording_list_get(list, 0, &r));
    CHECK(r.range_count == 2);
    CHECK(r.gap_count == 1);
    OK(camwire_recording_list_range(list, 0, 0, &span));
    CHECK(span.start_us == AT(0) && span.end_us == AT(4));
    OK(camwire_recording_list_range(list, 0, 1, &span));
    CHECK(span.start_us == AT(16) && span.end_us == AT(32));
    OK(camwire_recording_list_gap(list, 0, 0, &span));
    CHECK(span.start_us == AT(4) && span.end_us == AT(16));
    EXPECT(camwire_recording_list_range(list, 0, 2, &span), CAMWIRE_E_OUT_OF_RANGE);
    camwire_recording_list_free(list);
}

static void test_fetch(camwire_context *ctx, camwire_device *dev, const char *out_dir,
                       const char *replay, const char *plain) {
    char path[1024];
    camwire_fetch_options o;
    OK(camwire_fetch_options_init(&o, sizeof o));
    CHECK(o.struct_size == sizeof o && o.recording_token == NULL &&
          o.format == CAMWIRE_EXPORT_PROGRESSIVE && !o.real_time);
    o.camera_id = "gate";

    /* Across the gap: 10:00:02..10:00:04 and 10:00:16..10:00:20 of footage. No recording
     * named: the one covering the range is taken. */
    path_in(path, sizeof path, out_dir, "gap.mp4");
    camwire_export_result *res = NULL;
    OK(camwire_device_fetch(dev, AT(2), AT(20), path, &o, &res));
    CHECK(res != NULL);
    if (res) {
        camwire_export_view v;
        OK(camwire_struct_init(&v, sizeof v));
        OK(camwire_export_result_get2(res, &v));
        CHECK(v.frames == 150);
        CHECK(v.gap_count == 1);
        CHECK(v.actual_start_us == AT(2));
        CHECK(v.actual_end_us == AT(20));
        CHECK(strcmp(v.output, path) == 0);
        CHECK(strstr(v.manifest_json, "\"origin\"") != NULL);
        CHECK(strstr(v.manifest_json, "\"onvif-replay\"") != NULL);
        CHECK(strstr(v.manifest_json, "RecordingToken_1") != NULL);
        CHECK(strstr(v.manifest_json, "\"camera_id\": \"gate\"") != NULL);
        CHECK(strstr(v.manifest_json, "CW-TEST-0001") != NULL);
        CHECK(no_secret(v.manifest_json));
        camwire_verify_report *rep = NULL;
        OK(camwire_verify(v.output, NULL, &rep));
        camwire_verify_view vv;
        OK(camwire_struct_init(&vv, sizeof vv));
        OK(camwire_verify_report_get2(rep, &vv));
        CHECK(vv.ok && vv.output_matches && vv.sources == 0);
        camwire_verify_report_free(rep);
        camwire_export_result_free(res);
    }
    /* The output exists now: never overwritten. */
    res = NULL;
    EXPECT(camwire_device_fetch(dev, AT(2), AT(20), path, &o, &res), CAMWIRE_E_ALREADY_EXISTS);
    CHECK(res == NULL);

    /* A named recording, fragmented. */
    path_in(path, sizeof path, out_dir, "named.mp4");
    o.recording_token = "RecordingToken_1";
    o.format = CAMWIRE_EXPORT_FRAGMENTED;
    OK(camwire_device_fetch(dev, AT(1), AT(3), path, &o, &res));
    if (res) {
        camwire_export_view v;
        OK(camwire_struct_init(&v, sizeof v));
        OK(camwire_export_result_get2(res, &v));
        CHECK(v.frames == 50);
        CHECK(v.gap_count == 0);
        CHECK(strstr(v.manifest_json, "\"fragmented\"") != NULL);
        camwire_export_result_free(res);
    }

    /* An unknown recording: the device's fault, no file, no password in the message. */
    path_in(path, sizeof path, out_dir, "unknown.mp4");
    o.recording_token = "RecordingToken_9";
    res = NULL;
    camwire_result rc = camwire_device_fetch(dev, AT(1), AT(3), path, &o, &res);
    CHECK(rc != CAMWIRE_OK && res == NULL);
    CHECK(strstr(camwire_last_error_message(), "NoRecording") != NULL);
    CHECK(no_secret(camwire_last_error_message()));
    CHECK(!exists(path));
    /* A range the recording does not hold. */
    o.recording_token = "RecordingToken_1";
    EXPECT(camwire_device_fetch(dev, AT(300), AT(310), path, &o, &res), CAMWIRE_E_NOT_FOUND);
    CHECK(strstr(camwire_last_error_message(), "no recording between") != NULL);
    CHECK(!exists(path));
    /* No recording covers the range and none is named. */
    o.recording_token = NULL;
    EXPECT(camwire_device_fetch(dev, AT(3600), AT(3610), path, &o, &res), CAMWIRE_E_NOT_FOUND);
    CHECK(strstr(camwire_last_error_message(), "no recording on the device covers") != NULL);
    CHECK(res == NULL && !exists(path));

    /* From the replay URI, credentials in it: they reach neither the manifest nor errors. */
    char url[1024];
    const char *rest = strstr(replay, "://");
    snprintf(url, sizeof url, "rtsp://%s:%s@%s", USER, PASS, rest ? rest + 3 : replay);
    /* With a progress callback: Rate-Control: no is fast, so there may be only the last
     * report; it is there, with this user_data, and says the whole range is stored. */
    path_in(path, sizeof path, out_dir, "url.mp4");
    progress_seen seen;
    memset(&seen, 0, sizeof seen);
    camwire_fetch_options po;
    OK(camwire_fetch_options_init(&po, sizeof po));
    po.progress = on_progress;
    po.progress_user_data = &seen;
    OK(camwire_fetch_url(ctx, url, NULL, NULL, AT(17), AT(19), path, &po, &res));
    CHECK(seen.calls >= 1 && seen.went_back == 0);
    CHECK(seen.last_frames == 75); /* 25 of pre-roll from the keyframe at 10:00:16 */
    CHECK(seen.last_total == 2.0);
    CHECK(seen.last_done >= 1.9 && seen.last_done <= 2.0);
    if (res) {
        camwire_export_view v;
        OK(camwire_struct_init(&v, sizeof v));
        OK(camwire_export_result_get2(res, &v));
        CHECK(v.frames == 50);
        CHECK(no_secret(v.manifest_json));
        CHECK(strstr(v.manifest_json, replay) != NULL);
        camwire_export_result_free(res);
    }
    /* A mount without replay support (551): the typed error, no file. */
    path_in(path, sizeof path, out_dir, "live.mp4");
    res = NULL;
    EXPECT(camwire_fetch_url(ctx, plain, USER, PASS, AT(5), AT(7), path, NULL, &res),
           CAMWIRE_E_NO_REPLAY);
    CHECK(strstr(camwire_last_error_message(), "device cannot replay (no Profile G)") != NULL);
    CHECK(no_secret(camwire_last_error_message()));
    CHECK(res == NULL && !exists(path));
    CHECK(strcmp(camwire_result_str(CAMWIRE_E_NO_REPLAY), "CAMWIRE_E_NO_REPLAY") == 0);
}

static void test_misuse(camwire_context *ctx, camwire_device *dev, const char *out_dir,
                        const char *replay) {
    char path[1024];
    path_in(path, sizeof path, out_dir, "misuse.mp4");
    {
        /* camwire_fetch_options.audio: defaults to CAMWIRE_AUDIO_DEFAULT; an unknown value
         * is refused before anything is asked of the device, and no file is written. */
        camwire_fetch_options o;
        OK(camwire_fetch_options_init(&o, sizeof o));
        CHECK(o.audio == CAMWIRE_AUDIO_DEFAULT);
        o.audio = 99;
        camwire_export_result *bad = NULL;
        EXPECT(camwire_fetch_url(ctx, replay, USER, PASS, AT(5), AT(7), path, &o, &bad),
               CAMWIRE_E_INVALID_ARGUMENT);
        CHECK(bad == NULL && !exists(path));
    }
    camwire_recording_list *list = NULL;
    EXPECT(camwire_device_recordings(NULL, CAMWIRE_TIME_MIN, CAMWIRE_TIME_MAX, &list),
           CAMWIRE_E_NULL_POINTER);
    EXPECT(camwire_device_recordings(dev, CAMWIRE_TIME_MIN, CAMWIRE_TIME_MAX, NULL),
           CAMWIRE_E_NULL_POINTER);
    EXPECT(camwire_device_recordings(dev, AT(0), CAMWIRE_TIME_MAX, &list),
           CAMWIRE_E_INVALID_ARGUMENT);
    EXPECT(camwire_device_recordings(dev, CAMWIRE_TIME_MIN, AT(0), &list),
           CAMWIRE_E_INVALID_ARGUMENT);
    EXPECT(camwire_device_recordings(dev, AT(10), AT(0), &list), CAMWIRE_E_INVALID_ARGUMENT);
    EXPECT(camwire_device_recordings(dev, AT(0), AT(0), &list), CAMWIRE_E_INVALID_ARGUMENT);
    EXPECT(camwire_device_recordings(dev, INT64_MIN + 1, INT64_MAX - 1, &list),
           CAMWIRE_E_INVALID_ARGUMENT);
    CHECK(list == NULL);
    CHECK(camwire_recording_list_len(NULL) == 0);
    camwire_recording_list_free(NULL);
    camwire_export_result_free(NULL);

    camwire_fetch_options o;
    EXPECT(camwire_fetch_options_init(NULL, sizeof o), CAMWIRE_E_NULL_POINTER);
    EXPECT(camwire_fetch_options_init(&o, 3), CAMWIRE_E_INVALID_ARGUMENT);
    OK(camwire_fetch_options_init(&o, sizeof o));

    camwire_export_result *res = NULL;
    EXPECT(camwire_device_fetch(NULL, AT(1), AT(3), path, NULL, &res), CAMWIRE_E_NULL_POINTER);
    EXPECT(camwire_device_fetch(dev, AT(1), AT(3), NULL, NULL, &res), CAMWIRE_E_NULL_POINTER);
    EXPECT(camwire_device_fetch(dev, AT(1), AT(3), path, NULL, NULL), CAMWIRE_E_NULL_POINTER);
    EXPECT(camwire_device_fetch(dev, AT(1), AT(3), "", NULL, &res), CAMWIRE_E_INVALID_ARGUMENT);
    EXPECT(camwire_device_fetch(dev, AT(3), AT(1), path, NULL, &res),
           CAMWIRE_E_INVALID_ARGUMENT);
    EXPECT(camwire_device_fetch(dev, AT(1), AT(1), path, NULL, &res),
           CAMWIRE_E_INVALID_ARGUMENT);
    EXPECT(camwire_device_fetch(dev, INT64_MIN, INT64_MAX, path, NULL, &res),
           CAMWIRE_E_INVALID_ARGUMENT);
    o.format = 7;
    EXPECT(camwire_device_fetch(dev, AT(1), AT(3), path, &o, &res), CAMWIRE_E_INVALID_ARGUMENT);
    OK(camwire_fetch_options_init(&o, sizeof o));
    o.struct_size = 0;
    EXPECT(camwire_device_fetch(dev, AT(1), AT(3), path, &o, &res), CAMWIRE_E_INVALID_ARGUMENT);
    /* A newer header's struct with a field this library does not know: refused. */
    struct {
        camwire_fetch_options o;
        uint64_t newer_field;
    } bigger;
    memset(&bigger, 0, sizeof bigger);
    OK(camwire_fetch_options_init(&bigger.o, sizeof bigger));
    bigger.newer_field = 1;
    EXPECT(camwire_device_fetch(dev, AT(1), AT(3), path, &bigger.o, &res),
           CAMWIRE_E_UNSUPPORTED);
    CHECK(res == NULL);

    EXPECT(camwire_fetch_url(NULL, replay, NULL, NULL, AT(1), AT(3), path, NULL, &res),
           CAMWIRE_E_NULL_POINTER);
    EXPECT(camwire_fetch_url(ctx, NULL, NULL, NULL, AT(1), AT(3), path, NULL, &res),
           CAMWIRE_E_NULL_POINTER);
    EXPECT(camwire_fetch_url(ctx, "http://127.0.0.1:1/x", NULL, NULL, AT(1), AT(3), path, NULL,
                             &res),
           CAMWIRE_E_INVALID_ARGUMENT);
    EXPECT(camwire_fetch_url(ctx, replay, NULL, NULL, AT(3), AT(1), path, NULL, &res),
           CAMWIRE_E_INVALID_ARGUMENT);
    OK(camwire_fetch_options_init(&o, sizeof o));
    o.recording_token = "RecordingToken_1";
    EXPECT(camwire_fetch_url(ctx, replay, NULL, NULL, AT(1), AT(3), path, &o, &res),
           CAMWIRE_E_INVALID_ARGUMENT);
    CHECK(res == NULL);
    CHECK(!exists(path));
}

/* Back-fill: 10:00:17..10:00:19 written as recorder segments of camera "gate" under a root;
 * frames start at the keyframe at or before T1, 10:00:16 (so that a back-fill fills a gap
 * whole; export prefers it where it overlaps the recorder's file), and camwire_list_ranges
 * sees them. */
static void test_backfill(camwire_device *dev, const char *out_dir) {
    char root[1024];
    path_in(root, sizeof root, out_dir, "root");
    camwire_backfill_result *res = NULL;
    EXPECT(camwire_device_backfill(NULL, AT(17), AT(19), root, "gate", NULL, &res),
           CAMWIRE_E_NULL_POINTER);
    EXPECT(camwire_device_backfill(dev, AT(17), AT(19), NULL, "gate", NULL, &res),
           CAMWIRE_E_NULL_POINTER);
    EXPECT(camwire_device_backfill(dev, AT(17), AT(19), root, NULL, NULL, &res),
           CAMWIRE_E_NULL_POINTER);
    EXPECT(camwire_device_backfill(dev, AT(17), AT(19), root, "gate", NULL, NULL),
           CAMWIRE_E_NULL_POINTER);
    EXPECT(camwire_device_backfill(dev, AT(19), AT(17), root, "gate", NULL, &res),
           CAMWIRE_E_INVALID_ARGUMENT);
    EXPECT(camwire_device_backfill(dev, AT(17), AT(19), root, "../escape", NULL, &res),
           CAMWIRE_E_INVALID_ARGUMENT);
    camwire_fetch_options o;
    OK(camwire_fetch_options_init(&o, sizeof o));
    o.format = CAMWIRE_EXPORT_FRAGMENTED;
    EXPECT(camwire_device_backfill(dev, AT(17), AT(19), root, "gate", &o, &res),
           CAMWIRE_E_INVALID_ARGUMENT);
    CHECK(res == NULL && !exists(root));
    camwire_backfill_result_free(NULL);

    OK(camwire_device_backfill(dev, AT(17), AT(19), root, "gate", NULL, &res));
    if (!res) return;
    camwire_backfill_view v;
    OK(camwire_struct_init(&v, sizeof v));
    OK(camwire_backfill_result_get(res, &v));
    /* From the keyframe at or before T1 (10:00:16; one every 2 s) to the last frame before
       T2: a back-fill starts at T1's own keyframe, so that it fills a gap whole. */
    CHECK(v.frames == 75);
    CHECK(v.first_us == AT(16));
    CHECK(v.last_us == AT(18) + INT64_C(960000));
    CHECK(!v.rate_control);
    CHECK(v.file_count >= 1);
    CHECK(v.ended_by != NULL && v.ended_by[0] != '\0');
    const char *file = NULL;
    OK(camwire_backfill_result_file(res, 0, &file));
    CHECK(file != NULL && strstr(file, "/gate/") != NULL && exists(file));
    EXPECT(camwire_backfill_result_file(res, v.file_count, &file), CAMWIRE_E_OUT_OF_RANGE);
    EXPECT(camwire_backfill_result_file(res, 0, NULL), CAMWIRE_E_NULL_POINTER);
    EXPECT(camwire_backfill_result_get(NULL, &v), CAMWIRE_E_NULL_POINTER);
    camwire_backfill_result_free(res);

    camwire_range_list *ranges = NULL;
    OK(camwire_list_ranges(root, "gate", CAMWIRE_TIME_MIN, CAMWIRE_TIME_MAX, &ranges));
    CHECK(camwire_range_list_len(ranges) == 1);
    camwire_time_range r;
    OK(camwire_struct_init(&r, sizeof r));
    OK(camwire_range_list_get2(ranges, 0, &r));
    CHECK(r.start_us == AT(16) && r.end_us == AT(19));
    camwire_range_list_free(ranges);
}

/* The built-in sim's Profile G face: one recording over the last 2 hours (starting on a
 * multiple of 10 s) with one 60 s gap an hour in, both on 2 s keyframe boundaries; its RTSP
 * replay across the gap. */
static void test_sim(camwire_context *ctx, const char *out_dir) {
    camwire_sim_options so;
    OK(camwire_sim_options_init(&so, sizeof so));
    camwire_sim *sim = NULL;
    OK(camwire_sim_start2(&so, &sim));
    if (!sim) return;
    camwire_device *dev = NULL;
    OK(camwire_device_open(ctx, camwire_sim_xaddr(sim), NULL, NULL, 0, &dev));
    if (dev) {
        int64_t now_us = (int64_t)time(NULL) * INT64_C(1000000);
        camwire_recording_list *list = NULL;
        OK(camwire_device_recordings(dev, CAMWIRE_TIME_MIN, CAMWIRE_TIME_MAX, &list));
        CHECK(camwire_recording_list_len(list) == 1);
        camwire_device_recording r;
        OK(camwire_struct_init(&r, sizeof r));
        OK(camwire_recording_list_get(list, 0, &r));
        int64_t earliest = r.earliest_us;
        CHECK(earliest % INT64_C(10000000) == 0);
        CHECK(earliest <= now_us - INT64_C(7200000000) &&
              earliest > now_us - INT64_C(7200000000) - INT64_C(20000000));
        CHECK(r.latest_us > now_us - INT64_C(10000000));
        CHECK(r.track_count == 1);
        camwire_recording_list_free(list);

        /* From the start to 30 min after it: no gap yet. Over the whole: one 60 s gap. */
        list = NULL;
        OK(camwire_device_recordings(dev, earliest, earliest + INT64_C(1800000000), &list));
        OK(camwire_recording_list_get(list, 0, &r));
        CHECK(r.range_count == 1 && r.gap_count == 0);
        camwire_recording_list_free(list);
        list = NULL;
        OK(camwire_device_recordings(dev, earliest - INT64_C(60000000), now_us, &list));
        OK(camwire_recording_list_get(list, 0, &r));
        CHECK(r.range_count == 2 && r.gap_count == 1);
        camwire_time_range a, b, g;
        OK(camwire_struct_init(&a, sizeof a));
        OK(camwire_struct_init(&b, sizeof b));
        OK(camwire_struct_init(&g, sizeof g));
        OK(camwire_recording_list_range(list, 0, 0, &a));
        OK(camwire_recording_list_range(list, 0, 1, &b));
        OK(camwire_recording_list_gap(list, 0, 0, &g));
        CHECK(a.start_us == earliest);
        CHECK(g.start_us == a.end_us && g.end_us == b.start_us);
        CHECK(g.end_us - g.start_us == INT64_C(60000000));
        CHECK(g.start_us - earliest >= INT64_C(3598000000) &&
              g.start_us - earliest <= INT64_C(3600000000));
        CHECK(g.start_us % INT64_C(2000000) == 0);
        camwire_recording_list_free(list);

        /* Fetch 4 s either side of the gap (ffi/tests/c_replay.rs checks the frames). */
        char path[1024];
        path_in(path, sizeof path, out_dir, "sim_gap.mp4");
        camwire_export_result *res = NULL;
        int64_t t1 = g.start_us - INT64_C(4000000), t2 = g.end_us + INT64_C(4000000);
        OK(camwire_device_fetch(dev, t1, t2, path, NULL, &res));
        if (res) {
            camwire_export_view v;
            OK(camwire_struct_init(&v, sizeof v));
            OK(camwire_export_result_get2(res, &v));
            CHECK(v.frames == 200);
            CHECK(v.gap_count == 1);
            CHECK(v.actual_start_us == t1 && v.actual_end_us == t2);
            CHECK(strstr(v.manifest_json, "SimRecording_1") != NULL);
            camwire_verify_report *rep = NULL;
            OK(camwire_verify(path, NULL, &rep));
            camwire_verify_view vv;
            OK(camwire_struct_init(&vv, sizeof vv));
            OK(camwire_verify_report_get2(rep, &vv));
            CHECK(vv.ok);
            camwire_verify_report_free(rep);
            camwire_export_result_free(res);
        }
    }
    camwire_device_free(dev);
    camwire_sim_free(sim);
}

int main(int argc, char **argv) {
    const char *xaddr = NULL, *replay = NULL, *plain = NULL, *out_dir = NULL;
    for (int i = 1; i + 1 < argc; i += 2) {
        if (strcmp(argv[i], "--xaddr") == 0) xaddr = argv[i + 1];
        else if (strcmp(argv[i], "--replay") == 0) replay = argv[i + 1];
        else if (strcmp(argv[i], "--plain") == 0) plain = argv[i + 1];
        else if (strcmp(argv[i], "--out") == 0) out_dir = argv[i + 1];
    }
    if (!xaddr || !replay || !plain || !out_dir) {
        fprintf(stderr, "usage: test_replay --xaddr URL --replay RTSP --plain RTSP --out DIR\n");
        return 2;
    }
    camwire_context *ctx = NULL;
    OK(camwire_context_new2(NULL, &ctx));
    camwire_device *dev = NULL;
    OK(camwire_device_open(ctx, xaddr, USER, PASS, 0, &dev));
    if (ctx && dev) {
        test_misuse(ctx, dev, out_dir, replay);
        test_recordings(dev);
        test_fetch(ctx, dev, out_dir, replay, plain);
        test_backfill(dev, out_dir);
        /* A closed device refuses both calls. */
        OK(camwire_device_close(dev));
        camwire_recording_list *list = NULL;
        EXPECT(camwire_device_recordings(dev, CAMWIRE_TIME_MIN, CAMWIRE_TIME_MAX, &list),
               CAMWIRE_E_CLOSED);
        camwire_export_result *res = NULL;
        char path[1024];
        path_in(path, sizeof path, out_dir, "closed.mp4");
        EXPECT(camwire_device_fetch(dev, AT(1), AT(3), path, NULL, &res), CAMWIRE_E_CLOSED);
        CHECK(list == NULL && res == NULL && !exists(path));
    }
    camwire_device_free(dev);
    if (ctx) test_sim(ctx, out_dir);
    OK(camwire_context_free(ctx));
    printf("%d passed, %d failed\n", passed, failed);
    return failed == 0 ? 0 : 1;
}
