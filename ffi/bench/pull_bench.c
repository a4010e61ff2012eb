/* pull_bench.c: what pulling frames costs over the C ABI.
 *
 * Pulls N frames from the built-in sim camera running unpaced (as fast as the socket takes),
 * copying each payload into a caller buffer (the one copy), and reports:
 *   - ns per frame for the whole pull (RTSP/RTP receive + depacketize + hand-over + copy + free)
 *   - ns per frame and GB/s for the ABI part alone: camwire_frame_get_info +
 *     camwire_frame_copy_payload + camwire_frame_free (timed around those calls only)
 *
 *   cargo build --release -p camwire-ffi
 *   cc -O2 -std=c11 -Iinclude ffi/bench/pull_bench.c target/release/libcamwire.a \
 *      -lpthread -ldl -lm -lrt -o /tmp/pull_bench && /tmp/pull_bench [FRAMES]
 */
#define _POSIX_C_SOURCE 200809L
#include "camwire.h"
#include <stdio.h>
#include <stdlib.h>
#include <time.h>

static double now_ns(void) {
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (double)t.tv_sec * 1e9 + (double)t.tv_nsec;
}

int main(int argc, char **argv) {
    int frames = argc > 1 ? atoi(argv[1]) : 20000;
    camwire_sim_options so;
    camwire_sim_options_init(&so, sizeof so);
    so.realtime = false;
    camwire_sim *sim = NULL;
    camwire_context *ctx = NULL;
    camwire_stream *s = NULL;
    if (camwire_sim_start2(&so, &sim) || camwire_context_new2(NULL, &ctx) ||
        camwire_stream_open2(ctx, camwire_sim_url(sim), NULL, &s)) {
        fprintf(stderr, "setup: %s\n", camwire_last_error_message());
        return 1;
    }
    size_t cap = 1 << 20;
    uint8_t *buf = (uint8_t *)malloc(cap);
    double abi_ns = 0, bytes = 0;
    int keyframes = 0;
    /* warm-up: buffers reach their steady size */
    for (int i = 0; i < 200; i++) {
        camwire_frame *f = NULL;
        if (camwire_stream_next_frame(s, 5000, &f)) return 1;
        camwire_frame_free(f);
    }
    double t0 = now_ns();
    for (int i = 0; i < frames; i++) {
        camwire_frame *f = NULL;
        camwire_result rc = camwire_stream_next_frame(s, 5000, &f);
        if (rc) {
            fprintf(stderr, "pull: %s\n", camwire_last_error_message());
            return 1;
        }
        double a = now_ns();
        camwire_frame_info fi;
        camwire_struct_init(&fi, sizeof fi);
        camwire_frame_get_info2(f, &fi);
        size_t n = cap;
        if (camwire_frame_copy_payload(f, CAMWIRE_PAYLOAD_ANNEXB, buf, &n)) return 1;
        camwire_frame_free(f);
        abi_ns += now_ns() - a;
        bytes += (double)n;
        keyframes += fi.keyframe;
    }
    double total = now_ns() - t0;
    printf("%d frames (%d keyframes), %.0f bytes/frame average\n", frames, keyframes,
           bytes / frames);
    printf("whole pull:        %8.0f ns/frame (%.0f frames/s)\n", total / frames,
           frames / (total / 1e9));
    printf("ABI part (info + copy + free): %8.0f ns/frame, copy at %.2f GB/s\n",
           abi_ns / frames, bytes / abi_ns);
    camwire_stream_free(s);
    camwire_context_free(ctx);
    camwire_sim_free(sim);
    free(buf);
    return 0;
}
