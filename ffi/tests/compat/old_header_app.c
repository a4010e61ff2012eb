/*
 * A program built against the camwire 0.1.0 header (camwire_v0_1_0.h, a verbatim copy of
 * include/camwire.h as released), run against today's libcamwire.so.0 by ffi/tests/compat.rs:
 * the 0.1.0 entry points and struct layouts must still work. Context, sim, stream pulls with
 * frame info, recorder options and events, status, ranges, export and verify.
 *
 * usage: old_header_app OUT_DIR      prints "compat: N checks OK" or the failed check
 */
#define _POSIX_C_SOURCE 200809L
#include "camwire_v0_1_0.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

static int checks;
#define CHECK(c)                                                                           \
    do {                                                                                   \
        if (!(c)) {                                                                        \
            fprintf(stderr, "%s:%d: CHECK failed: %s (last error: %s)\n", __FILE__,       \
                    __LINE__, #c, camwire_last_error_message());                           \
            exit(1);                                                                       \
        }                                                                                  \
        checks++;                                                                          \
    } while (0)
#define OK(call) CHECK((call) == CAMWIRE_OK)

static void sleep_ms(long ms) {
    struct timespec t = {ms / 1000, (ms % 1000) * 1000000L};
    nanosleep(&t, NULL);
}

static int connected, segments, bad_events;
static void on_event(void *user_data, const camwire_recorder_event *e) {
    (void)user_data;
    if (!e->camera || strcmp(e->camera, "cam1") != 0) bad_events++;
    else if (e->kind == CAMWIRE_EVENT_CONNECTED) __atomic_add_fetch(&connected, 1, __ATOMIC_SEQ_CST);
    else if (e->kind == CAMWIRE_EVENT_SEGMENT_CLOSED) {
        if (!e->message || e->frames == 0 || e->bytes == 0 || e->end_us <= e->start_us)
            bad_events++;
        __atomic_add_fetch(&segments, 1, __ATOMIC_SEQ_CST);
    }
}

int main(int argc, char **argv) {
    if (argc < 2) return 2;
    char root[512], clip[600];
    snprintf(root, sizeof root, "%s/rec", argv[1]);
    snprintf(clip, sizeof clip, "%s/clip.mp4", argv[1]);

    camwire_context_options co;
    OK(camwire_context_options_default(&co));
    CHECK(co.worker_threads == 0 && co.log_level == CAMWIRE_LOG_INFO && co.log_callback == NULL);
    co.worker_threads = 2;
    camwire_context *ctx = NULL;
    OK(camwire_context_new(&co, &ctx));

    camwire_sim_options so;
    OK(camwire_sim_options_default(&so));
    CHECK(so.port == 0 && so.realtime && so.loop_clip && so.username == NULL);
    camwire_sim *sim = NULL;
    OK(camwire_sim_start(&so, &sim));
    const char *url = camwire_sim_url(sim);

    camwire_stream_options sto;
    OK(camwire_stream_options_default(&sto));
    CHECK(sto.transport == CAMWIRE_TRANSPORT_TCP && sto.connect_timeout_ms == 10000);
    camwire_stream *s = NULL;
    OK(camwire_stream_open(ctx, url, &sto, &s));
    camwire_stream_info *info = NULL;
    OK(camwire_stream_get_info(s, 5000, &info));
    camwire_stream_info_view iv;
    OK(camwire_stream_info_get(info, &iv));
    CHECK(strncmp(iv.codec, "avc1.", 5) == 0 && iv.width > 0 && iv.height > 0);
    CHECK(iv.avcc && iv.avcc_len > 7 && iv.avcc[0] == 1 && iv.transport == CAMWIRE_TRANSPORT_TCP);
    camwire_stream_info_free(info);
    int64_t last = INT64_MIN;
    for (int i = 0; i < 10; i++) {
        camwire_frame *f = NULL;
        OK(camwire_stream_next_frame(s, 5000, &f));
        camwire_frame_info fi;
        OK(camwire_frame_get_info(f, &fi));
        CHECK(fi.payload_size > 4 && fi.nal_count >= 1 && fi.dts == fi.pts && fi.pts > last);
        CHECK(fi.wallclock_us > 1500000000LL * 1000000LL);
        last = fi.pts;
        uint8_t buf[1 << 16];
        size_t size = sizeof buf;
        if (fi.payload_size <= size) {
            OK(camwire_frame_copy_payload(f, CAMWIRE_PAYLOAD_ANNEXB, buf, &size));
            CHECK(size == fi.payload_size && buf[0] == 0 && buf[3] == 1);
        }
        camwire_frame_free(f);
    }
    OK(camwire_stream_close(s));
    camwire_stream_free(s);

    camwire_recorder_options ro;
    OK(camwire_recorder_options_default(&ro));
    CHECK(ro.segment_secs == 60 && ro.fragment_ms == 1000 && ro.reconnect);
    CHECK(ro.fsync == CAMWIRE_FSYNC_FRAGMENT && ro.retention_interval_ms == 60000);
    ro.segment_secs = 1;
    ro.fragment_ms = 500;
    ro.fsync = CAMWIRE_FSYNC_NEVER;
    camwire_recorder *rec = NULL;
    OK(camwire_recorder_new(ctx, root, &ro, &rec));
    OK(camwire_recorder_set_event_callback(rec, on_event, NULL, NULL));
    OK(camwire_recorder_add_camera(rec, "cam1", url, &sto));
    sleep_ms(3500);
    camwire_status_list *sl = NULL;
    OK(camwire_recorder_get_status(rec, &sl));
    CHECK(camwire_status_list_len(sl) == 1);
    camwire_camera_status cs;
    OK(camwire_status_list_get(sl, 0, &cs));
    CHECK(strcmp(cs.id, "cam1") == 0 && cs.frames > 20 && cs.bytes > 0);
    CHECK(cs.state == CAMWIRE_CAMERA_RECORDING && cs.current_file != NULL);
    camwire_status_list_free(sl);
    OK(camwire_recorder_stop(rec));
    camwire_recorder_free(rec);
    CHECK(connected == 1 && segments >= 2 && bad_events == 0);

    camwire_range_list *rl = NULL;
    OK(camwire_list_ranges(root, "cam1", CAMWIRE_TIME_MIN, CAMWIRE_TIME_MAX, &rl));
    CHECK(camwire_range_list_len(rl) >= 1);
    camwire_time_range r;
    OK(camwire_range_list_get(rl, 0, &r));
    CHECK(r.end_us - r.start_us > 1000000);
    camwire_range_list_free(rl);
    camwire_export_result *res = NULL;
    OK(camwire_export(root, "cam1", r.start_us, r.end_us, clip, CAMWIRE_EXPORT_PROGRESSIVE,
                      &res));
    camwire_export_view ev;
    OK(camwire_export_result_get(res, &ev));
    CHECK(ev.frames > 20 && strcmp(ev.output, clip) == 0 && strstr(ev.manifest_json, "sha256"));
    camwire_export_result_free(res);
    camwire_verify_report *vr = NULL;
    OK(camwire_verify(clip, NULL, &vr));
    camwire_verify_view vv;
    OK(camwire_verify_report_get(vr, &vv));
    CHECK(vv.ok && vv.output_matches && vv.sources >= 1 && vv.missing_sources == 0);
    camwire_verify_report_free(vr);

    OK(camwire_context_free(ctx));
    camwire_sim_free(sim);
    printf("compat: %d checks OK\n", checks);
    return 0;
}
