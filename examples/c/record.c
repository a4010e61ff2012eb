/* record.c: record one camera into crash-safe MP4 files, printing events and status.
 *
 *   cc record.c $(pkg-config --cflags --libs camwire) -o record
 *   ./record rtsp://192.0.2.10/stream OUT_DIR SECONDS [USER PASSWORD]
 *   ./record --sim OUT_DIR SECONDS        (the built-in simulated camera)
 */
#define _POSIX_C_SOURCE 200809L
#include <camwire.h>
#include <stdio.h>
#include <stdlib.h>
#include <time.h>

static int fail(const char *what, camwire_result rc) {
    fprintf(stderr, "%s: %s (%s)\n", what, camwire_result_str(rc), camwire_last_error_message());
    return 1;
}

/* Runs on camwire's event thread: print, never block. */
static void on_event(void *user_data, const camwire_recorder_event *e) {
    (void)user_data;
    static const char *kinds[] = {"connected", "disconnected", "gap",    "file closed",
                                  "error",     "stopped",      "lagged"};
    printf("[%s] %s%s%s\n", e->camera, e->kind <= CAMWIRE_EVENT_LAGGED ? kinds[e->kind] : "?",
           e->message ? ": " : "", e->message ? e->message : "");
    if (e->kind == CAMWIRE_EVENT_SEGMENT_CLOSED)
        printf("    %llu frames, %llu bytes, %.2f s\n", (unsigned long long)e->frames,
               (unsigned long long)e->bytes, (double)(e->end_us - e->start_us) / 1e6);
    fflush(stdout);
}

int main(int argc, char **argv) {
    if (argc < 4) {
        fprintf(stderr, "usage: %s URL|--sim OUT_DIR SECONDS [USER PASSWORD]\n", argv[0]);
        return 2;
    }
    const char *url = argv[1];
    int seconds = atoi(argv[3]);
    camwire_sim *sim = NULL;
    camwire_result rc;
    if (url[0] == '-') { /* --sim */
        if ((rc = camwire_sim_start2(NULL, &sim)) != CAMWIRE_OK) return fail("sim", rc);
        url = camwire_sim_url(sim);
        printf("simulated camera at %s\n", url);
    }
    camwire_context *ctx = NULL;
    if ((rc = camwire_context_new2(NULL, &ctx)) != CAMWIRE_OK) return fail("context", rc);

    camwire_recorder_options ro;
    camwire_recorder_options_init(&ro, sizeof ro);
    ro.segment_secs = 10;
    camwire_recorder *rec = NULL;
    if ((rc = camwire_recorder_new2(ctx, argv[2], &ro, &rec)) != CAMWIRE_OK)
        return fail("recorder", rc);
    camwire_recorder_set_event_callback2(rec, on_event, NULL, NULL);

    camwire_stream_options so;
    camwire_stream_options_init(&so, sizeof so);
    if (argc >= 6) {
        so.username = argv[4];
        so.password = argv[5];
    }
    if ((rc = camwire_recorder_add_camera2(rec, "cam1", url, &so)) != CAMWIRE_OK)
        return fail("add camera", rc);

    for (int s = 0; s < seconds; s++) {
        struct timespec one = {1, 0};
        nanosleep(&one, NULL);
        camwire_status_list *l = NULL;
        camwire_camera_status cs;
        camwire_struct_init(&cs, sizeof cs);
        if (camwire_recorder_get_status(rec, &l) == CAMWIRE_OK &&
            camwire_status_list_get2(l, 0, &cs) == CAMWIRE_OK)
            printf("%s: %llu frames, %.0f kbit/s, %.1f fps%s%s\n", cs.id,
                   (unsigned long long)cs.frames, cs.bitrate_bps * 8 / 1000, cs.frame_rate,
                   cs.last_error ? ", last error: " : "", cs.last_error ? cs.last_error : "");
        camwire_status_list_free(l);
    }
    /* Writes the open fragment and closes the files; the last events arrive before it returns. */
    camwire_recorder_stop(rec);
    camwire_recorder_free(rec);
    camwire_context_free(ctx);
    camwire_sim_free(sim);
    printf("recordings are under %s/cam1/\n", argv[2]);
    return 0;
}
