/*
 * Exercises every function of camwire.h, correct use and misuse (NULL pointers, double close,
 * free of NULL, zero timeouts, tiny buffers, calls from the wrong thread): every misuse must
 * return an error code, never crash. Built as C11 and as C++17 with -Wall -Wextra -Werror and
 * run plain, under AddressSanitizer+UBSan and under valgrind by ffi/tests/c_api.rs.
 *
 * usage: test_api [--onvif URL] [--discovery HOST:PORT] [--rtsp URL] [--rtsp-pcmu URL]
 *                 [--out DIR]
 *   --out: an empty directory for recordings and exports (default: a new one under /tmp)
 *   --onvif: an ONVIF device service (user "operator", password "Tr0ub4dor&3")
 *   --discovery: a WS-Discovery responder for a unicast probe
 *   --rtsp: another RTSP server to pull frames from (e.g. GStreamer)
 *   --rtsp-pcmu: an RTSP server sending H.264 and G.711 mu-law 8 kHz mono audio
 * Prints "N passed, N failed" and exits non-zero on any failure.
 */
#define _POSIX_C_SOURCE 200809L
#include "camwire.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <math.h>
#include <time.h>

/* Test-only entry point, deliberately not in the header. */
#ifdef __cplusplus
extern "C" {
#endif
camwire_result camwire_debug_panic(void);
#ifdef __cplusplus
}
#endif

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

static const char *ONVIF_USER = "operator";
static const char *ONVIF_PASS = "Tr0ub4dor&3";
static const char *SIM_PASS = "sim-pw-Zq9!";
/* The S3 test server's keys (ffi/tests/support starts s3s-fs with them). */
static const char *S3_KEY = "AKCAMWIREC";
static const char *S3_SECRET = "SKcamwire/c+secret";

static void sleep_ms(long ms) {
    struct timespec ts;
    ts.tv_sec = ms / 1000;
    ts.tv_nsec = (ms % 1000) * 1000000L;
    nanosleep(&ts, NULL);
}

static int load(int *p) { return __atomic_load_n(p, __ATOMIC_SEQ_CST); }
static void add(int *p, int v) { __atomic_fetch_add(p, v, __ATOMIC_SEQ_CST); }
static int add_fetch(int *p) { return __atomic_add_fetch(p, 1, __ATOMIC_SEQ_CST); }

/* ---- log callback: counts lines, watches for secrets ---- */
static int log_lines, log_secret_seen;
static void on_log(void *user_data, camwire_log_level level, const char *target,
                   const char *message) {
    int *tag = (int *)user_data;
    if (*tag != 42 || level < CAMWIRE_LOG_ERROR || level > CAMWIRE_LOG_TRACE || !target)
        add(&log_secret_seen, 1000);
    if (strstr(message, SIM_PASS) || strstr(message, ONVIF_PASS) ||
        strstr(message, "not-the-password") || strstr(message, S3_SECRET))
        add(&log_secret_seen, 1);
    add(&log_lines, 1);
}

static void test_basics(void) {
    char want[64];
    snprintf(want, sizeof want, "%d.%d.%d", CAMWIRE_VERSION_MAJOR, CAMWIRE_VERSION_MINOR,
             CAMWIRE_VERSION_PATCH);
    CHECK(strcmp(camwire_version(), want) == 0);
    CHECK(strcmp(camwire_result_str(CAMWIRE_OK), "CAMWIRE_OK") == 0);
    CHECK(strcmp(camwire_result_str(CAMWIRE_E_TIMEOUT), "CAMWIRE_E_TIMEOUT") == 0);
    CHECK(strcmp(camwire_result_str(-9999), "CAMWIRE_E_UNKNOWN") == 0);
    for (int c = 0; c >= CAMWIRE_E_VERIFY_FAILED; c--)
        CHECK(strcmp(camwire_result_str(c), "CAMWIRE_E_UNKNOWN") != 0);
    CHECK(camwire_last_error_message() != NULL);

    /* A panic inside Rust is caught at the boundary. */
    EXPECT(camwire_debug_panic(), CAMWIRE_E_PANIC);
    CHECK(strstr(camwire_last_error_message(), "deliberate panic") != NULL);
    /* ... and the library still works afterwards. */
    EXPECT(camwire_context_options_init(NULL, sizeof(camwire_context_options)), CAMWIRE_E_NULL_POINTER);
    CHECK(strstr(camwire_last_error_message(), "NULL") != NULL);

    /* Frees of NULL are no-ops. */
    CHECK(camwire_context_free(NULL) == CAMWIRE_OK);
    camwire_stream_free(NULL);
    camwire_stream_info_free(NULL);
    camwire_frame_free(NULL);
    camwire_device_free(NULL);
    camwire_device_info_free(NULL);
    camwire_device_list_free(NULL);
    camwire_profile_list_free(NULL);
    camwire_buffer_free(NULL);
    camwire_sim_free(NULL);
    camwire_recorder_free(NULL);
    camwire_status_list_free(NULL);
    camwire_range_list_free(NULL);
    camwire_export_result_free(NULL);
    camwire_verify_report_free(NULL);
    CHECK(camwire_status_list_len(NULL) == 0);
    CHECK(camwire_buffer_data(NULL) == NULL);
    CHECK(camwire_buffer_len(NULL) == 0);
    CHECK(camwire_sim_url(NULL) == NULL);
    CHECK(camwire_device_list_len(NULL) == 0);
    CHECK(camwire_profile_list_len(NULL) == 0);

    /* Context creation misuse. */
    camwire_context *ctx = (camwire_context *)&failed; /* must stay untouched on error */
    EXPECT(camwire_context_new2(NULL, NULL), CAMWIRE_E_NULL_POINTER);
    camwire_context_options o;
    OK(camwire_context_options_init(&o, sizeof o));
    o.log_level = 99;
    EXPECT(camwire_context_new2(&o, &ctx), CAMWIRE_E_INVALID_ARGUMENT);
    CHECK(ctx == (camwire_context *)&failed);
    o.log_level = CAMWIRE_LOG_INFO;
    o.worker_threads = 100000;
    EXPECT(camwire_context_new2(&o, &ctx), CAMWIRE_E_INVALID_ARGUMENT);
    /* Defaults (NULL options), then freed at once. */
    ctx = NULL;
    OK(camwire_context_new2(NULL, &ctx));
    CHECK(ctx != NULL);
    OK(camwire_context_free(ctx));
}

/* ---- frames pulled by hand ---- */
static void check_frame(camwire_frame *f, int64_t *last_pts) {
    camwire_frame_info fi;
    camwire_struct_init(&fi, sizeof fi);
    EXPECT(camwire_frame_get_info2(NULL, &fi), CAMWIRE_E_NULL_POINTER);
    EXPECT(camwire_frame_get_info2(f, NULL), CAMWIRE_E_NULL_POINTER);
    OK(camwire_frame_get_info2(f, &fi));
    CHECK(fi.payload_size > 4 && fi.nal_count >= 1);
    CHECK(fi.dts == fi.pts);
    CHECK(fi.wallclock_us > 1500000000LL * 1000000LL);
    if (*last_pts != INT64_MIN) CHECK(fi.pts > *last_pts);
    *last_pts = fi.pts;

    /* Size query, tiny buffer, exact buffer. */
    size_t size = 0;
    EXPECT(camwire_frame_copy_payload(f, CAMWIRE_PAYLOAD_AVC, NULL, &size),
           CAMWIRE_E_BUFFER_TOO_SMALL);
    CHECK(size == fi.payload_size);
    uint8_t tiny[3];
    size = sizeof tiny;
    EXPECT(camwire_frame_copy_payload(f, CAMWIRE_PAYLOAD_AVC, tiny, &size),
           CAMWIRE_E_BUFFER_TOO_SMALL);
    CHECK(size == fi.payload_size);
    EXPECT(camwire_frame_copy_payload(f, CAMWIRE_PAYLOAD_AVC, tiny, NULL),
           CAMWIRE_E_NULL_POINTER);
    EXPECT(camwire_frame_copy_payload(f, 7, tiny, &size), CAMWIRE_E_INVALID_ARGUMENT);
    EXPECT(camwire_frame_copy_payload(NULL, CAMWIRE_PAYLOAD_AVC, tiny, &size),
           CAMWIRE_E_NULL_POINTER);
    uint8_t *avc = (uint8_t *)malloc(fi.payload_size);
    size = fi.payload_size;
    OK(camwire_frame_copy_payload(f, CAMWIRE_PAYLOAD_AVC, avc, &size));
    CHECK(size == fi.payload_size);
    uint32_t first = ((uint32_t)avc[0] << 24) | ((uint32_t)avc[1] << 16) |
                     ((uint32_t)avc[2] << 8) | avc[3];
    CHECK(first >= 1 && first + 4 <= size);

    /* Frame-owned contiguous payloads, both formats. */
    const uint8_t *data = NULL;
    size_t len = 0;
    EXPECT(camwire_frame_payload(f, CAMWIRE_PAYLOAD_AVC, NULL, &len), CAMWIRE_E_NULL_POINTER);
    EXPECT(camwire_frame_payload(f, 9, &data, &len), CAMWIRE_E_INVALID_ARGUMENT);
    OK(camwire_frame_payload(f, CAMWIRE_PAYLOAD_AVC, &data, &len));
    CHECK(len == fi.payload_size && memcmp(data, avc, len) == 0);
    OK(camwire_frame_payload(f, CAMWIRE_PAYLOAD_ANNEXB, &data, &len));
    CHECK(len == fi.payload_size && data[0] == 0 && data[1] == 0 && data[2] == 0 &&
          data[3] == 1);
    CHECK(memcmp(data + 4, avc + 4, first) == 0);
    free(avc);
}

static void test_stream_pull(camwire_context *ctx, const char *url, int frames, int auth) {
    camwire_stream_options so;
    EXPECT(camwire_stream_options_init(NULL, sizeof(camwire_stream_options)), CAMWIRE_E_NULL_POINTER);
    OK(camwire_stream_options_init(&so, sizeof so));
    CHECK(so.transport == CAMWIRE_TRANSPORT_TCP && so.connect_timeout_ms > 0);
    camwire_stream *s = NULL;
    EXPECT(camwire_stream_open2(NULL, url, &so, &s), CAMWIRE_E_NULL_POINTER);
    EXPECT(camwire_stream_open2(ctx, NULL, &so, &s), CAMWIRE_E_NULL_POINTER);
    EXPECT(camwire_stream_open2(ctx, url, &so, NULL), CAMWIRE_E_NULL_POINTER);
    EXPECT(camwire_stream_open2(ctx, "http://not-rtsp/", &so, &s), CAMWIRE_E_INVALID_ARGUMENT);
    so.transport = 17;
    EXPECT(camwire_stream_open2(ctx, url, &so, &s), CAMWIRE_E_INVALID_ARGUMENT);
    so.transport = CAMWIRE_TRANSPORT_TCP;
    CHECK(s == NULL);
    if (auth) {
        EXPECT(camwire_stream_open2(ctx, url, &so, &s), CAMWIRE_E_AUTH);
        so.username = "admin";
        so.password = "not-the-password";
        EXPECT(camwire_stream_open2(ctx, url, &so, &s), CAMWIRE_E_AUTH);
        CHECK(strstr(camwire_last_error_message(), "not-the-password") == NULL);
        so.password = SIM_PASS;
    }
    /* zero timeouts mean "the default" when opening */
    so.connect_timeout_ms = 0;
    so.request_timeout_ms = 0;
    so.idle_timeout_ms = 0;
    OK(camwire_stream_open2(ctx, url, &so, &s));
    if (!s) return;

    camwire_stream_info *info = NULL;
    EXPECT(camwire_stream_get_info(NULL, 1000, &info), CAMWIRE_E_NULL_POINTER);
    EXPECT(camwire_stream_get_info(s, 1000, NULL), CAMWIRE_E_NULL_POINTER);
    OK(camwire_stream_get_info(s, 5000, &info));
    camwire_stream_info_view v;
    camwire_struct_init(&v, sizeof v);
    EXPECT(camwire_stream_info_get2(NULL, &v), CAMWIRE_E_NULL_POINTER);
    EXPECT(camwire_stream_info_get2(info, NULL), CAMWIRE_E_NULL_POINTER);
    OK(camwire_stream_info_get2(info, &v));
    CHECK(strncmp(v.codec, "avc1.", 5) == 0);
    CHECK(v.width > 0 && v.height > 0 && v.profile && v.profile[0]);
    CHECK(v.avcc_len > 7 && v.avcc[0] == 1);
    CHECK(v.transport == CAMWIRE_TRANSPORT_TCP);
    camwire_stream_info_free(info);

    camwire_frame *f = NULL;
    EXPECT(camwire_stream_next_frame(NULL, 1000, &f), CAMWIRE_E_NULL_POINTER);
    EXPECT(camwire_stream_next_frame(s, 1000, NULL), CAMWIRE_E_NULL_POINTER);
    /* Zero timeout: a frame only if one is complete already. */
    int keyframes = 0;
    camwire_result rc = camwire_stream_next_frame(s, 0, &f);
    CHECK(rc == CAMWIRE_OK || rc == CAMWIRE_E_TIMEOUT);
    if (rc == CAMWIRE_OK) {
        camwire_frame_info fi;
        camwire_struct_init(&fi, sizeof fi);
        OK(camwire_frame_get_info2(f, &fi));
        keyframes += fi.keyframe;
        camwire_frame_free(f);
    }
    f = NULL;
    int64_t last = INT64_MIN;
    camwire_frame *kept = NULL;
    for (int i = 0; i < frames; i++) {
        rc = camwire_stream_next_frame(s, 5000, &f);
        CHECK(rc == CAMWIRE_OK);
        if (rc != CAMWIRE_OK) break;
        camwire_frame_info fi;
        camwire_struct_init(&fi, sizeof fi);
        OK(camwire_frame_get_info2(f, &fi));
        keyframes += fi.keyframe;
        check_frame(f, &last);
        if (i == 3) {
            kept = f; /* outlives the stream */
        } else {
            camwire_frame_free(f);
        }
    }
    CHECK(keyframes >= 1);

    OK(camwire_stream_close(s));
    OK(camwire_stream_close(s)); /* idempotent */
    EXPECT(camwire_stream_next_frame(s, 100, &f), CAMWIRE_E_CLOSED);
    EXPECT(camwire_stream_get_info(s, 100, &info), CAMWIRE_E_CLOSED);
    EXPECT(camwire_stream_close(NULL), CAMWIRE_E_NULL_POINTER);
    camwire_stream_free(s);
    if (kept) {
        int64_t l2 = INT64_MIN;
        check_frame(kept, &l2);
        camwire_frame_free(kept);
    }
}

/* ---- tracks: audio frames and the track list (H.264 + PCMU server) ---- */
static void check_tracks(camwire_stream *s, int audio_set_up) {
    camwire_stream_info *info = NULL;
    OK(camwire_stream_get_info(s, 5000, &info));
    if (!info) return;
    CHECK(camwire_stream_info_tracks_len(NULL) == 0);
    CHECK(camwire_stream_info_tracks_len(info) == 2);
    camwire_stream_info_view v;
    camwire_struct_init(&v, sizeof v);
    OK(camwire_stream_info_get2(info, &v));
    camwire_track_view t;
    camwire_struct_init(&t, sizeof t);
    EXPECT(camwire_stream_info_track(NULL, 0, &t), CAMWIRE_E_NULL_POINTER);
    EXPECT(camwire_stream_info_track(info, 0, NULL), CAMWIRE_E_NULL_POINTER);
    EXPECT(camwire_stream_info_track(info, 2, &t), CAMWIRE_E_OUT_OF_RANGE);
    t.struct_size = 4;
    EXPECT(camwire_stream_info_track(info, 0, &t), CAMWIRE_E_INVALID_ARGUMENT);
    camwire_struct_init(&t, sizeof t);
    OK(camwire_stream_info_track(info, 0, &t));
    CHECK(t.track == 0 && t.kind == CAMWIRE_TRACK_VIDEO && t.codec == CAMWIRE_CODEC_H264);
    CHECK(t.clock_rate == 90000 && t.skipped == NULL);
    CHECK(t.codec_string && strcmp(t.codec_string, v.codec) == 0);
    CHECK(strcmp(t.encoding, "H264") == 0 && strcmp(t.media, "video") == 0);
    CHECK(t.config_len == v.avcc_len && t.config && memcmp(t.config, v.avcc, v.avcc_len) == 0);
    camwire_struct_init(&t, sizeof t);
    OK(camwire_stream_info_track(info, 1, &t));
    CHECK(t.kind == CAMWIRE_TRACK_AUDIO && t.codec == CAMWIRE_CODEC_PCMU);
    CHECK(strcmp(t.codec_string, "ulaw") == 0 && strcmp(t.encoding, "PCMU") == 0);
    CHECK(strcmp(t.media, "audio") == 0);
    CHECK(t.clock_rate == 8000 && t.channels == 1);
    CHECK(t.config == NULL && t.config_len == 0);
    if (audio_set_up) {
        CHECK(t.track == 1 && t.skipped == NULL);
    } else {
        CHECK(t.track == -1 && t.skipped && strstr(t.skipped, "not requested") != NULL);
    }
    camwire_stream_info_free(info);
}

static void test_stream_audio(camwire_context *ctx, const char *url) {
    CHECK(strcmp(camwire_codec_name(CAMWIRE_CODEC_PCMU), "PCMU") == 0);
    CHECK(strcmp(camwire_codec_name(CAMWIRE_CODEC_H265), "H265") == 0);
    CHECK(strcmp(camwire_codec_name(77), "UNKNOWN") == 0);
    camwire_stream_options so;
    OK(camwire_stream_options_init(&so, sizeof so));
    CHECK(so.audio == CAMWIRE_AUDIO_DEFAULT);
    camwire_stream *s = NULL;
    so.audio = 9;
    EXPECT(camwire_stream_open2(ctx, url, &so, &s), CAMWIRE_E_INVALID_ARGUMENT);
    CHECK(s == NULL);

    /* The default: pictures only, the audio track listed as not requested. */
    so.audio = CAMWIRE_AUDIO_DEFAULT;
    OK(camwire_stream_open2(ctx, url, &so, &s));
    if (!s) return;
    check_tracks(s, 0);
    for (int i = 0; i < 40; i++) {
        camwire_frame *f = NULL;
        camwire_result rc = camwire_stream_next_frame(s, 5000, &f);
        CHECK(rc == CAMWIRE_OK);
        if (rc != CAMWIRE_OK) break;
        camwire_track_kind kind = 99;
        uint32_t track = 99, rate = 0, samples = 99;
        camwire_codec codec = 99;
        OK(camwire_frame_kind(f, &kind));
        OK(camwire_frame_track(f, &track));
        OK(camwire_frame_codec(f, &codec));
        OK(camwire_frame_clock_rate(f, &rate));
        OK(camwire_frame_samples(f, &samples));
        CHECK(kind == CAMWIRE_TRACK_VIDEO && track == 0 && codec == CAMWIRE_CODEC_H264);
        CHECK(rate == 90000 && samples == 0);
        camwire_frame_free(f);
    }
    camwire_stream_free(s);

    /* With audio: mu-law frames on track 1 between the pictures. */
    s = NULL;
    so.audio = CAMWIRE_AUDIO_FIRST;
    OK(camwire_stream_open2(ctx, url, &so, &s));
    if (!s) return;
    check_tracks(s, 1);
    int audio = 0, video = 0;
    int64_t next_pts = INT64_MIN, first_wall = 0, last_wall = 0;
    uint64_t audio_samples = 0, last_samples = 0;
    for (int i = 0; i < 400 && audio < 25; i++) {
        camwire_frame *f = NULL;
        camwire_result rc = camwire_stream_next_frame(s, 5000, &f);
        CHECK(rc == CAMWIRE_OK);
        if (rc != CAMWIRE_OK) break;
        camwire_track_kind kind = 99;
        OK(camwire_frame_kind(f, &kind));
        EXPECT(camwire_frame_kind(NULL, &kind), CAMWIRE_E_NULL_POINTER);
        EXPECT(camwire_frame_kind(f, NULL), CAMWIRE_E_NULL_POINTER);
        if (kind == CAMWIRE_TRACK_VIDEO) {
            video++;
            camwire_frame_free(f);
            continue;
        }
        CHECK(kind == CAMWIRE_TRACK_AUDIO);
        uint32_t track = 0, rate = 0, samples = 0;
        camwire_codec codec = 0;
        OK(camwire_frame_track(f, &track));
        OK(camwire_frame_codec(f, &codec));
        OK(camwire_frame_clock_rate(f, &rate));
        OK(camwire_frame_samples(f, &samples));
        EXPECT(camwire_frame_track(f, NULL), CAMWIRE_E_NULL_POINTER);
        EXPECT(camwire_frame_codec(NULL, &codec), CAMWIRE_E_NULL_POINTER);
        CHECK(track == 1 && codec == CAMWIRE_CODEC_PCMU && rate == 8000 && samples > 0);
        camwire_frame_info fi;
        camwire_struct_init(&fi, sizeof fi);
        OK(camwire_frame_get_info2(f, &fi));
        /* Mono mu-law: one byte per sample; no NAL units; every frame decodes alone. */
        CHECK(fi.payload_size == samples && fi.nal_count == 0 && fi.keyframe);
        CHECK(fi.pts == fi.dts && fi.loss == 0);
        if (next_pts != INT64_MIN) CHECK(fi.pts == next_pts); /* pts advance by samples */
        next_pts = fi.pts + samples;
        if (audio == 0) first_wall = fi.wallclock_us;
        last_wall = fi.wallclock_us;
        audio_samples += samples;
        last_samples = samples;
        /* Both formats give the bytes as sent; the copy equals the frame-owned buffer. */
        const uint8_t *avc = NULL, *annexb = NULL;
        size_t avc_len = 0, annexb_len = 0;
        OK(camwire_frame_payload(f, CAMWIRE_PAYLOAD_AVC, &avc, &avc_len));
        uint8_t *copy = (uint8_t *)malloc(avc_len);
        if (copy) {
            memcpy(copy, avc, avc_len);
            OK(camwire_frame_payload(f, CAMWIRE_PAYLOAD_ANNEXB, &annexb, &annexb_len));
            CHECK(annexb_len == avc_len && memcmp(copy, annexb, avc_len) == 0);
            uint8_t *buf = (uint8_t *)malloc(fi.payload_size);
            size_t size = fi.payload_size;
            if (buf) {
                OK(camwire_frame_copy_payload(f, CAMWIRE_PAYLOAD_ANNEXB, buf, &size));
                CHECK(size == avc_len && memcmp(buf, copy, size) == 0);
                free(buf);
            }
            free(copy);
        }
        audio++;
        camwire_frame_free(f);
    }
    CHECK(audio >= 25 && video >= 1);
    printf("stream audio: %d PCMU frames (%.2f s), %d pictures\n", audio,
           (double)audio_samples / 8000.0, video);
    /* Wall-clock time follows the samples: from the first frame to the last, the samples
     * before the last one, within 100 ms (a sender report may re-anchor the clock). */
    if (audio >= 2) {
        double span = (double)(last_wall - first_wall) / 1e6;
        double media = (double)(audio_samples - last_samples) / 8000.0;
        CHECK(media > 0.5 && fabs(span - media) < 0.1);
    }
    camwire_stream_free(s);
}

/* ---- frame callbacks ---- */
typedef struct {
    int frames;
    int in_callback;
    int overlap;
    int frees;
    int end_status;
    int null_frames;
    int close_after; /* close the stream from inside on this frame (0 = never) */
    int wrong_thread_checked;
    camwire_stream *self;
    camwire_stream *other;
    camwire_context *ctx;
} cb_state;

static void on_frame(void *user_data, camwire_frame *frame, camwire_result status) {
    cb_state *st = (cb_state *)user_data;
    if (__atomic_exchange_n(&st->in_callback, 1, __ATOMIC_SEQ_CST)) add(&st->overlap, 1);
    if (!frame) {
        add(&st->null_frames, 1);
        st->end_status = status;
    } else {
        camwire_frame_info fi;
        camwire_struct_init(&fi, sizeof fi);
        if (status != CAMWIRE_OK || camwire_frame_get_info2(frame, &fi) != CAMWIRE_OK ||
            fi.payload_size == 0)
            add(&st->overlap, 100);
        const uint8_t *d;
        size_t n;
        if (camwire_frame_payload(frame, CAMWIRE_PAYLOAD_ANNEXB, &d, &n) != CAMWIRE_OK || n == 0)
            add(&st->overlap, 100);
        camwire_frame_free(frame); /* borrowed: ignored */
        int count = __atomic_add_fetch(&st->frames, 1, __ATOMIC_SEQ_CST);
        if (count == 2 && st->ctx) {
            /* Blocking calls and context_free from a callback thread are refused. */
            camwire_frame *g = NULL;
            camwire_stream_info *i = NULL;
            st->wrong_thread_checked =
                (st->other ? camwire_stream_next_frame(st->other, 10, &g) ==
                                 CAMWIRE_E_WRONG_THREAD
                           : 1) &&
                camwire_context_free(st->ctx) == CAMWIRE_E_WRONG_THREAD &&
                camwire_stream_get_info(st->self, 10, &i) == CAMWIRE_OK && g == NULL;
            camwire_stream_info_free(i);
        }
        if (st->close_after && count == st->close_after)
            st->wrong_thread_checked = camwire_stream_close(st->self) == CAMWIRE_OK;
    }
    __atomic_store_n(&st->in_callback, 0, __ATOMIC_SEQ_CST);
}

static void free_state(void *user_data) { add(&((cb_state *)user_data)->frees, 1); }

static int wait_for(int *counter, int at_least, long timeout_ms) {
    for (long t = 0; t < timeout_ms; t += 10) {
        if (load(counter) >= at_least) return 1;
        sleep_ms(10);
    }
    return load(counter) >= at_least;
}

static void test_stream_callback(camwire_context *ctx, const char *url) {
    camwire_stream *s = NULL, *other = NULL;
    OK(camwire_stream_open2(ctx, url, NULL, &s));
    OK(camwire_stream_open2(ctx, url, NULL, &other));
    if (!s || !other) return;
    cb_state st;
    memset(&st, 0, sizeof st);
    st.self = s;
    st.other = other;
    st.ctx = ctx;
    /* NULL callback: refused, and user_data is still finalized once. */
    cb_state bad;
    memset(&bad, 0, sizeof bad);
    EXPECT(camwire_stream_set_frame_callback(s, NULL, &bad, free_state), CAMWIRE_E_NULL_POINTER);
    CHECK(bad.frees == 1);
    EXPECT(camwire_stream_set_frame_callback(NULL, on_frame, &bad, free_state),
           CAMWIRE_E_NULL_POINTER);
    CHECK(bad.frees == 2);

    OK(camwire_stream_set_frame_callback(s, on_frame, &st, free_state));
    EXPECT(camwire_stream_set_frame_callback(s, on_frame, &bad, NULL), CAMWIRE_E_BUSY);
    camwire_frame *f = NULL;
    EXPECT(camwire_stream_next_frame(s, 100, &f), CAMWIRE_E_BUSY);
    CHECK(wait_for(&st.frames, 30, 10000));
    camwire_stream_info *info = NULL;
    OK(camwire_stream_get_info(s, 0, &info));
    camwire_stream_info_free(info);
    OK(camwire_stream_close(s));
    int after_close = load(&st.frames);
    CHECK(load(&st.frees) == 1); /* finalized before close returned */
    sleep_ms(200);
    CHECK(load(&st.frames) == after_close); /* never after close returns */
    CHECK(st.overlap == 0);
    CHECK(st.wrong_thread_checked == 1);
    CHECK(st.null_frames == 0);
    OK(camwire_stream_close(s));
    camwire_stream_free(s);

    /* Closing from inside the callback: no call after that one. */
    cb_state st2;
    memset(&st2, 0, sizeof st2);
    st2.self = other;
    st2.close_after = 3;
    OK(camwire_stream_set_frame_callback(other, on_frame, &st2, free_state));
    CHECK(wait_for(&st2.frees, 1, 10000));
    CHECK(st2.frames == 3 && st2.wrong_thread_checked == 1 && st2.overlap == 0);
    EXPECT(camwire_stream_next_frame(other, 10, &f), CAMWIRE_E_CLOSED);
    camwire_stream_free(other);
}

/* A sim that stops after 2 s of media: pulls end with END_OF_STREAM, callbacks get a final
 * NULL frame with the reason. */
static void test_end_of_stream(camwire_context *ctx) {
    camwire_sim_options o;
    OK(camwire_sim_options_init(&o, sizeof o));
    o.realtime = false;
    o.loop_clip = false;
    o.max_duration_ms = 2000;
    camwire_sim *sim = NULL;
    OK(camwire_sim_start2(&o, &sim));
    if (!sim) return;
    camwire_stream *s = NULL;
    OK(camwire_stream_open2(ctx, camwire_sim_url(sim), NULL, &s));
    int n = 0;
    camwire_result rc = CAMWIRE_OK;
    while (s && n < 1000) {
        camwire_frame *f = NULL;
        rc = camwire_stream_next_frame(s, 5000, &f);
        if (rc != CAMWIRE_OK) break;
        camwire_frame_free(f);
        n++;
    }
    CHECK(rc == CAMWIRE_E_END_OF_STREAM);
    CHECK(n >= 45 && n <= 55);
    camwire_stream_free(s);

    s = NULL;
    OK(camwire_stream_open2(ctx, camwire_sim_url(sim), NULL, &s));
    cb_state st;
    memset(&st, 0, sizeof st);
    st.self = s;
    OK(camwire_stream_set_frame_callback(s, on_frame, &st, free_state));
    CHECK(wait_for(&st.frees, 1, 10000));
    CHECK(st.null_frames == 1 && st.end_status == CAMWIRE_E_END_OF_STREAM);
    CHECK(st.frames >= 45 && st.overlap == 0);
    camwire_stream_free(s);
    camwire_sim_free(sim);
}

static void test_sim_and_streams(camwire_context *ctx) {
    camwire_sim *sim = NULL;
    EXPECT(camwire_sim_start2(NULL, NULL), CAMWIRE_E_NULL_POINTER);
    EXPECT(camwire_sim_options_init(NULL, sizeof(camwire_sim_options)), CAMWIRE_E_NULL_POINTER);
    camwire_sim_options o;
    OK(camwire_sim_options_init(&o, sizeof o));
    o.realtime = false;
    OK(camwire_sim_start2(&o, &sim));
    if (!sim) return;
    const char *url = camwire_sim_url(sim);
    CHECK(strncmp(url, "rtsp://127.0.0.1:", 17) == 0);
    test_stream_pull(ctx, url, 60, 0);
    test_stream_callback(ctx, url);
    camwire_sim_free(sim);

    /* With Digest auth: missing and wrong credentials fail without leaking them. */
    OK(camwire_sim_options_init(&o, sizeof o));
    o.realtime = false;
    o.username = "admin";
    o.password = SIM_PASS;
    sim = NULL;
    OK(camwire_sim_start2(&o, &sim));
    if (sim) test_stream_pull(ctx, camwire_sim_url(sim), 10, 1);
    camwire_sim_free(sim);

    test_end_of_stream(ctx);

    /* Nobody listening. */
    camwire_stream *s = NULL;
    camwire_stream_options so;
    OK(camwire_stream_options_init(&so, sizeof so));
    so.connect_timeout_ms = 2000;
    camwire_result rc = camwire_stream_open2(ctx, "rtsp://127.0.0.1:1/stream", &so, &s);
    CHECK(rc == CAMWIRE_E_CONNECTION || rc == CAMWIRE_E_TIMEOUT);
    CHECK(s == NULL);
}

static void test_discovery(camwire_context *ctx, const char *unicast) {
    camwire_device_list *l = NULL;
    EXPECT(camwire_discover(NULL, 100, NULL, &l), CAMWIRE_E_NULL_POINTER);
    EXPECT(camwire_discover(ctx, 100, NULL, NULL), CAMWIRE_E_NULL_POINTER);
    EXPECT(camwire_discover(ctx, 0, NULL, &l), CAMWIRE_E_INVALID_ARGUMENT);
    EXPECT(camwire_discover_unicast(ctx, NULL, 100, &l), CAMWIRE_E_NULL_POINTER);
    EXPECT(camwire_discover_unicast(ctx, "127.0.0.1", 0, &l), CAMWIRE_E_INVALID_ARGUMENT);
    /* Multicast may find nothing here (no multicast on loopback): only the call is checked. */
    camwire_result rc = camwire_discover(ctx, 300, NULL, &l);
    CHECK(rc == CAMWIRE_OK || rc == CAMWIRE_E_CONNECTION);
    if (rc == CAMWIRE_OK) {
        camwire_discovered_device d;
        camwire_struct_init(&d, sizeof d);
        size_t n = camwire_device_list_len(l);
        EXPECT(camwire_device_list_get2(l, n, &d), CAMWIRE_E_OUT_OF_RANGE);
        camwire_device_list_free(l);
    }
    if (!unicast) return;
    l = NULL;
    OK(camwire_discover_unicast(ctx, unicast, 1000, &l));
    CHECK(camwire_device_list_len(l) >= 1);
    camwire_discovered_device d;
    camwire_struct_init(&d, sizeof d);
    EXPECT(camwire_device_list_get2(NULL, 0, &d), CAMWIRE_E_NULL_POINTER);
    EXPECT(camwire_device_list_get2(l, 0, NULL), CAMWIRE_E_NULL_POINTER);
    if (camwire_device_list_len(l) >= 1) {
        OK(camwire_device_list_get2(l, 0, &d));
        CHECK(d.endpoint_reference && strncmp(d.endpoint_reference, "urn:uuid:", 9) == 0);
        CHECK(d.xaddr && strncmp(d.xaddr, "http://", 7) == 0);
        CHECK(d.xaddrs && strstr(d.xaddrs, d.xaddr) != NULL);
        CHECK(d.scopes != NULL);
    }
    camwire_device_list_free(l);
}


/* ---- recorder, ranges, export, verify ---- */
typedef struct {
    int connected, segments, stopped, errors, other, frees, wrong_thread;
    camwire_recorder *rec;
    char first_segment[512];
} rec_state;

static void on_event(void *user_data, const camwire_recorder_event *e) {
    rec_state *st = (rec_state *)user_data;
    if (!e || !e->camera || e->struct_size != sizeof *e ||
        !CAMWIRE_HAS_FIELD(e, camwire_recorder_event, bytes)) {
        add(&st->other, 1000);
        return;
    }
    switch (e->kind) {
    case CAMWIRE_EVENT_CONNECTED:
        if (add_fetch(&st->connected) == 1)
            st->wrong_thread = camwire_recorder_stop(st->rec) == CAMWIRE_E_WRONG_THREAD;
        break;
    case CAMWIRE_EVENT_SEGMENT_CLOSED:
        if (!e->message || e->end_us <= e->start_us || e->frames == 0 || e->bytes == 0)
            add(&st->other, 1000);
        else if (add_fetch(&st->segments) == 1)
            snprintf(st->first_segment, sizeof st->first_segment, "%s", e->message);
        break;
    case CAMWIRE_EVENT_STOPPED: add(&st->stopped, 1); break;
    case CAMWIRE_EVENT_ERROR: add(&st->errors, 1); break;
    default: add(&st->other, 1); break;
    }
}

static void free_rec_state(void *user_data) { add(&((rec_state *)user_data)->frees, 1); }

static int camera_frames(camwire_recorder *rec, const char *id, camwire_camera_status *out) {
    camwire_status_list *l = NULL;
    if (camwire_recorder_get_status(rec, &l) != CAMWIRE_OK) return -1;
    int frames = -1;
    for (size_t i = 0; i < camwire_status_list_len(l); i++) {
        camwire_camera_status cs;
        camwire_struct_init(&cs, sizeof cs);
        if (camwire_status_list_get2(l, i, &cs) == CAMWIRE_OK && strcmp(cs.id, id) == 0) {
            frames = (int)cs.frames;
            if (out) *out = cs; /* strings not used after the free below */
        }
    }
    camwire_status_list_free(l);
    return frames;
}

static void test_recorder_and_export(camwire_context *ctx, const char *out_dir) {
    char root[600], clip[700];
    snprintf(root, sizeof root, "%s/rec", out_dir);
    snprintf(clip, sizeof clip, "%s/clip.mp4", out_dir);

    camwire_sim_options so;
    OK(camwire_sim_options_init(&so, sizeof so));
    camwire_sim *sim = NULL;
    OK(camwire_sim_start2(&so, &sim));
    if (!sim) return;
    const char *url = camwire_sim_url(sim);

    camwire_recorder_options ro;
    EXPECT(camwire_recorder_options_init(NULL, sizeof(camwire_recorder_options)), CAMWIRE_E_NULL_POINTER);
    OK(camwire_recorder_options_init(&ro, sizeof ro));
    camwire_recorder *rec = NULL;
    EXPECT(camwire_recorder_new2(NULL, root, &ro, &rec), CAMWIRE_E_NULL_POINTER);
    EXPECT(camwire_recorder_new2(ctx, NULL, &ro, &rec), CAMWIRE_E_NULL_POINTER);
    EXPECT(camwire_recorder_new2(ctx, root, &ro, NULL), CAMWIRE_E_NULL_POINTER);
    EXPECT(camwire_recorder_new2(ctx, "", &ro, &rec), CAMWIRE_E_INVALID_ARGUMENT);
    ro.fsync = 9;
    EXPECT(camwire_recorder_new2(ctx, root, &ro, &rec), CAMWIRE_E_INVALID_ARGUMENT);
    ro.fsync = CAMWIRE_FSYNC_INTERVAL;
    ro.fsync_interval_ms = 0;
    EXPECT(camwire_recorder_new2(ctx, root, &ro, &rec), CAMWIRE_E_INVALID_ARGUMENT);
    ro.fsync = CAMWIRE_FSYNC_NEVER;
    ro.segment_secs = 0;
    EXPECT(camwire_recorder_new2(ctx, root, &ro, &rec), CAMWIRE_E_INVALID_ARGUMENT);
    ro.segment_secs = 1;
    ro.fragment_ms = 500;
    ro.retention_max_age_secs = 3600;
    CHECK(rec == NULL);
    OK(camwire_recorder_new2(ctx, root, &ro, &rec));
    if (!rec) {
        camwire_sim_free(sim);
        return;
    }

    rec_state st;
    memset(&st, 0, sizeof st);
    st.rec = rec;
    rec_state bad;
    memset(&bad, 0, sizeof bad);
    EXPECT(camwire_recorder_set_event_callback2(rec, NULL, &bad, free_rec_state),
           CAMWIRE_E_NULL_POINTER);
    CHECK(bad.frees == 1);
    OK(camwire_recorder_set_event_callback2(rec, on_event, &st, free_rec_state));
    EXPECT(camwire_recorder_set_event_callback2(rec, on_event, &bad, NULL), CAMWIRE_E_BUSY);

    EXPECT(camwire_recorder_add_camera2(NULL, "cam1", url, NULL), CAMWIRE_E_NULL_POINTER);
    EXPECT(camwire_recorder_add_camera2(rec, NULL, url, NULL), CAMWIRE_E_NULL_POINTER);
    EXPECT(camwire_recorder_add_camera2(rec, "cam1", NULL, NULL), CAMWIRE_E_NULL_POINTER);
    EXPECT(camwire_recorder_add_camera2(rec, "../escape", url, NULL), CAMWIRE_E_INVALID_ARGUMENT);
    OK(camwire_recorder_add_camera2(rec, "cam1", url, NULL));
    EXPECT(camwire_recorder_add_camera2(rec, "cam1", url, NULL), CAMWIRE_E_ALREADY_EXISTS);
    OK(camwire_recorder_add_camera2(rec, "cam2", url, NULL));

    /* ~3.5 s of recording at 25 fps. */
    int frames = 0;
    for (int i = 0; i < 300 && frames < 88; i++) {
        sleep_ms(50);
        frames = camera_frames(rec, "cam1", NULL);
    }
    CHECK(frames >= 88);
    camwire_status_list *sl = NULL;
    EXPECT(camwire_recorder_get_status(rec, NULL), CAMWIRE_E_NULL_POINTER);
    OK(camwire_recorder_get_status(rec, &sl));
    CHECK(camwire_status_list_len(sl) == 2);
    camwire_camera_status cs;
    camwire_struct_init(&cs, sizeof cs);
    EXPECT(camwire_status_list_get2(sl, 2, &cs), CAMWIRE_E_OUT_OF_RANGE);
    EXPECT(camwire_status_list_get2(sl, 0, NULL), CAMWIRE_E_NULL_POINTER);
    OK(camwire_status_list_get2(sl, 0, &cs));
    CHECK(strcmp(cs.id, "cam1") == 0 && cs.state == CAMWIRE_CAMERA_RECORDING);
    CHECK(cs.files >= 1 && cs.bytes > 0 && cs.current_file != NULL && cs.last_error == NULL);
    camwire_status_list_free(sl);

    EXPECT(camwire_recorder_remove_camera(rec, "nope"), CAMWIRE_E_NOT_FOUND);
    EXPECT(camwire_recorder_remove_camera(rec, NULL), CAMWIRE_E_NULL_POINTER);
    OK(camwire_recorder_remove_camera(rec, "cam1"));
    CHECK(camera_frames(rec, "cam1", NULL) == -1);
    OK(camwire_recorder_stop(rec)); /* cam2 finalized here */
    OK(camwire_recorder_stop(rec));
    EXPECT(camwire_recorder_stop(NULL), CAMWIRE_E_NULL_POINTER);
    CHECK(load(&st.frees) == 1); /* event thread done before stop returned */
    CHECK(st.connected >= 2 && st.segments >= 2 && st.stopped >= 2 && st.other == 0);
    CHECK(st.wrong_thread == 1);
    EXPECT(camwire_recorder_add_camera2(rec, "cam3", url, NULL), CAMWIRE_E_CLOSED);
    EXPECT(camwire_recorder_get_status(rec, &sl), CAMWIRE_E_CLOSED);
    camwire_recorder_free(rec);
    camwire_recorder_free(NULL);
    camwire_sim_free(sim);

    /* Ranges. */
    camwire_range_list *rl = NULL;
    EXPECT(camwire_list_ranges(NULL, "cam1", CAMWIRE_TIME_MIN, CAMWIRE_TIME_MAX, &rl),
           CAMWIRE_E_NULL_POINTER);
    EXPECT(camwire_list_ranges(root, "cam1", CAMWIRE_TIME_MIN, CAMWIRE_TIME_MAX, NULL),
           CAMWIRE_E_NULL_POINTER);
    EXPECT(camwire_list_ranges(root, "../x", CAMWIRE_TIME_MIN, CAMWIRE_TIME_MAX, &rl),
           CAMWIRE_E_INVALID_ARGUMENT);
    EXPECT(camwire_list_ranges(root, "cam1", 10, 5, &rl), CAMWIRE_E_INVALID_ARGUMENT);
    EXPECT(camwire_list_ranges(root, "nobody", CAMWIRE_TIME_MIN, CAMWIRE_TIME_MAX, &rl),
           CAMWIRE_E_NOT_FOUND);
    OK(camwire_list_ranges(root, "cam1", CAMWIRE_TIME_MIN, CAMWIRE_TIME_MAX, &rl));
    CHECK(camwire_range_list_len(rl) >= 1);
    camwire_time_range r;
    memset(&r, 0, sizeof r);
    camwire_struct_init(&r, sizeof r);
    EXPECT(camwire_range_list_get2(rl, 99, &r), CAMWIRE_E_OUT_OF_RANGE);
    EXPECT(camwire_range_list_get2(rl, 0, NULL), CAMWIRE_E_NULL_POINTER);
    OK(camwire_range_list_get2(rl, 0, &r));
    CHECK(r.end_us - r.start_us > 2000000);
    camwire_gap g;
    camwire_struct_init(&g, sizeof g);
    size_t gaps = camwire_range_list_gap_count(rl);
    EXPECT(camwire_range_list_gap2(rl, gaps, &g), CAMWIRE_E_OUT_OF_RANGE);
    CHECK(camwire_range_list_len(NULL) == 0 && camwire_range_list_gap_count(NULL) == 0);
    camwire_range_list_free(rl);
    camwire_range_list_free(NULL);

    /* Export the middle of the range, then verify it. */
    camwire_export_result *er = NULL;
    int64_t t1 = r.start_us + 500000, t2 = r.end_us - 500000;
    EXPECT(camwire_export(NULL, "cam1", t1, t2, clip, CAMWIRE_EXPORT_PROGRESSIVE, &er),
           CAMWIRE_E_NULL_POINTER);
    EXPECT(camwire_export(root, "cam1", t1, t2, clip, CAMWIRE_EXPORT_PROGRESSIVE, NULL),
           CAMWIRE_E_NULL_POINTER);
    EXPECT(camwire_export(root, "cam1", t2, t1, clip, CAMWIRE_EXPORT_PROGRESSIVE, &er),
           CAMWIRE_E_INVALID_ARGUMENT);
    EXPECT(camwire_export(root, "cam1", t1, t2, clip, 5, &er), CAMWIRE_E_INVALID_ARGUMENT);
    EXPECT(camwire_export(root, "nobody", t1, t2, clip, CAMWIRE_EXPORT_PROGRESSIVE, &er),
           CAMWIRE_E_NOT_FOUND);
    OK(camwire_export(root, "cam1", t1, t2, clip, CAMWIRE_EXPORT_PROGRESSIVE, &er));
    camwire_export_view ev;
    camwire_struct_init(&ev, sizeof ev);
    EXPECT(camwire_export_result_get2(er, NULL), CAMWIRE_E_NULL_POINTER);
    OK(camwire_export_result_get2(er, &ev));
    CHECK(ev.output && strcmp(ev.output, clip) == 0);
    CHECK(ev.manifest_path && strstr(ev.manifest_path, ".manifest.json") != NULL);
    CHECK(ev.manifest_json && strstr(ev.manifest_json, "camwire-export-manifest/1") != NULL);
    CHECK(ev.frames >= 25 && ev.actual_end_us > ev.actual_start_us);
    camwire_export_result_free(er);
    camwire_export_result_free(NULL);
    er = NULL;
    EXPECT(camwire_export(root, "cam1", t1, t2, clip, CAMWIRE_EXPORT_FRAGMENTED, &er),
           CAMWIRE_E_ALREADY_EXISTS);

    camwire_verify_report *vr = NULL;
    camwire_verify_view vv;
    camwire_struct_init(&vv, sizeof vv);
    EXPECT(camwire_verify(NULL, NULL, &vr), CAMWIRE_E_NULL_POINTER);
    EXPECT(camwire_verify(clip, NULL, NULL), CAMWIRE_E_NULL_POINTER);
    OK(camwire_verify(clip, NULL, &vr));
    EXPECT(camwire_verify_report_get2(NULL, &vv), CAMWIRE_E_NULL_POINTER);
    OK(camwire_verify_report_get2(vr, &vv));
    CHECK(vv.ok && vv.output_matches && vv.sources >= 1 && vv.missing_sources == 0);
    CHECK(vv.problems && vv.problems[0] == 0);
    camwire_verify_report_free(vr);
    camwire_verify_report_free(NULL);
    /* Tamper with one byte near the end: verification must say so. */
    FILE *fp = fopen(clip, "r+b");
    CHECK(fp != NULL);
    if (fp) {
        fseek(fp, -100, SEEK_END);
        int c = fgetc(fp);
        fseek(fp, -100, SEEK_END);
        fputc(c ^ 0x55, fp);
        fclose(fp);
    }
    vr = NULL;
    OK(camwire_verify(clip, root, &vr));
    OK(camwire_verify_report_get2(vr, &vv));
    CHECK(!vv.ok && !vv.output_matches && strlen(vv.problems) > 0);
    camwire_verify_report_free(vr);
    vr = NULL;
    EXPECT(camwire_verify(root, NULL, &vr), CAMWIRE_E_VERIFY_FAILED); /* no manifest */
}

static void test_device(camwire_context *ctx, const char *xaddr) {
    camwire_device *dev = NULL;
    EXPECT(camwire_device_open(NULL, "x", NULL, NULL, 100, &dev), CAMWIRE_E_NULL_POINTER);
    EXPECT(camwire_device_open(ctx, NULL, NULL, NULL, 100, &dev), CAMWIRE_E_NULL_POINTER);
    EXPECT(camwire_device_open(ctx, "127.0.0.1:1", NULL, NULL, 100, NULL),
           CAMWIRE_E_NULL_POINTER);
    EXPECT(camwire_device_open(ctx, "", NULL, NULL, 100, &dev), CAMWIRE_E_INVALID_ARGUMENT);
    camwire_result rc = camwire_device_open(ctx, "127.0.0.1:1", NULL, NULL, 1000, &dev);
    CHECK(rc == CAMWIRE_E_CONNECTION || rc == CAMWIRE_E_TIMEOUT);
    CHECK(dev == NULL);

    /* HTTPS policies: one at a time, well-formed; then the connection is tried. */
    const char *pin = "AB:CD:AB:CD:AB:CD:AB:CD:AB:CD:AB:CD:AB:CD:AB:CD:"
                      "AB:CD:AB:CD:AB:CD:AB:CD:AB:CD:AB:CD:AB:CD:AB:CD";
    const char *https = "https://127.0.0.1:1/onvif/device_service";
    EXPECT(camwire_device_open_tls(ctx, https, NULL, NULL, 100, pin, NULL, true, &dev),
           CAMWIRE_E_INVALID_ARGUMENT);
    EXPECT(camwire_device_open_tls(ctx, https, NULL, NULL, 100, "ab:cd", NULL, false, &dev),
           CAMWIRE_E_INVALID_ARGUMENT);
    EXPECT(camwire_device_open_tls(ctx, https, NULL, NULL, 100, NULL, "/nonexistent/ca.pem",
                                   false, &dev),
           CAMWIRE_E_IO);
    EXPECT(camwire_device_open_tls(ctx, https, NULL, NULL, 100, NULL, NULL, true, NULL),
           CAMWIRE_E_NULL_POINTER);
    rc = camwire_device_open_tls(ctx, https, NULL, NULL, 1000, pin, NULL, false, &dev);
    CHECK(rc == CAMWIRE_E_CONNECTION || rc == CAMWIRE_E_TIMEOUT);
    rc = camwire_device_open_tls(ctx, https, NULL, NULL, 1000, NULL, NULL, true, &dev);
    CHECK(rc == CAMWIRE_E_CONNECTION || rc == CAMWIRE_E_TIMEOUT);
    CHECK(dev == NULL);
    if (!xaddr) return;

    EXPECT(camwire_device_open(ctx, xaddr, ONVIF_USER, "not-the-password", 5000, &dev),
           CAMWIRE_E_AUTH);
    CHECK(strstr(camwire_last_error_message(), "not-the-password") == NULL);
    OK(camwire_device_open(ctx, xaddr, ONVIF_USER, ONVIF_PASS, 5000, &dev));
    if (!dev) return;

    camwire_device_info *info = NULL;
    EXPECT(camwire_device_get_information(NULL, &info), CAMWIRE_E_NULL_POINTER);
    EXPECT(camwire_device_get_information(dev, NULL), CAMWIRE_E_NULL_POINTER);
    OK(camwire_device_get_information(dev, &info));
    camwire_device_info_view iv;
    camwire_struct_init(&iv, sizeof iv);
    EXPECT(camwire_device_info_get2(info, NULL), CAMWIRE_E_NULL_POINTER);
    EXPECT(camwire_device_info_get2(NULL, &iv), CAMWIRE_E_NULL_POINTER);
    OK(camwire_device_info_get2(info, &iv));
    CHECK(strcmp(iv.manufacturer, "Test & Sons") == 0);
    CHECK(strcmp(iv.model, "SimCam-1") == 0 && strcmp(iv.serial_number, "SN-42") == 0);
    CHECK(strcmp(iv.firmware_version, "1.2.3") == 0 && strcmp(iv.hardware_id, "hw-7") == 0);
    camwire_device_info_free(info);

    camwire_profile_list *pl = NULL;
    EXPECT(camwire_device_get_profiles(dev, NULL), CAMWIRE_E_NULL_POINTER);
    OK(camwire_device_get_profiles(dev, &pl));
    CHECK(camwire_profile_list_len(pl) >= 1);
    camwire_profile p;
    memset(&p, 0, sizeof p);
    camwire_struct_init(&p, sizeof p);
    EXPECT(camwire_profile_list_get2(pl, 99, &p), CAMWIRE_E_OUT_OF_RANGE);
    EXPECT(camwire_profile_list_get2(pl, 0, NULL), CAMWIRE_E_NULL_POINTER);
    OK(camwire_profile_list_get2(pl, 0, &p));
    CHECK(strcmp(p.token, "profile_0") == 0 && strcmp(p.name, "MainProfile") == 0);
    CHECK(p.encoding && strcmp(p.encoding, "H264") == 0);
    CHECK(p.width == 1920 && p.height == 1080 && p.fps == 30.0);
    CHECK(p.stream_uri && strncmp(p.stream_uri, "rtsp://", 7) == 0);
    CHECK(p.snapshot_uri && strstr(p.snapshot_uri, "/snapshot/profile_0.jpg") != NULL);

    /* Snapshot: size query, tiny buffer, big buffer, owned buffer. */
    size_t size = 0;
    EXPECT(camwire_device_snapshot(dev, p.token, NULL, &size), CAMWIRE_E_BUFFER_TOO_SMALL);
    CHECK(size > 100);
    size_t need = size;
    uint8_t tiny[8];
    size = sizeof tiny;
    EXPECT(camwire_device_snapshot(dev, p.token, tiny, &size), CAMWIRE_E_BUFFER_TOO_SMALL);
    CHECK(size == need);
    EXPECT(camwire_device_snapshot(dev, p.token, tiny, NULL), CAMWIRE_E_NULL_POINTER);
    EXPECT(camwire_device_snapshot(dev, NULL, tiny, &size), CAMWIRE_E_NULL_POINTER);
    uint8_t *img = (uint8_t *)malloc(need + 16);
    size = need + 16;
    OK(camwire_device_snapshot(dev, p.token, img, &size));
    CHECK(size == need && img[0] == 0xFF && img[1] == 0xD8);
    camwire_buffer *b = NULL;
    EXPECT(camwire_device_snapshot_alloc(dev, p.token, NULL), CAMWIRE_E_NULL_POINTER);
    OK(camwire_device_snapshot_alloc(dev, p.token, &b));
    CHECK(camwire_buffer_len(b) == need && memcmp(camwire_buffer_data(b), img, need) == 0);
    camwire_buffer_free(b);
    free(img);
    camwire_profile_list_free(pl);

    OK(camwire_device_close(dev));
    OK(camwire_device_close(dev));
    EXPECT(camwire_device_close(NULL), CAMWIRE_E_NULL_POINTER);
    EXPECT(camwire_device_get_information(dev, &info), CAMWIRE_E_CLOSED);
    EXPECT(camwire_device_get_profiles(dev, &pl), CAMWIRE_E_CLOSED);
    camwire_device_free(dev);
}

/* Freeing the context closes what is still open: callbacks are finished and finalized when it
 * returns; handles stay valid to free and answer CAMWIRE_E_CLOSED. */
static void test_context_free_closes_all(void) {
    camwire_context *ctx = NULL;
    OK(camwire_context_new2(NULL, &ctx));
    camwire_sim_options o;
    OK(camwire_sim_options_init(&o, sizeof o));
    camwire_sim *sim = NULL;
    OK(camwire_sim_start2(&o, &sim));
    if (!ctx || !sim) return;
    camwire_stream *a = NULL, *b = NULL;
    OK(camwire_stream_open2(ctx, camwire_sim_url(sim), NULL, &a));
    OK(camwire_stream_open2(ctx, camwire_sim_url(sim), NULL, &b));
    camwire_frame *f = NULL;
    OK(camwire_stream_next_frame(b, 5000, &f));
    cb_state st;
    memset(&st, 0, sizeof st);
    st.self = a;
    OK(camwire_stream_set_frame_callback(a, on_frame, &st, free_state));
    CHECK(wait_for(&st.frames, 3, 5000));
    OK(camwire_context_free(ctx));
    CHECK(load(&st.frees) == 1);
    int n = load(&st.frames);
    sleep_ms(100);
    CHECK(load(&st.frames) == n);
    camwire_frame *g = NULL;
    EXPECT(camwire_stream_next_frame(b, 100, &g), CAMWIRE_E_CLOSED);
    EXPECT(camwire_stream_close(a), CAMWIRE_OK);
    int64_t last = INT64_MIN;
    if (f) check_frame(f, &last); /* a pulled frame outlives its context */
    camwire_frame_free(f);
    camwire_stream_free(a);
    camwire_stream_free(b);
    camwire_sim_free(sim);
}

static long now_ms(void) {
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (long)(t.tv_sec * 1000 + t.tv_nsec / 1000000);
}

/* Growable structs: struct_size checks, a caller with a larger (newer) struct, out-structs
 * zeroed beyond what camwire fills. */
static void test_growable_structs(camwire_context *ctx) {
    camwire_stream_options so;
    EXPECT(camwire_stream_options_init(&so, 0), CAMWIRE_E_INVALID_ARGUMENT);
    EXPECT(camwire_stream_options_init(&so, sizeof(size_t)), CAMWIRE_E_INVALID_ARGUMENT);
    /* One byte short of the first growable layout (which ended at idle_timeout_ms). */
    EXPECT(camwire_stream_options_init(
               &so, offsetof(camwire_stream_options, idle_timeout_ms) + sizeof(uint32_t) - 1),
           CAMWIRE_E_INVALID_ARGUMENT);
    /* That layout itself (before `audio`) is still accepted: `audio` keeps its default. */
    OK(camwire_stream_options_init(&so, offsetof(camwire_stream_options, audio)));
    CHECK(so.struct_size == offsetof(camwire_stream_options, audio));
    EXPECT(camwire_stream_options_init(&so, 1u << 20), CAMWIRE_E_INVALID_ARGUMENT);
    EXPECT(camwire_stream_options_init(NULL, sizeof so), CAMWIRE_E_NULL_POINTER);
    OK(camwire_stream_options_init(&so, sizeof so));
    CHECK(so.struct_size == sizeof so && so.transport == CAMWIRE_TRANSPORT_TCP);
    EXPECT(camwire_struct_init(NULL, 16), CAMWIRE_E_NULL_POINTER);
    EXPECT(camwire_struct_init(&so, 2), CAMWIRE_E_INVALID_ARGUMENT);

    camwire_sim *sim = NULL;
    OK(camwire_sim_start2(NULL, &sim));
    if (!sim) return;
    const char *url = camwire_sim_url(sim);
    camwire_stream *s = NULL;
    /* An uninitialized-looking size is refused, nothing is read past it. */
    so.struct_size = 3;
    EXPECT(camwire_stream_open2(ctx, url, &so, &s), CAMWIRE_E_INVALID_ARGUMENT);
    /* A caller built with a newer header: its extra fields are zero (defaults)... */
    struct {
        camwire_stream_options o;
        uint64_t newer[3];
    } big;
    memset(&big, 0xAB, sizeof big);
    OK(camwire_stream_options_init(&big.o, sizeof big));
    CHECK(big.o.struct_size == sizeof big && big.newer[0] == 0 && big.newer[2] == 0);
    CHECK(big.o.transport == CAMWIRE_TRANSPORT_TCP && big.o.username == NULL);
    OK(camwire_stream_open2(ctx, url, &big.o, &s));
    /* ... and one this library does not know, once set, is refused rather than ignored. */
    camwire_stream *t = NULL;
    big.newer[1] = 7;
    EXPECT(camwire_stream_open2(ctx, url, &big.o, &t), CAMWIRE_E_UNSUPPORTED);
    CHECK(t == NULL);
    if (s) {
        camwire_frame *f = NULL;
        OK(camwire_stream_next_frame(s, 5000, &f));
        struct {
            camwire_frame_info fi;
            uint64_t newer;
        } bf;
        camwire_struct_init(&bf, sizeof bf);
        bf.newer = 0xDEADBEEF;
        OK(camwire_frame_get_info2(f, &bf.fi));
        CHECK(bf.fi.struct_size == sizeof(camwire_frame_info)); /* what camwire filled */
        CHECK(bf.newer == 0 && bf.fi.payload_size > 0);
        camwire_frame_info fi;
        camwire_struct_init(&fi, sizeof fi);
        fi.struct_size = offsetof(camwire_frame_info, nal_count); /* cuts a field */
        EXPECT(camwire_frame_get_info2(f, &fi), CAMWIRE_E_INVALID_ARGUMENT);
        camwire_frame_free(f);
    }
    camwire_stream_free(s);
    camwire_sim_free(sim);
}

static void check_item(const camwire_onvif_event *e, camwire_onvif_items set, size_t i,
                       const char *name, const char *value) {
    const char *n = NULL, *v = NULL;
    OK(camwire_onvif_event_item(e, set, i, &n, &v));
    CHECK(n && v && strcmp(n, name) == 0 && strcmp(v, value) == 0);
}

/* ONVIF events (typed motion and tamper) and PTZ against the onvif-server device. */
static void test_events_and_ptz(camwire_context *ctx, const char *xaddr) {
    if (!xaddr) return;
    camwire_device *dev = NULL;
    OK(camwire_device_open(ctx, xaddr, ONVIF_USER, ONVIF_PASS, 5000, &dev));
    if (!dev) return;

    camwire_pullpoint_options po;
    EXPECT(camwire_pullpoint_options_init(NULL, sizeof po), CAMWIRE_E_NULL_POINTER);
    OK(camwire_pullpoint_options_init(&po, sizeof po));
    CHECK(po.termination_secs == 60 && po.message_limit == 100);
    camwire_pullpoint *pp = NULL;
    EXPECT(camwire_device_subscribe_events(NULL, &po, &pp), CAMWIRE_E_NULL_POINTER);
    EXPECT(camwire_device_subscribe_events(dev, &po, NULL), CAMWIRE_E_NULL_POINTER);
    po.struct_size = 1;
    EXPECT(camwire_device_subscribe_events(dev, &po, &pp), CAMWIRE_E_INVALID_ARGUMENT);
    OK(camwire_pullpoint_options_init(&po, sizeof po));
    OK(camwire_device_subscribe_events(dev, &po, &pp));
    if (pp) {
        camwire_onvif_event *e = NULL;
        EXPECT(camwire_pullpoint_next_event(NULL, 100, &e), CAMWIRE_E_NULL_POINTER);
        EXPECT(camwire_pullpoint_next_event(pp, 100, NULL), CAMWIRE_E_NULL_POINTER);
        EXPECT(camwire_pullpoint_next_event(pp, 0, &e), CAMWIRE_E_TIMEOUT); /* none queued */
        OK(camwire_pullpoint_next_event(pp, 5000, &e));
        camwire_onvif_event_view v;
        camwire_struct_init(&v, sizeof v);
        EXPECT(camwire_onvif_event_get(NULL, &v), CAMWIRE_E_NULL_POINTER);
        EXPECT(camwire_onvif_event_get(e, NULL), CAMWIRE_E_NULL_POINTER);
        OK(camwire_onvif_event_get(e, &v));
        CHECK(v.kind == CAMWIRE_ONVIF_EVENT_TAMPER && v.active);
        CHECK(strcmp(v.topic, "tns1:VideoSource/GlobalSceneChange/ImagingService") == 0);
        CHECK(strcmp(v.topic_path, "VideoSource/GlobalSceneChange/ImagingService") == 0);
        CHECK(v.has_time && v.time_us == 1796558400LL * 1000000LL);
        CHECK(v.property_operation && strcmp(v.property_operation, "Changed") == 0);
        CHECK(v.source_count == 1 && v.key_count == 0 && v.data_count == 1);
        check_item(e, CAMWIRE_ONVIF_ITEMS_SOURCE, 0, "Source", "vs_1");
        check_item(e, CAMWIRE_ONVIF_ITEMS_DATA, 0, "State", "true");
        const char *n = NULL, *val = NULL;
        EXPECT(camwire_onvif_event_item(e, CAMWIRE_ONVIF_ITEMS_DATA, 1, &n, &val),
               CAMWIRE_E_OUT_OF_RANGE);
        EXPECT(camwire_onvif_event_item(e, 7, 0, &n, &val), CAMWIRE_E_INVALID_ARGUMENT);
        EXPECT(camwire_onvif_event_item(e, CAMWIRE_ONVIF_ITEMS_DATA, 0, NULL, &val),
               CAMWIRE_E_NULL_POINTER);
        EXPECT(camwire_onvif_event_item(NULL, CAMWIRE_ONVIF_ITEMS_DATA, 0, &n, &val),
               CAMWIRE_E_NULL_POINTER);
        camwire_onvif_event_free(e);
        camwire_onvif_event_free(NULL);

        /* The rest of that answer is queued: no wait. */
        OK(camwire_pullpoint_next_event(pp, 0, &e));
        OK(camwire_onvif_event_get(e, &v));
        CHECK(v.kind == CAMWIRE_ONVIF_EVENT_MOTION && !v.active);
        CHECK(v.has_time && v.time_us == 1796558401500000LL);
        camwire_onvif_event_free(e);
        OK(camwire_pullpoint_next_event(pp, 0, &e));
        OK(camwire_onvif_event_get(e, &v));
        CHECK(v.kind == CAMWIRE_ONVIF_EVENT_OTHER && !v.has_time && v.time_us == 0);
        CHECK(strcmp(v.topic_path, "Device/Trigger/DigitalInput") == 0);
        CHECK(v.property_operation == NULL && v.key_count == 1);
        check_item(e, CAMWIRE_ONVIF_ITEMS_KEY, 0, "Port", "1");
        check_item(e, CAMWIRE_ONVIF_ITEMS_DATA, 0, "LogicalState", "true");
        camwire_onvif_event_free(e);

        /* Nothing more: the pull waits out its timeout. */
        e = NULL;
        long t0 = now_ms();
        EXPECT(camwire_pullpoint_next_event(pp, 1200, &e), CAMWIRE_E_TIMEOUT);
        long took = now_ms() - t0;
        CHECK(e == NULL && took >= 1000 && took < 8000);

        OK(camwire_pullpoint_close(pp));
        OK(camwire_pullpoint_close(pp));
        EXPECT(camwire_pullpoint_close(NULL), CAMWIRE_E_NULL_POINTER);
        EXPECT(camwire_pullpoint_next_event(pp, 100, &e), CAMWIRE_E_CLOSED);
        camwire_pullpoint_free(pp);
    }
    camwire_pullpoint_free(NULL);

    /* PTZ */
    camwire_ptz_preset_list *pl = NULL;
    EXPECT(camwire_device_ptz_get_presets(dev, NULL, &pl), CAMWIRE_E_NULL_POINTER);
    EXPECT(camwire_device_ptz_get_presets(dev, "profile_0", NULL), CAMWIRE_E_NULL_POINTER);
    EXPECT(camwire_device_ptz_get_presets(NULL, "profile_0", &pl), CAMWIRE_E_NULL_POINTER);
    OK(camwire_device_ptz_get_presets(dev, "profile_0", &pl));
    CHECK(camwire_ptz_preset_list_len(pl) == 2 && camwire_ptz_preset_list_len(NULL) == 0);
    camwire_ptz_preset pr;
    camwire_struct_init(&pr, sizeof pr);
    OK(camwire_ptz_preset_list_get(pl, 0, &pr));
    CHECK(strcmp(pr.token, "1") == 0 && strcmp(pr.name, "Gate") == 0);
    OK(camwire_ptz_preset_list_get(pl, 1, &pr));
    CHECK(strcmp(pr.token, "2") == 0 && strcmp(pr.name, "Loading dock") == 0);
    EXPECT(camwire_ptz_preset_list_get(pl, 2, &pr), CAMWIRE_E_OUT_OF_RANGE);
    EXPECT(camwire_ptz_preset_list_get(pl, 0, NULL), CAMWIRE_E_NULL_POINTER);
    OK(camwire_device_ptz_goto_preset(dev, "profile_0", pr.token));
    camwire_ptz_preset_list_free(pl);
    camwire_ptz_preset_list_free(NULL);
    EXPECT(camwire_device_ptz_goto_preset(dev, "profile_0", "99"), CAMWIRE_E_PROTOCOL);
    EXPECT(camwire_device_ptz_goto_preset(dev, "profile_0", NULL), CAMWIRE_E_NULL_POINTER);
    EXPECT(camwire_device_ptz_continuous_move(dev, "profile_0", NAN, 0, 0, 0),
           CAMWIRE_E_INVALID_ARGUMENT);
    OK(camwire_device_ptz_continuous_move(dev, "profile_0", 0.5f, -0.25f, 0.0f, 1000));
    OK(camwire_device_ptz_stop(dev, "profile_0", true, true));
    EXPECT(camwire_device_ptz_stop(NULL, "profile_0", true, true), CAMWIRE_E_NULL_POINTER);

    OK(camwire_device_close(dev));
    EXPECT(camwire_device_subscribe_events(dev, NULL, &pp), CAMWIRE_E_CLOSED);
    EXPECT(camwire_device_ptz_stop(dev, "profile_0", true, true), CAMWIRE_E_CLOSED);
    EXPECT(camwire_device_ptz_get_presets(dev, "profile_0", &pl), CAMWIRE_E_CLOSED);
    camwire_device_free(dev);
}

/* The sim's ONVIF face: its simulated motion detector through a PullPoint, no PTZ; freeing
 * the context closes the subscription. */
static void test_sim_events(void) {
    CHECK(camwire_sim_xaddr(NULL) == NULL);
    camwire_context *ctx = NULL;
    OK(camwire_context_new2(NULL, &ctx));
    camwire_sim *sim = NULL;
    OK(camwire_sim_start2(NULL, &sim));
    if (!ctx || !sim) return;
    const char *xaddr = camwire_sim_xaddr(sim);
    CHECK(xaddr && strncmp(xaddr, "http://127.0.0.1:", 17) == 0);
    camwire_device *dev = NULL;
    OK(camwire_device_open(ctx, xaddr, NULL, NULL, 5000, &dev));
    camwire_pullpoint *pp = NULL;
    if (dev) {
        camwire_ptz_preset_list *pl = NULL;
        EXPECT(camwire_device_ptz_get_presets(dev, "main", &pl), CAMWIRE_E_UNSUPPORTED);
        EXPECT(camwire_device_ptz_stop(dev, "main", true, true), CAMWIRE_E_UNSUPPORTED);
        OK(camwire_device_subscribe_events(dev, NULL, &pp));
    }
    if (pp) {
        int motion_on = 0, motion_off = 0, other = 0;
        for (int i = 0; i < 3; i++) {
            camwire_onvif_event *e = NULL;
            camwire_result rc = camwire_pullpoint_next_event(pp, 6000, &e);
            CHECK(rc == CAMWIRE_OK);
            if (rc != CAMWIRE_OK) break;
            camwire_onvif_event_view v;
            camwire_struct_init(&v, sizeof v);
            OK(camwire_onvif_event_get(e, &v));
            if (v.kind == CAMWIRE_ONVIF_EVENT_MOTION && v.has_time &&
                strcmp(v.topic_path, "RuleEngine/CellMotionDetector/Motion") == 0) {
                if (v.active) motion_on++;
                else motion_off++;
                check_item(e, CAMWIRE_ONVIF_ITEMS_DATA, 0, "IsMotion", v.active ? "true" : "false");
                if (i == 0)
                    CHECK(v.property_operation &&
                          strcmp(v.property_operation, "Initialized") == 0);
            } else {
                other++;
            }
            camwire_onvif_event_free(e);
        }
        CHECK(motion_off >= 1 && motion_on >= 1 && other == 0);
    }
    OK(camwire_context_free(ctx));
    camwire_onvif_event *e = NULL;
    if (pp) EXPECT(camwire_pullpoint_next_event(pp, 100, &e), CAMWIRE_E_CLOSED);
    if (pp) OK(camwire_pullpoint_close(pp));
    camwire_pullpoint_free(pp);
    camwire_device_free(dev);
    camwire_sim_free(sim);
}

/* ---- uploads: every closed segment lands in the bucket, byte for byte ---- */

/* 1 when the two files hold the same bytes. */
static int same_file(const char *a, const char *b) {
    FILE *fa = fopen(a, "rb"), *fb = fopen(b, "rb");
    int same = fa && fb;
    while (same) {
        int ca = fgetc(fa), cb = fgetc(fb);
        if (ca != cb) same = 0;
        if (ca == EOF || cb == EOF) break;
    }
    if (fa) fclose(fa);
    if (fb) fclose(fb);
    return same;
}

static void test_upload(camwire_context *ctx, const char *out_dir, const char *endpoint,
                        const char *s3_data) {
    char root[600];
    snprintf(root, sizeof root, "%s/rec-upload", out_dir);
    camwire_sim_options so;
    OK(camwire_sim_options_init(&so, sizeof so));
    camwire_sim *sim = NULL;
    OK(camwire_sim_start2(&so, &sim));
    if (!sim) return;

    camwire_recorder_options ro;
    OK(camwire_recorder_options_init(&ro, sizeof ro));
    CHECK(ro.upload_url == NULL && ro.s3_allow_http == 0 && ro.local_retain_secs == 0);
    camwire_recorder *rec = NULL;
    ro.upload_url = "http://not-s3/x";
    EXPECT(camwire_recorder_new2(ctx, root, &ro, &rec), CAMWIRE_E_INVALID_ARGUMENT);
    ro.segment_secs = 1;
    ro.upload_url = "s3://camwire/c-api";
    ro.s3_endpoint = endpoint;
    ro.s3_region = "us-east-1";
    ro.s3_access_key_id = S3_KEY;
    ro.s3_secret_access_key = S3_SECRET;
    ro.s3_allow_http = 1;
    OK(camwire_recorder_new2(ctx, root, &ro, &rec));
    if (!rec) {
        camwire_sim_free(sim);
        return;
    }
    OK(camwire_recorder_add_camera2(rec, "cam", camwire_sim_url(sim), NULL));
    camwire_camera_status cs;
    for (int i = 0; i < 400; i++) {
        sleep_ms(50);
        camwire_struct_init(&cs, sizeof cs);
        if (camera_frames(rec, "cam", &cs) >= 0 && cs.files >= 3) break;
    }
    CHECK(cs.files >= 3);
    /* Stop closes the open segment and waits for the backlog to drain. */
    OK(camwire_recorder_stop(rec));
    camwire_recorder_free(rec);
    camwire_sim_free(sim);

    /* Every local segment has its object, with the same bytes. */
    char cmd[1400];
    snprintf(cmd, sizeof cmd, "cd '%s/cam' && find . -name '*.mp4' | sort", root);
    FILE *ls = popen(cmd, "r");
    CHECK(ls != NULL);
    if (!ls) return;
    char line[512];
    int files = 0, same = 0;
    while (fgets(line, sizeof line, ls)) {
        line[strcspn(line, "\n")] = 0;
        char local[1200], stored[1200];
        snprintf(local, sizeof local, "%s/cam/%s", root, line + 2);
        snprintf(stored, sizeof stored, "%s/camwire/c-api/cam/%s", s3_data, line + 2);
        files++;
        same += same_file(local, stored);
    }
    pclose(ls);
    CHECK(files >= 3 && same == files);

    /* Read back from the bucket (settings from the AWS_* variables the harness set): the
       same ranges as the local root, an export from the objects that verifies, and a byte
       flipped in one object that fails it. */
    const char *s3_root = "s3://camwire/c-api";
    camwire_range_list *local = NULL, *remote = NULL;
    OK(camwire_list_ranges(root, "cam", CAMWIRE_TIME_MIN, CAMWIRE_TIME_MAX, &local));
    OK(camwire_list_ranges(s3_root, "cam", CAMWIRE_TIME_MIN, CAMWIRE_TIME_MAX, &remote));
    camwire_time_range a, b;
    camwire_struct_init(&a, sizeof a);
    camwire_struct_init(&b, sizeof b);
    CHECK(camwire_range_list_len(remote) == camwire_range_list_len(local));
    OK(camwire_range_list_get2(local, 0, &a));
    OK(camwire_range_list_get2(remote, 0, &b));
    CHECK(a.start_us == b.start_us && a.end_us == b.end_us);
    camwire_range_list_free(local);
    camwire_range_list_free(remote);
    char clip[700];
    snprintf(clip, sizeof clip, "%s/clip-from-s3.mp4", out_dir);
    camwire_export_result *er = NULL;
    OK(camwire_export(s3_root, "cam", b.start_us, b.end_us, clip, CAMWIRE_EXPORT_PROGRESSIVE,
                      &er));
    camwire_export_view ev;
    camwire_struct_init(&ev, sizeof ev);
    OK(camwire_export_result_get2(er, &ev));
    CHECK(ev.frames >= 50);
    camwire_export_result_free(er);
    camwire_verify_report *vr = NULL;
    camwire_verify_view vv;
    camwire_struct_init(&vv, sizeof vv);
    OK(camwire_verify(clip, NULL, &vr));
    OK(camwire_verify_report_get2(vr, &vv));
    CHECK(vv.ok && vv.sources >= 1 && vv.missing_sources == 0);
    camwire_verify_report_free(vr);
    /* Flip a byte in the middle of every stored object the clip used. */
    snprintf(cmd, sizeof cmd,
             "for f in $(find '%s/camwire/c-api/cam' -name '*.mp4'); do "
             "printf '\\377' | dd of=\"$f\" bs=1 seek=$(( $(stat -c %%s \"$f\") / 2 )) "
             "conv=notrunc status=none; done", s3_data);
    CHECK(system(cmd) == 0);
    vr = NULL;
    OK(camwire_verify(clip, NULL, &vr));
    OK(camwire_verify_report_get2(vr, &vv));
    CHECK(!vv.ok && strstr(vv.problems, "c-api/cam/") != NULL);
    camwire_verify_report_free(vr);
}

int main(int argc, char **argv) {
    const char *onvif = NULL, *discovery = NULL, *rtsp = NULL, *out_dir = NULL;
    const char *s3 = NULL, *s3_data = NULL, *rtsp_pcmu = NULL;
    for (int i = 1; i + 1 < argc; i += 2) {
        if (strcmp(argv[i], "--onvif") == 0) onvif = argv[i + 1];
        else if (strcmp(argv[i], "--discovery") == 0) discovery = argv[i + 1];
        else if (strcmp(argv[i], "--rtsp") == 0) rtsp = argv[i + 1];
        else if (strcmp(argv[i], "--rtsp-pcmu") == 0) rtsp_pcmu = argv[i + 1];
        else if (strcmp(argv[i], "--out") == 0) out_dir = argv[i + 1];
        else if (strcmp(argv[i], "--s3") == 0) s3 = argv[i + 1];
        else if (strcmp(argv[i], "--s3-data") == 0) s3_data = argv[i + 1];
    }
    test_basics();

    int tag = 42;
    camwire_context_options o;
    OK(camwire_context_options_init(&o, sizeof o));
    o.worker_threads = 2;
    o.log_callback = on_log;
    o.log_user_data = &tag;
    o.log_level = CAMWIRE_LOG_DEBUG;
    camwire_context *ctx = NULL;
    OK(camwire_context_new2(&o, &ctx));
    if (!ctx) return 1;

    test_sim_and_streams(ctx);
    test_discovery(ctx, discovery);
    test_device(ctx, onvif);
    test_growable_structs(ctx);
    test_events_and_ptz(ctx, onvif);
    if (rtsp) test_stream_pull(ctx, rtsp, 30, 0);
    if (rtsp_pcmu) test_stream_audio(ctx, rtsp_pcmu);
    char tmp[] = "/tmp/camwire-test-XXXXXX";
    if (!out_dir) out_dir = mkdtemp(tmp);
    CHECK(out_dir != NULL);
    if (out_dir) test_recorder_and_export(ctx, out_dir);
    if (out_dir && s3 && s3_data) test_upload(ctx, out_dir, s3, s3_data);

    OK(camwire_context_free(ctx));
    CHECK(load(&log_lines) > 0);
    CHECK(load(&log_secret_seen) == 0);
    int lines = load(&log_lines);
    test_context_free_closes_all();
    test_sim_events();
    /* The freed context's log callback is never called again. */
    CHECK(load(&log_lines) == lines);

    printf("%d passed, %d failed\n", passed, failed);
    return failed ? 1 : 0;
}
